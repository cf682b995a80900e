"""Claims that something does not happen ("stable", "robust", "no decline", "minimal"),
judged as equivalence, not as a failure to reject: each level's change is compared with a
stated margin (the claim's `margin`, else the file's, in the claim's unit), using the
(1 - 2 alpha) interval (TOST: 90% at alpha 0.05).

    not_worse   no level worse than the margin allows (non-inferiority)
    not_better  no level better than the margin allows (non-superiority)
    stable      every level within the margin on both sides (equivalence)

Per level: shown (the interval inside the margin), contradicted (a significant change the
forbidden way that is not shown inside the margin; without a standard error, a point estimate
beyond the margin), or undecided. The claim holds when every level is shown, fails when one is
contradicted, and is otherwise "not contradicted", with the change the data could have
detected (at the file's power and alpha): underpowered, not confirmed.
"""

from __future__ import annotations

from repro.config.claims import ClaimsFile
from repro.report.claims.operators.base import (
    FAILS,
    HOLDS,
    UNDERPOWERED,
    Operator,
    Outcome,
    better_sign,
    gain,
    p_text,
    register,
    unit_of,
)
from repro.report.claims.quantities import Part
from repro.report.claims.significance import Test

SHOWN, CONTRADICTED, UNDECIDED = "shown", "contradicted", "undecided"


class Absence(Operator):
    tested = True
    low = True                         # the margin bounds declines
    high = False                       # the margin bounds gains
    moved = "worse"

    def words(self, claim):
        from repro.config.claims import claims_file

        return f"{self.phrase}, margin ±{claims_file().margin_of(claim):g}{unit_of(claim)}"

    def state(self, part: Part, t: Test, m: float, alpha: float) -> tuple[str, str]:
        g = gain(part)
        forbidden = (self.low and g < 0) or (self.high and g > 0)
        if t.p is None or t.ci_equiv is None:
            if forbidden and abs(g) > m:
                return CONTRADICTED, f"{part.label} {part.value:+.1f} beyond the margin (no standard error)"
            return UNDECIDED, f"{part.label} untested (no standard error)"
        lo, hi = sorted(better_sign(part) * x for x in t.ci_equiv)
        if (not self.low or lo > -m) and (not self.high or hi < m):
            return SHOWN, f"{part.label} [{lo:+.1f}, {hi:+.1f}]"
        if forbidden and t.p < alpha:
            return CONTRADICTED, f"{part.label} significantly {self.moved} ({p_text(t.p)})"
        return UNDECIDED, f"{part.label} [{lo:+.1f}, {hi:+.1f}]"

    def judge(self, claim, comp, tests, spec: ClaimsFile) -> Outcome:
        m, unit = spec.margin_of(claim), unit_of(claim)
        states = [self.state(p, t, m, spec.alpha) for p, t in zip(comp.parts, tests, strict=True)]
        kinds = [s for s, _ in states]
        interval = f"{100 * (1 - 2 * spec.alpha):g}% intervals, signed so that more is better"
        if CONTRADICTED in kinds:
            return Outcome(FAILS, "; ".join(x for s, x in states if s == CONTRADICTED))
        if all(s == SHOWN for s in kinds):
            return Outcome(HOLDS, f"every level within the ±{m:g}{unit} margin ({interval}: "
                                  + "; ".join(x for _, x in states) + ")")
        shown = kinds.count(SHOWN)
        return Outcome(UNDERPOWERED, f"underpowered: {detectable(comp.parts, tests, spec)}; "
                                     f"{shown} of {len(kinds)} levels shown within ±{m:g}"
                                     f"{unit} ({interval}: "
                                     + "; ".join(x for s, x in states if s == UNDECIDED) + ")")

    def deciding(self, claim, comp, tests, spec):
        """A contradicting level (the most significant), else the level whose interval comes
        nearest the margin, or goes furthest past it."""
        m = spec.margin_of(claim)
        states = [self.state(p, t, m, spec.alpha)[0] for p, t in zip(comp.parts, tests, strict=True)]
        against = [k for k, s in enumerate(states) if s == CONTRADICTED]
        if against:
            return min(against, key=lambda k: tests[k].p if tests[k].p is not None else 1.0), "the deciding"
        return min(range(len(tests)), key=lambda k: self.slack(comp.parts[k], tests[k], m)), "the nearest the margin"

    def slack(self, part: Part, t: Test, m: float) -> float:
        """How far the level's interval stays inside the margin (negative: outside)."""
        if t.ci_equiv is None:
            return -abs(gain(part)) + m
        lo, hi = sorted(better_sign(part) * x for x in t.ci_equiv)
        return min(lo + m if self.low else float("inf"), m - hi if self.high else float("inf"))


def detectable(parts: list[Part], tests: list[Test], spec: ClaimsFile) -> str:
    """'detectable change X': the largest change an undecided level could have shown at the
    file's power and alpha (claim's unit; in points where the scores are shares)."""
    best = None
    for t in tests:
        d = t.detectable(spec.alpha, spec.power)
        if d is not None and (best is None or d > best[0]):
            best = (d, t)
    if best is None:
        return "no standard error to size the test"
    d, t = best
    unit = "%" if parts[0].kind in ("rel_change", "retained") else ""
    shown = f"{d * t.points:.1f} points ({d:.0f}{unit} of the baseline)" if t.points else f"{d:.2g}{unit}"
    return f"detectable change {shown} at {100 * spec.power:g}% power"


@register
class NotWorse(Absence):
    name = "not_worse"
    phrase = "no decline (stable or improves)"
    summary = ("no level worse than the margin: non-inferiority; fails on a significant decline, "
               "else 'not contradicted' with the detectable change")


@register
class NotBetter(Absence):
    name = "not_better"
    low, high = False, True
    moved = "better"
    phrase = "no gain (negative or minimal)"
    summary = "no level better than the margin: non-superiority (as not_worse, mirrored)"


@register
class Stable(Absence):
    name = "stable"
    low, high = True, True
    moved = "changed"
    phrase = "no change (stable)"
    summary = "every level within the margin on both sides: equivalence (TOST)"
