"""Every claim can fail: break the premise of each claim's verdict in a copy of the published
data (only the rows the verdict read) and expect the verdict to turn. No claim is exempt: the
printed table cells included, and the claims the published data cannot hold ("not run"), which
turn once the data hold a value. Every reading turns: an effect that is not significant turns
to 'holds' when every level moves the claimed way with precise data; "not contradicted"
(underpowered) turns to 'holds' when the data are flat and precise, to 'fails' when a level
drops; a dose-response, an exponential, a proportional or a U-shaped series turn with the
series' shape; a comparison of two models or tasks turns when the first moves the other way.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from repro.config.claims import load_claims
from repro.report.claims import verdict_of
from repro.report.claims.operators.numeric import lo
from repro.report.claims.quantities import DERIVED, Reader, compute, direction
from repro.report.claims.verdicts import interval
from repro.report.queries import current
from repro.results.schema import load_dir

pytestmark = pytest.mark.light

DATA = Path(__file__).resolve().parents[2] / "data"
CLAIMS = load_claims(tables=True)
TURNED = ("holds", "fails", "no rule stated", "not contradicted")
# coarse first (a bound, a peak, a test), then fine (a number stated to a tenth of a percent)
FACTORS = (0.5, 2.0, 0.9, 1.1, 0.99, 1.01, 0.997, 1.003, 0.999, 1.001, 0.9997, 1.0003, 0.2, 5.0)


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return current(load_dir(DATA))


def _series_mask(df: pd.DataFrame, read: tuple) -> pd.Series:
    _, model, task, metric, filt, criterion, variant = read
    return ((df.model == model) & (df.task == task) & (df.metric == metric)
            & (df["filter"] == filt) & (df.source == "paper") & (df.variant == variant)
            & ((df.criterion == criterion) | (df.level == 0)))


def _levels(claim) -> list[float]:
    lv = claim.quantity.level
    return [float(x) for x in (lv if isinstance(lv, tuple) else [lv])] if lv != () else []


def _scaled(df, mask, factors=FACTORS, column="value"):
    for f in factors:
        out = df.copy()
        out.loc[mask, column] = out.loc[mask, column] * f
        yield out


def _series_mutations(df, claim, read):
    """Scale one level's value at a time: the claim's own levels first, the baseline last."""
    mask = _series_mask(df, read)
    if not mask.any():
        return
    levels = sorted(set(df.loc[mask, "level"]), key=lambda lv: (lv not in _levels(claim), lv == 0, -lv))
    for lv in levels:
        yield from _scaled(df, mask & (df.level == lv))
        out = df.copy()
        out.loc[mask & (out.level == lv), "value"] += 1.0   # a recorded 0 (shots) scales to 0
        yield out


def _reshaped(df, claim, reads):
    """Several levels at once: every level at its baseline (no change anywhere), and every
    level at least its predecessor (never falling)."""
    flat, rising = df.copy(), df.copy()
    for read in dict.fromkeys(r for r in reads if r[0] == "series" and r[3] not in DERIVED):
        mask = _series_mask(df, read)
        base = df.loc[mask & (df.level == 0), "value"]
        if not base.empty:
            flat.loc[mask & (flat.level > 0), "value"] = float(base.iloc[0])
        by_level = df.loc[mask].sort_values("level")
        rising.loc[by_level.index, "value"] = by_level["value"].cummax() + by_level["level"] * 1e-6
    yield flat
    yield rising


# whole-series shapes, as the gain (fraction of the baseline, + is better) of a pruned level
GAINS = {"down": lambda lv, last: -0.05 - 0.006 * lv, "up": lambda lv, last: 0.05 + 0.006 * lv,
         "flat": lambda lv, last: 0.0,
         "u": lambda lv, last: 0.0 if lv == last else -0.1 if lv <= 10 else -0.4,
         "proportional": lambda lv, last: -0.006 * lv}
# raw shapes (value / baseline): what trends and growth claims are about
RAW = {"raw_up": lambda lv: 1.0 + 0.01 * lv, "raw_down": lambda lv: 1.0 - 0.01 * lv,
       "exponential": lambda lv: 2.0 ** (lv / 10), "linear": lambda lv: 1.0 + 0.5 * lv}


def _shape(out, df, read, name):
    """One series set to a shape, with precise standard errors (1e-4 of the value)."""
    mask = _series_mask(df, read)
    base = df.loc[mask & (df.level == 0), "value"]
    if base.empty:
        return
    b, levels = float(base.iloc[0]), sorted(set(df.loc[mask, "level"]) - {0.0})
    sign = 1.0 if direction(read[2], read[3]) == "higher" else -1.0
    for lv in levels:
        at = mask & (out.level == lv)
        out.loc[at, "value"] = (b * RAW[name](lv) if name in RAW
                                else b * (1.0 + sign * GAINS[name](lv, levels[-1])))
    out.loc[mask, "stderr"] = out.loc[mask, "value"].abs() * 1e-4


def _shaped(df, claim, reads):
    """Every series the verdict read in one shape at a time: the premise of effects, absences,
    trends and shapes. For a comparison, the first model (task) in one shape, the rest in
    another."""
    series = [r for r in dict.fromkeys(reads) if r[0] == "series" and r[3] not in DERIVED]
    first = None
    if claim.op == "worse_than":
        first = lambda r: r[1] == claim.quantity.model[0]  # noqa: E731
    elif claim.op == "worst":
        first = lambda r: r[2] == claim.quantity.task[0]  # noqa: E731
    pairs = ([("down", "flat"), ("flat", "down")] if first else
             [(name, name) for name in (*GAINS, *RAW)])
    for mine, rest in pairs:
        out = df.copy()
        for read in series:
            _shape(out, df, read, mine if first is None or first(read) else rest)
        yield out


def _dominating(df, claim, reads):
    """Make another level at least as good as the stated 'best' one on every task, better on one."""
    best = float(claim.stated)
    series = [r for r in reads if r[0] == "series" and r[3] not in DERIVED]
    levels = sorted(set(df[_series_mask(df, series[0])].level) - {best})
    for lv in levels:
        out = df.copy()
        for read in series:
            mask = _series_mask(out, read)
            src = out.loc[mask & (out.level == best), "value"]
            if src.empty:
                break
            up = 1.01 if direction(read[2], read[3]) == "higher" else 0.99
            out.loc[mask & (out.level == lv), "value"] = float(src.iloc[0]) * up
        yield out


def _count_mutations(df, read):
    _, col, models = read
    main = (df.variant == "") & (df.unit == "") & (df.source == "paper")
    if col == "model":
        names = sorted(df[main].model.unique())
        yield df[~(df.model == names[-1])]                       # one model fewer
        extra = df[main & (df.model == names[0])].assign(model="extra-model")
        yield pd.concat([df, extra], ignore_index=True)          # one model more
        return
    values = sorted(df[main & df.model.isin(models)][col].unique())
    for k in range(1, len(values)):
        yield df[~(main & df[col].isin(values[-k:]))]            # k tasks (levels) fewer


def _arch_mutations(df, read):
    _, model, level = read
    mask = (df.model == model) & (df.level == level) & (df.source == "paper")
    for column in ("expansion_ratio", "kept_width", "params"):
        yield from _scaled(df, mask, (0.9, 1.1), column)


def _recorded(df, claim):
    """A 'not run' claim: give the data the value it lacks (the stated number; a change: 1.0
    at every level, no change)."""
    q, rows = claim.quantity, []
    template = df[df.source == "paper"].iloc[0].to_dict()
    tasks = q.task if isinstance(q.task, tuple) else (q.task,)
    models = q.model if isinstance(q.model, tuple) else (q.model,)
    for model in models:
        for task in tasks:
            for lv in sorted({0.0, *_levels(claim)}):
                value = float(lo(claim.stated)) if q.of == "value" else 1.0
                rows.append({**template, "model": model, "task": task, "metric": q.metric,
                             "filter": q.filter or "none", "criterion": "maw", "variant": q.variant,
                             "level": lv, "value": value, "stderr": float("nan"), "unit": "x"})
    yield pd.concat([df, pd.DataFrame(rows)], ignore_index=True)


def _moved(df, claim, into: bool):
    """Move the numbers a verdict rests on across what the claim admits: every part outside
    it to its middle (a claim that fails), or the extreme part just outside (one that holds).
    A part's level value moves, all its tasks by one factor."""
    span = interval(claim)
    if span is None or claim.quantity.of not in ("rel_change", "abs_change", "retained", "value"):
        return
    lo_, hi_ = span
    comp = compute(Reader(df, "paper"), claim.quantity)
    inside = [lo_ <= p.value <= hi_ for p in comp.parts]
    if into:
        moves = {i: (lo_ + hi_) / 2 if hi_ - lo_ < 1e300 else (lo_ + 1 if hi_ > 1e300 else hi_ - 1)
                 for i, ok in enumerate(inside) if not ok}
    else:
        i = max(range(len(comp.parts)), key=lambda k: comp.parts[k].value)
        moves = {i: hi_ + 1 + abs(hi_) * 0.1} if hi_ < 1e300 else {
            min(range(len(comp.parts)), key=lambda k: comp.parts[k].value): lo_ - 1 - abs(lo_) * 0.1}
    out = df.copy()
    for i, want in moves.items():
        part = comp.parts[i]
        base, now = part.base, float(part.series[part.level])
        target = {"rel_change": base * (1 + want / 100), "abs_change": base + want / part.scale,
                  "retained": base * want / 100, "value": want / part.scale}[part.kind]
        for task, metric, filt in part.cells:
            read = ("series", part.model, task, metric, filt, part.criterion, part.variant)
            mask = _series_mask(out, read) & (out.level == part.level)
            if now == 0:  # one recorded 0 (shots): set it
                out.loc[mask, "value"] = target
            else:
                out.loc[mask, "value"] = out.loc[mask, "value"] * (target / now)
    yield out


def mutations(df, claim, reads, before):
    if before == "not run":
        yield from _recorded(df, claim)
        return
    if before in ("holds", "fails"):
        yield from _moved(df, claim, into=before == "fails")
        yield from _reshaped(df, claim, reads)
    if before in ("holds", "fails", "not contradicted"):
        yield from _shaped(df, claim, reads)
    if claim.op == "undominated":
        yield from _dominating(df, claim, reads)
    for read in dict.fromkeys(reads):
        if read[0] == "series":
            yield from _series_mutations(df, claim, read)
        elif read[0] == "arch":
            yield from _arch_mutations(df, read)
        elif read[0] == "count":
            yield from _count_mutations(df, read)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_breaking_the_premise_turns_the_verdict(published, claim):
    before, reads = verdict_of(published, claim)
    assert before in (*TURNED, "not run"), (claim.id, before)
    assert reads, f"{claim.id} read nothing"
    for broken in mutations(published, claim, reads, before):
        after, _ = verdict_of(broken, claim)
        if after != before and after in TURNED:
            return
    pytest.fail(f"no change to the rows {claim.id} reads turns its verdict '{before}'")


def test_every_claim_is_covered_and_every_verdict_kind_occurs(published):
    verdicts = {c.id: verdict_of(published, c)[0] for c in CLAIMS}
    assert len(verdicts) == len(CLAIMS) >= 80 + 156
    assert set(verdicts.values()) == {"holds", "fails", "no rule stated", "not contradicted", "not run"}
