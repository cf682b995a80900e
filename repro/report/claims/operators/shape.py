"""Claims about the shape of a series over the levels, one series per model (and task):

    increasing    never falls from one level to the next
    rising        a significant rising trend (Spearman over the levels, exact permutation p)
    falling       a significant falling trend
    exponential   grows at least exponentially: log(value) fits a line in the level better
                  (R^2 on the log scale) than the value itself does (R^2 on its own scale)
    proportional  a significant dose-response, linear through the baseline: the line through
                  (0%, no change) explains at least the stated share of the changes' variance
    recovers      falls, then significantly recovers: the largest rise from the lowest level
                  so far to a later one is significant (a U-curve, non-monotonic behaviour)

A trend over n levels cannot reach alpha when 2/n! > alpha (three levels: 1/3): it is then
judged on direction (every step the stated way) and says so.
"""

from __future__ import annotations

import math

import numpy as np

from repro.config.claims import ClaimsFile
from repro.core.errors import ReproError
from repro.report.claims.operators.base import (
    FAILS,
    HOLDS,
    Operator,
    Outcome,
    better_sign,
    p_text,
    register,
    significant,
)
from repro.report.claims.quantities import Computed, Part
from repro.report.claims.significance import Test, compare, part_estimate, runs, trend_test


def trend_tests(comp: Computed) -> list[Test]:
    return [trend_test(run) for run in runs(comp.parts)]


def _reachable(n: int, alpha: float) -> bool:
    return n >= 2 and 2.0 / math.factorial(n) <= alpha


def trend_outcome(comp: Computed, tests: list[Test], alpha: float, want: int | None = None,
                  worse: bool = False) -> Outcome:
    """Every run trends the wanted way (+1 up, -1 down; worse=True: the way that is worse for
    the run's score), significantly, or on direction where its levels cannot reach alpha."""
    bad, notes = [], []
    for run, t in zip(runs(comp.parts), tests, strict=True):
        sign = -better_sign(run[0]) if worse else want
        name = t.label or run[0].label
        rho = t.effect if t.effect is not None else 0.0
        if not _reachable(len(run), alpha):
            steps = [b.value - a.value for a, b in zip(run, run[1:], strict=False)]
            if not all(s * sign > 0 for s in steps):
                bad.append(f"{name}: not every step {'up' if sign > 0 else 'down'}")
            notes.append(f"{name}: {len(run)} levels cannot reach alpha, judged on direction")
        elif rho * sign <= 0 or not significant(t, alpha):
            bad.append(f"{name}: rho = {rho:+.2f}, {p_text(t.p)}")
        else:
            notes.append(f"{name}: rho = {rho:+.2f}, {p_text(t.p)}")
    return Outcome(FAILS if bad else HOLDS, "; ".join(bad + notes))


@register
class Increasing(Operator):
    name = "increasing"
    tested = True                      # its tests (a trend per series) back the verdict
    phrase = "rises with every level"
    summary = "the series never falls from one level to the next"

    def tests(self, r, claim, comp, samples, alpha):
        return trend_tests(comp)

    def judge(self, claim, comp, tests, spec: ClaimsFile) -> Outcome:
        drops = [f"{b.label} (from {a.level:g}%)" for run in runs(comp.parts)
                 for a, b in zip(run, run[1:], strict=False) if b.value < a.value]
        return Outcome(FAILS, "falls at " + ", ".join(drops)) if drops else Outcome(HOLDS, "never falls")


@register
class Rising(Operator):
    name = "rising"
    want = 1
    tested = True
    phrase = "a significant rising trend"
    summary = "a significant rising trend over the levels (Spearman, exact permutation p)"

    def tests(self, r, claim, comp, samples, alpha):
        return trend_tests(comp)

    def judge(self, claim, comp, tests, spec):
        return trend_outcome(comp, tests, spec.alpha, self.want)


@register
class Falling(Rising):
    name = "falling"
    want = -1
    phrase = "a significant falling trend"
    summary = "a significant falling trend over the levels (Spearman, exact permutation p)"


def r_squared(x: np.ndarray, y: np.ndarray, origin: bool = False) -> float:
    """Share of y's variance a least-squares line in x explains (through the origin: y = b x)."""
    design = x[:, None] if origin else np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    res = y - design @ coef
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(res @ res) / total if total > 0 else math.nan


def _xy(run: list[Part]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p.level for p in run], float), np.array([p.value for p in run], float)


@register
class Exponential(Operator):
    name = "exponential"
    phrase = "grows exponentially with the level"
    summary = ("log(value) fits a line in the level better (R^2, log scale) than the value does "
               "(R^2, its own scale), in every series")

    def judge(self, claim, comp, tests, spec):
        bad, notes = [], []
        for run in runs(comp.parts):
            x, y = _xy(run)
            if (y <= 0).any() or len(run) < 3:
                bad.append(f"{run[0].label}: not a positive series of 3 levels or more")
                continue
            lin, log = r_squared(x, y), r_squared(x, np.log(y))
            steps = np.diff(np.log(y))
            name = run[0].label.rsplit(" ", 1)[0]
            text = (f"{name}: R^2 {log:.3f} (log) vs {lin:.3f} (linear), growth per step "
                    f"x{math.exp(steps.min()):.2f} to x{math.exp(steps.max()):.2f}")
            (notes if log > lin else bad).append(text)
        return Outcome(FAILS if bad else HOLDS, "; ".join(bad + notes))


@register
class Proportional(Operator):
    name = "proportional"
    stated = True
    tested = True
    summary = ("a significant dose-response, and a line through (0%, no change) explains at least "
               "the stated share (R^2) of the changes over the levels, in every series")

    def words(self, claim):
        return f"worse in proportion to the level (R^2 >= {claim.stated:g})"

    def tests(self, r, claim, comp, samples, alpha):
        return trend_tests(comp)

    def judge(self, claim, comp, tests, spec):
        trend = trend_outcome(comp, tests, spec.alpha, worse=True)
        bad, notes = [], []
        for run in runs(comp.parts):
            x, y = _xy(run)
            fit = r_squared(np.append(0.0, x), np.append(0.0, y), origin=True)
            name = run[0].label.rsplit(" ", 1)[0]
            (notes if fit >= claim.stated else bad).append(f"{name}: R^2 {fit:.3f} through the baseline")
        verdict = HOLDS if trend.verdict == HOLDS and not bad else FAILS
        return Outcome(verdict, "; ".join(bad + notes) + f"; dose-response: {trend.how}")


@register
class Recovers(Operator):
    name = "recovers"
    tested = True
    phrase = "falls, then recovers significantly"
    summary = ("in every series the largest rise from its lowest level so far to a later level "
               "is significant (a U-curve or non-monotonic behaviour, not noise)")

    def tests(self, r, claim, comp, samples, alpha):
        out = []
        for run in runs(comp.parts):
            if len(run) < 3:
                raise ReproError(f"claims.yaml: claim {claim.id}: 'recovers' needs 3 levels or more")
            sign = better_sign(run[0])
            best = None  # (rise, low part, later part)
            for j in range(1, len(run)):
                low = min(run[:j], key=lambda p: sign * p.value)
                rise = sign * (run[j].value - low.value)
                if best is None or rise > best[0]:
                    best = (rise, low, run[j])
            _, low, high = best
            t = compare(part_estimate(r, low, low.level), part_estimate(r, high, high.level),
                        "abs_change", 1.0, f"{high.label} from {low.level:g}%", alpha)
            t.effect = sign * (high.value - low.value)
            out.append(t)
        return out

    def judge(self, claim, comp, tests, spec):
        bad, notes = [], []
        for t in tests:
            ok = (t.effect or 0) > 0 and significant(t, spec.alpha)
            text = (f"{t.label}: {'+' if (t.effect or 0) > 0 else ''}{t.effect:.1f}"
                    f"{claim.unit or ''} ({p_text(t.p)})")
            (notes if ok else bad).append(text)
        return Outcome(FAILS if bad else HOLDS, "; ".join(bad + notes))

    def deciding(self, claim, comp, tests, spec):
        ps = [t.p if t.p is not None else 1.0 for t in tests]
        return max(range(len(ps)), key=lambda k: ps[k]), "the weakest recovery"
