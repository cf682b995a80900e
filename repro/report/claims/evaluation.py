"""Every claim on every source: its quantity, its tests, its verdict, its robustness.

`evaluate(df, claims, samples)` is what the reports print; `verdict_of(df, claim, source)` is
the light path (quantity and verdict only) the mutation test runs hundreds of times. Each
claim is judged by its operator (operators/), checked before anything is computed.

A reproduction is judged in the paper's setting (batch 1) where the data hold its rows of the
claim's models and tasks, else in the fast setting (batched, variant `fast`) where they hold
those: `reader`, by the tables' rule on the paper's tie-break (queries.claims_variant), and
the result says so (Result.setting), wherever its verdict is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from repro.config.claims import Claim, claims_file, load_claims
from repro.config.metrics import metrics
from repro.core.errors import ReproError
from repro.core.ties import is_fast
from repro.report.claims.comparisons import part_tests
from repro.report.claims.operators import operator
from repro.report.claims.paired import Samples
from repro.report.claims.quantities import (
    LOWER_SCORES,
    Computed,
    NotRun,
    Reader,
    as_list,
    compute,
    level_series,
)
from repro.report.claims.robustness import robustness
from repro.report.claims.verdicts import failure_kind, inconsistent
from repro.report.confounds import efficiency_note
from repro.report.queries import claims_variant
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
    tests: dict = field(default_factory=dict)         # source -> the tests behind the verdict
    failure: str = ""                                 # a published failure's kind (verdicts.py)
    confound: str = ""                                # what its efficiency data were measured on
    setting: dict = field(default_factory=dict)       # source -> "fast" where read in the fast setting


def assess(r: Reader, claim: Claim, samples: Samples | None = None, comp: Computed | None = None):
    """(Computed, tests, Outcome) of one claim on one source; raises NotRun."""
    op, spec = operator(claim.op), claims_file()
    comp = comp if comp is not None else compute(r, claim.quantity)
    tests = op.tests(r, claim, comp, samples, spec.alpha) if op.tested else []
    return comp, tests, op.judge(claim, comp, tests, spec)


def reader(df: pd.DataFrame, claim: Claim, source: str) -> Reader:
    """The claim's reader on a source: a reproduction's in the fast setting where the data hold
    its rows of the claim's models and tasks only in that setting (no task: any of theirs)."""
    if source == "paper":
        return Reader(df, source)
    q = claim.quantity
    tasks = [t for t in (*as_list(q.task), q.x, q.y) if t]
    shown = claims_variant(df, [m for m in as_list(q.model) if m], tasks, q.variant)
    return Reader(df, source, fast=is_fast(shown) and not is_fast(q.variant))


def verdict_of(df: pd.DataFrame, claim: Claim, source: str = "paper") -> tuple[str, list]:
    """The claim's own verdict on one source, and the rows it read (for the mutation test)."""
    r = reader(df, claim, source)
    try:
        _, _, outcome = assess(r, claim)
    except NotRun:
        return ("not run" if source != "paper" or claim.unrecorded else "error"), r.read
    except FAILURES:
        return "error", r.read
    return outcome.verdict, r.read


def summary(claim: Claim, comp: Computed, tests: list) -> dict | None:
    """The claim's significance: its one test, or the deciding one of several, as its
    operator names it (the extreme part, the weakest comparison, a contradicting level...)."""
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0].to_dict()
    i, what = operator(claim.op).deciding(claim, comp, tests, claims_file())
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
    for c in claims:
        operator(c.op).check(c)  # an unknown op or a missing stated value: one line, first
    spec = claims_file()
    conflicts = inconsistent(claims)
    per_doc = Samples(samples)
    out = []
    for c in claims:
        res = Result(c, conflicts=sorted(conflicts.get(c.id, [])))
        if efficiency_claim(c):
            res.confound = " ".join(filter(None, (efficiency_note(df, m)
                                                  for m in as_list(c.quantity.model))))
        for source in SOURCES:
            _one(res, df, source, per_doc if source == "reproduction" else None, spec)
        out.append(res)
    return out


EFFICIENCY_WORDS = ("latency", "throughput", "joules", "energy", "ms_per_token", "tokens_per_call",
                    "ttlt")


def efficiency_claim(c: Claim) -> bool:
    """A claim about efficiency figures (a workload, or a latency, energy or throughput)."""
    q = c.quantity
    return bool(set(as_list(q.task)) & set(metrics().efficiency.workloads)) or any(
        w in (q.metric or "") for w in EFFICIENCY_WORDS)


def _one(res: Result, df: pd.DataFrame, source: str, samples, spec) -> None:
    c = res.claim
    r = reader(df, c, source)
    res.computed[source] = None
    if r.fast:
        res.setting[source] = "fast"
    try:
        comp, tests, outcome = assess(r, c, samples)
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
        tests = part_tests(r, c, comp, samples, spec.alpha)
    res.computed[source], res.how[source], res.tests[source] = comp, outcome.how, tests
    res.significance[source] = summary(c, comp, tests)
    if source == "paper":
        res.verdict[source] = outcome.verdict
        if c.section and outcome.verdict != "holds":
            res.how[source], rounded = rounding(comp, c)
        else:
            rounded = "rounding excess" in outcome.how
        res.failure = failure_kind(c, outcome.verdict, rounded)
    else:
        op = operator(c.op)
        res.verdict[source], detail = op.reproduction(c, comp, tests, spec, outcome)
        # a number is judged on substance (detail), not on the published digits (outcome)
        res.how[source] = detail if op.numeric else "; ".join(
            x for x in dict.fromkeys((detail, outcome.how)) if x)
    if not c.section:
        res.robustness[source] = robustness(
            c, r, comp, lambda rd, cl, comp=None: assess(rd, cl, samples, comp), spec)
        res.decomposition[source] = decomposition(r, c, comp)


def rounding(comp: Computed, claim: Claim) -> tuple[str, bool]:
    """Why a printed table percentage differs, and whether rounding explains it: the README
    may have divided the values it printed (4 decimals, perplexities 2) and rounded the
    change once or twice (to 2 decimals, then 1, half up). Every combination is tried."""
    from repro.report.claims.operators.numeric import _half_up

    p = comp.parts[0]
    d = 2 if p.cells[0][1] in LOWER_SCORES else 4
    raw_v, raw_b = float(p.series[p.level]), p.base
    for v, b, inputs in ((round(raw_v, d), round(raw_b, d), "the rounded values"),
                         (round(raw_v, d), raw_b, "the rounded value by the unrounded baseline"),
                         (raw_v, round(raw_b, d), "the unrounded value by the rounded baseline"),
                         (raw_v, raw_b, "the unrounded values")):
        pct = 100.0 * (v / b - 1.0)
        for printed, how in ((_half_up(pct, 1), "rounded once"),
                             (_half_up(_half_up(pct, 2), 1), "rounded twice (2 decimals, then 1)")):
            if abs(printed - claim.stated) <= 1e-9:
                return (f"the README divided {inputs}, {v:g} / {b:g} - 1 = {pct:+.3f}%, "
                        f"{how}: {printed:+.1f}%"), True
    return f"the README prints {claim.stated:+.1f}% for {p.value:+.3f}%: no rounding gives it", False
