"""Robustness: each claim re-judged under the other defensible analysis choices the data hold,
reported as "holds under k of n choices" with the list (the stated analysis is one of the n).

- Readings of the claim's scope (claims.yaml `readings`: other levels, models, workloads, or a
  per-token instead of a whole-call latency): the claim's own check.
- Metrics of the claim's task (claims.yaml `choices`: acc / acc_norm, strict / flexible GSM8K,
  prompt / instruction level and strict / loose IFEval, word / byte perplexity): a stated
  number belongs to the one metric it was computed from, so a number (~, in, any) is re-judged
  on its direction (every part changes the stated way); bounds, peaks, trends and tests are
  re-judged as stated.
- Correlations: Pearson and Spearman, with and without the baseline, leaving out each pruned
  level, Pearson's exact permutation test: the stated substance is the sign and significance
  at alpha.
Each analysis is one choice, counted once. A reading marked `context` (another model, the
models pooled) is another claim's scope, not a choice: it is shown beside, never counted.
A recorded value (a baseline score, a width, a count) has no analysis choice: no robustness.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from repro.config.claims import Claim, ClaimsFile
from repro.report.claims.operators import HOLDS, operator
from repro.report.claims.operators.numeric import hi, lo
from repro.report.claims.quantities import (
    CHANGES,
    CORRELATIONS,
    Computed,
    NotRun,
    as_list,
    metric_of,
)
from repro.report.claims.significance import permutation_p
from repro.report.formatting import fmt_number


def _fmt(v, claim: Claim) -> str:
    return fmt_number(v, claim.digits, claim.unit)


def robustness(claim: Claim, reader, comp: Computed, assess, spec: ClaimsFile) -> dict | None:
    """{'holds': k, 'of': n, 'choices': [{'choice', 'value', 'holds'}], 'context': [...]}, or
    None when the claim has no analysis choice. `assess(reader, claim)` -> (Computed, tests,
    Outcome)."""
    q = claim.quantity
    choices = [r for r in claim.readings if not r.context]
    context = [_try(r.label, claim, reader, assess, _variant(claim, r), own=True)
               for r in claim.readings if r.context]
    if q.of in CORRELATIONS:
        rows = _correlations(claim, reader, comp, assess, spec.alpha, choices)
    else:
        rows = [("as stated", _fmt(comp.value, claim), _holds(claim, comp, assess, reader))]
        for reading in choices:
            rows.append(_try(reading.label, claim, reader, assess, _variant(claim, reading), own=True))
        rows += _metric_choices(claim, reader, assess, spec)
    if len(rows) < 2:
        return None
    k = sum(bool(ok) for _, _, ok in rows)
    return {"holds": k, "of": len(rows),
            "choices": [{"choice": c, "value": v, "holds": ok} for c, v, ok in rows],
            "context": [{"choice": c, "value": v, "holds": ok} for c, v, ok in context]}


def _variant(claim: Claim, reading) -> Claim:
    stated = claim.stated if reading.stated is None else reading.stated
    return replace(claim, quantity=reading.apply(claim.quantity), op=reading.op or claim.op,
                   stated=stated)


def _holds(claim, comp, assess, reader) -> bool:
    return assess(reader, claim, comp=comp)[2].verdict == HOLDS


def _try(label, claim, reader, assess, variant: Claim, own: bool):
    try:
        comp, _, outcome = assess(reader, variant)
    except NotRun as exc:
        return label, f"not in the data ({exc})", False
    ok = outcome.verdict == HOLDS
    if not own and operator(variant.op).numeric and variant.op in ("~", "in", "any"):
        ok = _direction(claim, comp)
    if claim.quantity.of in CORRELATIONS:  # the stated substance: sign and significance
        from repro.config.claims import claims_file

        c = comp.extra["correlation"]
        sign = -1 if lo(claim.stated) < 0 or (claim.quantity.of == "pearson_p"
                                              and c["pearson_r"] < 0) else 1
        ok = c["pearson_r"] * sign > 0 and c["pearson_p"] < claims_file().alpha
        return label, f"r = {c['pearson_r']:.3f}, p = {c['pearson_p']:.4f}, n = {c['n']}", ok
    return label, _fmt(comp.value, claim), ok


def _direction(claim: Claim, comp: Computed) -> bool:
    """Every part changes the way the stated value does (a stated range of one sign)."""
    s = claim.stated
    sign = 1 if lo(s) > 0 and hi(s) > 0 else -1 if lo(s) < 0 and hi(s) < 0 else 0
    if sign == 0:
        return False
    off = 100.0 if claim.quantity.of == "retained" else 0.0
    return all((p.value - off) * sign > 0 for p in comp.parts)


def _metric_choices(claim: Claim, reader, assess, spec: ClaimsFile) -> list[tuple]:
    q = claim.quantity
    tasks = as_list(q.task)
    if q.of not in (*CHANGES, "argmax_level", "argmin_level") or len(tasks) != 1:
        return []
    if q.of == "value" and operator(claim.op).numeric:
        return []  # a recorded value belongs to its metric
    task = tasks[0]
    if task not in spec.choices:
        return []
    model = as_list(q.model)[0]
    own = metric_of(q, model, task)
    rows = []
    for ch in spec.choices[task]:
        if (ch.metric, ch.filter) == own:
            continue
        variant = replace(claim, quantity=replace(q, metric=ch.metric, filter=ch.filter))
        label = ch.metric + ("" if ch.filter == "none" else f" ({ch.filter})")
        if claim.op in ("~", "in", "any"):
            label += ", on direction"
        rows.append(_try(label, claim, reader, assess, variant, own=False))
    return rows


def _correlations(claim: Claim, reader, comp: Computed, assess, alpha: float,
                  readings) -> list[tuple]:
    from repro.report.analysis import _pearson

    if claim.quantity.of == "pearson_p":  # a p-value's claim: the sign of the r it belongs to
        sign = -1 if (comp.extra["correlation"]["pearson_r"] or 0) < 0 else 1
    else:
        sign = -1 if claim.stated < 0 else 1
    pts = comp.extra["points"]

    def stat(points, spearman=False):
        x = [p[2] for p in points]
        y = [p[3] for p in points]
        if spearman:
            x, y = pd.Series(x).rank().tolist(), pd.Series(y).rank().tolist()
        return _pearson(x, y)

    def row(label, r, p):
        ok = r == r and p == p and r * sign > 0 and p < alpha
        return label, f"r = {r:.3f}, p = {p:.4f}, n", ok

    out = []
    no_base = [p for p in pts if p[1] != 0]
    for label, points, spear in (("Pearson, all levels", pts, False),
                                 ("Pearson, without the baseline", no_base, False),
                                 ("Spearman, all levels", pts, True),
                                 ("Spearman, without the baseline", no_base, True)):
        r, p = stat(points, spear)
        label, value, ok = row(label, r, p)
        out.append((label, value.replace(", n", f", n = {len(points)}"), ok))
    if len(pts) <= 8:
        perm = permutation_p([p[2] for p in pts], [p[3] for p in pts])
        r, _ = stat(pts)
        out.append(("Pearson, exact permutation test", f"r = {r:.3f}, p = {perm:.4f}",
                    r * sign > 0 and perm < alpha))
    for lv in sorted({p[1] for p in pts} - {0.0}):  # without 0%: "without the baseline" above
        r, p = stat([x for x in pts if x[1] != lv])
        label, value, ok = row(f"Pearson, without {lv:g}%", r, p)
        out.append((label, value.replace(", n", f", n = {len(pts) - sum(x[1] == lv for x in pts)}"), ok))
    for reading in readings:
        variant = replace(claim, quantity=reading.apply(claim.quantity))
        try:
            vc = assess(reader, variant)[0]
        except NotRun as exc:
            out.append((reading.label, f"not in the data ({exc})", False))
            continue
        c = vc.extra["correlation"]
        label, value, ok = row(reading.label, c["pearson_r"], c["pearson_p"])
        out.append((label, value.replace(", n", f", n = {c['n']}"), ok))
    return out
