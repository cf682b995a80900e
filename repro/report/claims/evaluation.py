"""Every claim on every source: its quantity, its tests, its verdict, its robustness.

`evaluate(df, claims, samples)` is what the reports print; `verdict_of(df, claim, source)` is
the light path (quantity and verdict only) the mutation test runs hundreds of times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from repro.config.claims import TEST_OPS, Claim, claims_file, load_claims
from repro.core.errors import ReproError
from repro.report.claims.paired import Samples, paired_test
from repro.report.claims.quantities import (
    CHANGES,
    CORRELATIONS,
    LOWER_SCORES,
    Computed,
    NotRun,
    Reader,
    compute,
    level_series,
)
from repro.report.claims.robustness import robustness
from repro.report.claims.significance import (
    correlation_test,
    part_test,
    peak_test,
    runs,
    trend_test,
)
from repro.report.claims.verdicts import deciding, inconsistent, judge, paper_verdict, reproduction
from repro.results.schema import SOURCES

FAILURES = (KeyError, ValueError, ZeroDivisionError, ReproError)


@dataclass
class Result:
    claim: Claim
    computed: dict = field(default_factory=dict)      # source -> Computed | None
    verdict: dict = field(default_factory=dict)       # source -> verdict word
    how: dict = field(default_factory=dict)           # source -> how it was decided
    why: dict = field(default_factory=dict)           # source -> why not run / error
    significance: dict = field(default_factory=dict)  # source -> dict | None
    robustness: dict = field(default_factory=dict)    # source -> dict | None
    decomposition: dict = field(default_factory=dict)  # source -> str (latency claims)
    conflicts: list = field(default_factory=list)     # ids of claims in its group it contradicts
    reads: dict = field(default_factory=dict)         # source -> what the verdict read


def part_tests(r: Reader, claim: Claim, comp: Computed, samples: Samples | None) -> list:
    """One test per part (a level against the baseline, a peak against the runner-up), one
    for a correlation or a trend; [] where the quantity compares nothing."""
    kind = claim.quantity.of
    if kind in CORRELATIONS:
        return [correlation_test(comp.extra["points"], comp.extra["correlation"], kind)]
    if claim.op in ("increasing", "rising"):
        return [trend_test(run) for run in runs(comp.parts)]
    if kind in ("argmax_level", "argmin_level"):
        return [peak_test(r, p) for p in comp.parts]
    if kind not in CHANGES:
        return []
    out = []
    for p in comp.parts:
        t = paired_test(samples, p) if samples else None
        out.append(t if t is not None else part_test(r, p))
    if kind == "value" and all(t.p is None and t.ci is None for t in out):
        return []  # a recorded value without a spread (shots, hours): nothing to test
    return out


def assess(r: Reader, claim: Claim, samples: Samples | None = None, comp: Computed | None = None):
    """(Computed, tests, holds, how) of one claim on one source; raises NotRun."""
    comp = comp if comp is not None else compute(r, claim.quantity)
    tests = part_tests(r, claim, comp, samples) if claim.op in (*TEST_OPS, "rising") else []
    holds, how = judge(claim, comp, tests, claims_file().alpha)
    return comp, tests, holds, how


def verdict_of(df: pd.DataFrame, claim: Claim, source: str = "paper") -> tuple[str, list]:
    """The claim's own verdict on one source, and the rows it read (for the mutation test)."""
    r = Reader(df, source)
    try:
        _, _, holds, _ = assess(r, claim)
    except NotRun:
        return ("not run" if source != "paper" or claim.unrecorded else "error"), r.read
    except FAILURES:
        return "error", r.read
    return paper_verdict(claim, holds), r.read


def summary(claim: Claim, comp: Computed, tests: list) -> dict | None:
    """The claim's significance: its one test, or the deciding one of several (the extreme part
    the claim names; else the weakest comparison, or for 'no change' claims the strongest)."""
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0].to_dict()
    ps = [t.p if t.p is not None else -1.0 for t in tests]
    vals = [p.value for p in comp.parts] if len(comp.parts) == len(tests) else []
    if comp.pick is not None:
        i, what = comp.pick, "the extreme"
    elif claim.op in ("<=", ">=") and vals:  # the part nearest the bound decides
        pick = max if claim.op == "<=" else min
        i, what = vals.index(pick(vals)), "the deciding"
    elif claim.op in TEST_OPS:
        i, what = deciding(claim, comp, tests), "the deciding"
    else:
        i, what = max(range(len(ps)), key=lambda k: ps[k]), "the weakest"
    out = tests[i].to_dict()
    out["test"] = f"{out['test']}; {what} of {len(tests)} comparisons"
    out["parts"] = [t.to_dict() for t in tests]
    return out


def decomposition(r: Reader, claim: Claim, comp: Computed) -> str:
    """Whole-call latency = tokens per call x ms per token, as % changes per part (batch 1)."""
    q = claim.quantity
    if q.metric != "ttlt_mean" or q.of != "rel_change":
        return ""
    bits = []
    for p in comp.parts:
        ch = {}
        for metric in ("tokens_per_call", "ms_per_token"):
            s, _ = level_series(r, _with_metric(q, metric), p.model, [c[0] for c in p.cells],
                                p.criterion)
            ch[metric] = 100.0 * (s[p.level] / s[0] - 1.0)
        bits.append(f"{p.label}: {p.value:+.0f}% = tokens per call {ch['tokens_per_call']:+.0f}%"
                    f", ms per token {ch['ms_per_token']:+.1f}%")
    return "; ".join(bits)


def _with_metric(q, metric):
    from dataclasses import replace

    return replace(q, metric=metric, filter="none")


def evaluate(df: pd.DataFrame, claims: list[Claim] | None = None,
             samples: pd.DataFrame | None = None) -> list[Result]:
    claims = load_claims(tables=True) if claims is None else claims
    spec = claims_file()
    conflicts = inconsistent(claims)
    per_doc = Samples(samples)
    out = []
    for c in claims:
        res = Result(c, conflicts=sorted(conflicts.get(c.id, [])))
        for source in SOURCES:
            _one(res, df, source, per_doc if source == "reproduction" else None, spec)
        out.append(res)
    return out


def _one(res: Result, df: pd.DataFrame, source: str, samples, spec) -> None:
    c = res.claim
    r = Reader(df, source)
    res.computed[source] = None
    try:
        comp, tests, holds, how = assess(r, c, samples)
    except NotRun as exc:
        res.verdict[source] = "not run" if source != "paper" or c.unrecorded else "error"
        res.why[source] = c.unrecorded if source == "paper" and c.unrecorded else str(exc)
        res.reads[source] = r.read
        return
    except FAILURES as exc:
        res.verdict[source], res.why[source] = "error", f"{type(exc).__name__}: {exc}"
        res.reads[source] = r.read
        return
    res.reads[source] = list(r.read)
    if not tests:
        tests = part_tests(r, c, comp, samples)
    res.computed[source], res.how[source] = comp, how
    res.significance[source] = summary(c, comp, tests)
    if source == "paper":
        res.verdict[source] = paper_verdict(c, holds)
        if c.section and not holds:
            res.how[source] = rounding(comp, c)
    else:
        res.verdict[source], detail = reproduction(c, comp, tests, spec.alpha, holds)
        res.how[source] = "; ".join(x for x in (detail, how) if x)
    if not c.section:
        res.robustness[source] = robustness(
            c, r, comp, lambda rd, cl, comp=None: assess(rd, cl, samples, comp), spec)
        res.decomposition[source] = decomposition(r, c, comp)


def rounding(comp: Computed, claim: Claim) -> str:
    """Why a printed table percentage differs: the README divided the rounded values?"""
    p = comp.parts[0]
    d = 2 if p.cells[0][1] in LOWER_SCORES else 4
    v, b = round(float(p.series[p.level]), d), round(p.base, d)
    printed = 100.0 * (v / b - 1.0)
    if abs(printed - claim.stated) <= claim.tolerance + 1e-9:
        return f"the README divided the rounded values, {v:g} / {b:g} - 1 = {printed:+.2f}%"
    return f"the README prints {claim.stated:+.1f}% for {p.value:+.3f}%"
