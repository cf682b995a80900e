"""The tests a quantity offers, whatever the claim says about it: each part's level against
its reference level (paired on a reproduction's per-document scores where it has them), a
peak against the runner-up, a correlation's own test. Operators that judge something else
(a trend, two models, two tasks) build their tests themselves.
"""

from __future__ import annotations

from repro.config.claims import Claim
from repro.report.claims.paired import Samples, paired_test
from repro.report.claims.quantities import CHANGES, CORRELATIONS, Computed, Reader
from repro.report.claims.significance import Test, correlation_test, part_test, peak_test


def part_tests(r: Reader, claim: Claim, comp: Computed, samples: Samples | None,
               alpha: float) -> list[Test]:
    """One test per part (a level against the reference, a peak against the runner-up), one
    for a correlation; [] where the quantity compares nothing."""
    kind = claim.quantity.of
    if kind in CORRELATIONS:
        return [correlation_test(comp.extra["points"], comp.extra["correlation"], kind)]
    if kind in ("argmax_level", "argmin_level"):
        return [peak_test(r, p) for p in comp.parts]
    if kind not in CHANGES:
        return []
    out = []
    for p in comp.parts:
        t = paired_test(samples, p, alpha) if samples else None
        out.append(t if t is not None else part_test(r, p, alpha))
    if kind == "value" and all(t.p is None and t.ci is None for t in out):
        return []  # a recorded value without a spread (shots, hours): nothing to test
    return out
