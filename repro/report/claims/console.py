"""`python -m repro claims`: the command, its help, and what it prints in a terminal (the digest
and the tally, wrapped to the terminal's width; `--id` prints chosen claims in full).
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import logging
import shutil
import textwrap
from pathlib import Path

from repro.config.claims import Claim, claims_file, load_claims
from repro.core.errors import ReproError
from repro.report.queries import setting_label

log = logging.getLogger("repro.claims")

VERDICTS = """\
verdicts (published data: to the claim's stated digits, or as a test at alpha):
  holds             what the claim states: the number within its tolerance, the
                    bound, range, peak, trend or significant change; "stable",
                    "no decline": shown within the margin (equivalence, the
                    1 - 2 alpha interval)
  fails             it does not; counted as substantive, rounding (a figure
                    rounded twice, a README dividing rounded values) or plan (an
                    early draft's intention)
  not contradicted  a claim that nothing changes which the data neither show
                    nor contradict: underpowered, with the smallest change they
                    could detect
  no rule stated    a "best configuration" the seeds give no rule for
  not run           the published data cannot hold the quantity (run time...)
  error             the data miss what the claim needs (exit status 1)
A reproduction (rows with source=reproduction) is judged on substance:
reproduced, partly reproduced, not reproduced, not contradicted, not run.

tests: published scores level against baseline, unpaired and approximate
(published stderr, else the binomial with lm-eval 0.4.9.1's item counts;
Welch's t over runs for efficiency): conservative for a claimed change, so a
change "not significant" may still be real. A reproduction's per-document
scores give paired tests (exact McNemar, paired bootstrap). Trends: Spearman
over the levels, exact permutation p. 95% intervals in the claim's unit
(Fieller's for ratios). Robustness: the claim re-judged under every other
analysis choice the data hold, each counted once.

writes (to --out): claims.md (the digest first), claims.tex and digest.tex (the
PDF's appendix and first page), claims.json (every field); `repro tables` also
writes report.html. Prints the digest and the tally (--id: those claims in
full). Exit status 0 whatever the verdicts; 1 if a claim could not be
evaluated; 2 on bad input."""


def configure(parser) -> None:
    from repro.report.analysis import add_data_options
    from repro.report.claims.operators import REGISTRY

    spec = claims_file()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = textwrap.fill(
        "Check every claim of the paper's seeds (repro/config/claims.yaml) against data/: the "
        f"published figures and, where present, a reproduction. alpha = {spec.alpha:g}, "
        f"equivalence margin {spec.margin:g}% of the baseline, power {spec.power:g}.", 79)
    ops = "\n".join(textwrap.fill(f"{name:<13}{op.summary}", 79, subsequent_indent=" " * 15,
                                  initial_indent="  ") for name, op in sorted(REGISTRY.items()))
    parser.epilog = f"{VERDICTS}\n\noperators (claims.yaml `op`):\n{ops}"
    add_data_options(parser)
    parser.add_argument("--id", nargs="+", metavar="ID", dest="ids",
                        help="print these claims in full (shell patterns allowed, e.g. "
                             "'robust-*'); writes no file")


def select(ids: list[str]) -> list[Claim]:
    """The claims named (ids or shell patterns, table cells included); one error line naming
    the closest ids for one that matches nothing."""
    every = load_claims(tables=True)
    names = [c.id for c in every]
    chosen: list[str] = []
    for want in ids:
        hits = fnmatch.filter(names, want)
        if not hits:
            near = difflib.get_close_matches(want, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(near)}?" if near else "; `repro claims` lists them"
            raise ReproError(f"--id {want}: no such claim{hint}")
        chosen += [h for h in hits if h not in chosen]
    by_id = {c.id: c for c in every}
    return [by_id[i] for i in chosen]  # in the order asked


def width() -> int:
    return max(60, min(120, shutil.get_terminal_size((100, 24)).columns))


def _wrap(text: str, indent: str = "  ", first: str = "") -> str:
    return textwrap.fill(text, width(), initial_indent=first or indent, subsequent_indent=indent,
                         break_on_hyphens=False)


def summary(table: list[dict], ctx: dict) -> str:
    """The digest and the tally, fitted to the terminal (every claim: claims.md or --id)."""
    out = ["Digest (published data; claims.md has every claim, `--id ID` one in full):"]
    for d in ctx["digest"]:
        verdict = d["verdict"] + (f"; reproduction: {d['reproduction']}{d['reproduction_setting']}"
                                  if ctx["reproduced"] else "")
        out.append(_wrap(d["finding"], "    ", f"- [{verdict}] "))
        out.append(_wrap(f"{d['effect']}; evidence {d['evidence']}", "    "))
    t, f = ctx["tally"]["paper"], ctx["failures"]
    out.append("")
    out.append(_wrap(f"published: {len(ctx['claims'])} claims: " + ", ".join(
        f"{n} {k}" for k, n in t.items()), "  ", ""))
    if t.get("fails"):
        out.append(_wrap("failures: " + "; ".join(f"{len(v)} {k}" for k, v in f.items() if v),
                         "  ", "  "))
    rep = ctx["tally"]["reproduction"]
    out.append(_wrap("reproduction: " + ", ".join(f"{n} {k}" for k, n in rep.items()), "  ", ""))
    if ctx["reproduction_setting"]:
        out.append(_wrap(ctx["reproduction_setting"], "  ", "  "))
    if ctx["cells"]:
        off = len(ctx["cells_off"])
        out.append(_wrap(f"printed table cells: {len(ctx['cells']) - off} of {len(ctx['cells'])} "
                         f"agree; {off} differ ("
                         + ", ".join(f"{len(v)} {k}" for k, v in ctx["cells_failures"].items() if v)
                         + ")", "  ", ""))
    return "\n".join(out) + "\n"


def details(table: list[dict]) -> str:
    """Chosen claims in full: statement, scope, verdicts and how, significance, robustness."""
    out = []
    for t in table:
        out.append(f"{t['id']}: {t['statement']}")
        fields = [("where", t["where"]), ("scope", t["scope"]), ("read as", t["reading"]),
                  ("stated", t["stated"] + (f" ({t['tolerance']})" if t["tolerance"] else "")),
                  ("published", f"{t['paper_value']} -> {t['paper_verdict']}"
                   + (f" ({t['failure']})" if t["failure"] else "")),
                  ("how", t["paper_how"] or t["paper_why"]),
                  ("significance", t["paper_significance_text"]),
                  ("robustness", t["paper_robustness_text"] + "".join(
                      f"; {c['choice']}: {c['value']} ({'holds' if c['holds'] else 'fails'})"
                      for c in (t["robustness"] or {}).get("choices", []))
                   + "".join(f"; context, not counted: {c['choice']}: {c['value']}"
                             for c in (t["robustness"] or {}).get("context", []))),
                  ("reproduction", f"{t['reproduction_value']} -> {t['reproduction_verdict']}"
                   + setting_label(t)
                   + (f" ({t['reproduction_how'] or t['reproduction_why']})"
                      if t["reproduction_how"] or t["reproduction_why"] else "")),
                  ("note", t["note"]),
                  ("disagrees with", ", ".join(t["inconsistent_with"]))]
        for name, value in fields:
            if value:
                out.append(_wrap(value, " " * 16, f"  {name:<13} "))
        out.append("")
    return "\n".join(out)


def evaluate_and_write(df, out: Path | None, samples=None,
                       ids: list[str] | None = None) -> tuple[int, dict]:
    """Evaluate the claims (with `ids`, those alone); write the reports to `out` (None: write
    nothing) and print the digest, or the chosen claims in full. (exit status, the reports'
    context): 1 if a claim could not be evaluated."""
    from repro.report.claims.evaluation import evaluate
    from repro.report.claims.reports import context, rows, write_reports

    claims = select(ids) if ids else None
    table = rows(evaluate(df, claims, samples=samples))
    ctx = context(table)
    if out is not None:
        write_reports(table, out, ctx)
    print(details(table) if ids else summary(table, ctx), end="")
    errors = [t for t in table if "error" in (t["paper_verdict"], t["reproduction_verdict"])]
    for t in errors:
        log.error("claim %s could not be evaluated: %s", t["id"], t["paper_why"] or t["reproduction_why"])
    return (1 if errors else 0), ctx


def run_claims(df, out: Path | None, samples=None, ids: list[str] | None = None) -> int:
    return evaluate_and_write(df, out, samples, ids)[0]


def run(args) -> int:
    from repro.report.publish import CLAIMS, prepare, publish
    from repro.report.queries import current
    from repro.results.samples import load_samples
    from repro.results.schema import load_dir

    if args.ids:
        select(args.ids)  # an unknown id fails before the data are read
        return run_claims(current(load_dir(args.data)), None, load_samples(args.data), args.ids)
    out = prepare(args.out)  # checked before any work, cleared of a killed run's files
    df, samples = current(load_dir(args.data)), load_samples(args.data)
    with publish(out, CLAIMS) as stage:  # the claims files as one set, the rest kept
        return run_claims(df, stage, samples)
