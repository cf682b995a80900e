"""Every claim of the paper, checked against the data: significance, robustness, scope.

    python -m repro claims --data data --out paper/generated     (--help: what verdicts mean)

Claims are data (repro/config/claims.yaml, shaped by repro/config/claims.py); how each is judged
is its operator (operators/: one object per `op` that judges, tests, builds the interval, names
the deciding part and words the verdict). Each claim is judged on the published figures, to
its stated digits or as a test, and, where data/ holds one, on a reproduction, on substance.
Beside each verdict: the significance of the change it claims (significance.py, paired.py),
its robustness to the other analysis choices the data hold (robustness.py) and its scope as
read. The digest (digest.py) adds the claims up into the paper's findings, one line each.
Writes claims.md, claims.tex, digest.tex and claims.json; the exit status is non-zero only if
a claim could not be evaluated (a kit or data error), never because one fails.

Modules: quantities (what a claim is about), comparisons, significance and paired (tests),
operators, verdicts, robustness, evaluation (all of it per claim and source), digest,
reports (md, tex, json), console (the command and what it prints).
"""

from repro.config.claims import load_claims  # re-exported for callers and tests
from repro.report.claims.console import configure, run, run_claims
from repro.report.claims.evaluation import Result, evaluate, verdict_of
from repro.report.claims.reports import rows, write_reports
from repro.report.claims.verdicts import check, tally

__all__ = ["Result", "check", "configure", "evaluate", "load_claims", "rows", "run",
           "run_claims", "tally", "verdict_of", "write_reports"]
