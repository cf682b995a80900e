"""Every claim of the paper, checked against the data: significance, robustness, scope.

    python -m repro claims --data data --out paper/generated

Claims are data (repro/config/claims.yaml, shaped by repro/config/claims.py). Each is judged on
the published figures, to its stated digits within the tolerance applied, and, where data/ holds
one, on a reproduction, on substance (is the stated value inside the reproduction's 95% interval,
has the effect the stated direction, is it significant). Beside each verdict: a significance
test of the change it claims (significance.py, paired.py), its robustness to the other analysis
choices the data hold (robustness.py) and its scope as read. Claims that state one quantity in
different seeds are flagged where their stated values cannot agree; each keeps its own verdict,
and the tally counts that verdict. Writes claims.md, claims.tex and claims.json; the exit status
is non-zero only if a claim could not be evaluated (a kit or data error), never because one fails.

Modules: quantities (what a claim is about), significance and paired (tests), verdicts,
robustness, evaluation (all of it per claim and source), reports (md, tex, json, console).
"""

from repro.config.claims import load_claims  # re-exported for callers and tests
from repro.report.claims.evaluation import Result, evaluate, verdict_of
from repro.report.claims.reports import configure, console, rows, run, run_claims, write_reports
from repro.report.claims.verdicts import check, tally

__all__ = ["Result", "check", "configure", "console", "evaluate", "load_claims", "rows", "run",
           "run_claims", "tally", "verdict_of", "write_reports"]
