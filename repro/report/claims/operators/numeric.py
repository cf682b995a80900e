"""Claims of a number: ~ (within the tolerance of the stated number or [low, high] ends),
>= and <= (a bound), in (inside a stated range), any (some part within the tolerance).

On published data the stated digits decide. A reproduction never matches digits: it is
judged on substance (is the stated value inside its 95% interval, has the effect the stated
direction, is it significant).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from repro.config.claims import Claim, ClaimsFile
from repro.core.errors import ReproError
from repro.report.claims.operators.base import FAILS, HOLDS, Operator, Outcome, register
from repro.report.claims.quantities import Computed
from repro.report.claims.significance import Test


def lo(v):
    return v[0] if isinstance(v, tuple | list) else v


def hi(v):
    return v[1] if isinstance(v, tuple | list) else v


def ends(computed) -> tuple[float, float]:
    return computed if isinstance(computed, tuple) else (computed, computed)


class Numeric(Operator):
    stated = True
    numeric = True
    prefix = ""

    def holds(self, computed, stated, tol: float) -> bool:
        raise NotImplementedError

    def words(self, claim: Claim) -> str:
        from repro.report.formatting import fmt_number

        return self.prefix + fmt_number(claim.stated, claim.digits, claim.unit)

    def judge(self, claim: Claim, comp: Computed, tests: list[Test], spec: ClaimsFile) -> Outcome:
        if self.holds(comp.value, claim.stated, claim.tolerance):
            return Outcome(HOLDS)
        from repro.report.formatting import fmt_number

        lo_, hi_ = self.interval(claim)
        admits = (f"at least {fmt_number(lo_, claim.digits + 1)}" if hi_ == math.inf else
                  f"at most {fmt_number(hi_, claim.digits + 1)}" if lo_ == -math.inf else
                  f"{fmt_number(lo_, claim.digits + 1)} .. {fmt_number(hi_, claim.digits + 1)}")
        return Outcome(FAILS, rounding_excess(claim, comp.value) or
                       f"{fmt_number(comp.value, claim.digits + 1, claim.unit)} where the claim "
                       f"admits {admits}{claim.unit}")

    def interval(self, claim: Claim) -> tuple[float, float]:
        return lo(claim.stated) - claim.tolerance, hi(claim.stated) + claim.tolerance

    def deciding(self, claim: Claim, comp: Computed, tests: list[Test], spec: ClaimsFile) -> tuple[int, str]:
        vals = [p.value for p in comp.parts]
        if comp.pick is None and self.name in ("<=", ">=") and len(vals) == len(tests):
            pick = max if self.name == "<=" else min  # the part nearest the bound decides
            return vals.index(pick(vals)), "the deciding"
        return super().deciding(claim, comp, tests, spec)

    def reproduction(self, claim, comp, tests, spec, outcome) -> tuple[str, str]:
        """reproduced / partly reproduced / not reproduced, on substance. Without an interval
        (counts, widths, levels) the stated digits decide."""
        holds = outcome.verdict == HOLDS
        if not tests or any(t.ci is None for t in tests):
            return ("reproduced" if holds else "not reproduced",
                    ("as the claim states" if holds else "not as the claim states")
                    + "; no 95% interval: checked to the stated digits")
        stated, tol = claim.stated, claim.tolerance
        inside = [self.inside(t.ci, stated, tol) for t in tests]
        effect_claim = all(t.p is not None for t in tests)
        sign = math.copysign(1, lo(stated)) if lo(stated) * hi(stated) > 0 else 0
        same = sign == 0 or all(t.effect is not None and t.effect * sign > 0 for t in tests)
        sig = effect_claim and all(t.p < spec.alpha for t in tests)
        parts = []
        if effect_claim:
            parts.append("direction reproduced" if same and sign else
                         "no stated direction" if not sign else "direction not reproduced")
            parts.append("significant" if sig else "not significant")
        parts.append("stated value inside the interval" if all(inside) else
                     "stated value outside the interval")
        if all(inside) and (not effect_claim or (same and sig) or not sign):
            word = "reproduced"
        elif (same and sig) or all(inside):
            word = "partly reproduced"
        else:
            word = "not reproduced"
        return word, ", ".join(parts)

    def inside(self, ci, stated, tol) -> bool:
        return ci[0] <= hi(stated) + tol and ci[1] >= lo(stated) - tol


@register
class Approx(Numeric):
    name = "~"
    summary = "the computed value (every end of a range) within the tolerance of the stated one"

    def holds(self, computed, stated, tol):
        a, b = ends(computed)
        if isinstance(stated, tuple | list):
            return abs(a - stated[0]) <= tol and abs(b - stated[1]) <= tol
        return abs(a - stated) <= tol and abs(b - stated) <= tol


@register
class AtLeast(Numeric):
    name = ">="
    prefix = "at least "
    summary = "every part at least the stated bound (less the tolerance)"

    def holds(self, computed, stated, tol):
        return ends(computed)[0] >= lo(stated) - tol

    def interval(self, claim):
        return lo(claim.stated) - claim.tolerance, math.inf

    def inside(self, ci, stated, tol):
        return ci[1] >= lo(stated) - tol


@register
class AtMost(Numeric):
    name = "<="
    prefix = "at most "
    summary = "every part at most the stated bound (plus the tolerance)"

    def holds(self, computed, stated, tol):
        return ends(computed)[1] <= hi(stated) + tol

    def interval(self, claim):
        return -math.inf, hi(claim.stated) + claim.tolerance

    def inside(self, ci, stated, tol):
        return ci[0] <= hi(stated) + tol


@register
class Within(Numeric):
    name = "in"
    prefix = "within "
    summary = "every part inside the stated [low, high] range (widened by the tolerance)"

    def check(self, claim):
        super().check(claim)
        if not isinstance(claim.stated, tuple):
            raise ReproError(f"claims.yaml: claim {claim.id}: op 'in' takes stated [low, high]")

    def holds(self, computed, stated, tol):
        a, b = ends(computed)
        return a >= lo(stated) - tol and b <= hi(stated) + tol


@register
class AnyPart(Numeric):
    name = "any"
    prefix = "in some reading: "
    summary = "some part (one reading of an ambiguous scope) within the tolerance of the stated value"

    def judge(self, claim, comp, tests, spec):
        ok = [p.label for p in comp.parts if abs(p.value - claim.stated) <= claim.tolerance]
        return Outcome(HOLDS, "matches " + ", ".join(ok)) if ok else Outcome(FAILS, "no part matches")

    def interval(self, claim):
        return None  # each reading admits its own value: no group conflict from it

    def reproduction(self, claim, comp, tests, spec, outcome):
        return Operator.reproduction(self, claim, comp, tests, spec, outcome)

    def value_text(self, claim, comp, fmt):
        return "; ".join(f"{p.label} {fmt(p.value, claim.digits, claim.unit)}" for p in comp.parts)


def _half_up(v: float, digits: int) -> float:
    return float(Decimal(repr(v)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def rounding_excess(claim: Claim, computed) -> str | None:
    """Why a number stated to d digits misses: it is the value rounded twice (to d + 1 digits,
    then to d, half up: 46.47 -> 46.5 -> 47), as a README that rounds a rounded figure prints
    it. None when the miss is more than rounding. d comes from the tolerance (0.5: units)."""
    tol = claim.tolerance
    if tol <= 0 or not isinstance(claim.stated, float | int | tuple):
        return None
    digits = -math.log10(2 * tol)
    if abs(digits - round(digits)) > 1e-9 or round(digits) < 0:
        return None  # not half a unit of a printed digit ("about" tolerances)
    d = round(digits)
    pairs = zip(ends(computed), (lo(claim.stated), hi(claim.stated)), strict=True)
    for value, stated in pairs:
        twice = _half_up(_half_up(value, d + 1), d)
        if abs(value - stated) > tol and abs(twice - stated) > 1e-9:
            return None
    shown = "/".join(f"{v:.{d + 2}f}" for v in dict.fromkeys(ends(computed)))
    return (f"a rounding excess: {shown} rounded to {d + 1} then {d} digit(s), half up, "
            "prints as stated")
