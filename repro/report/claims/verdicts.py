"""Verdicts: a claim against the published figures (to its stated digits), against a
reproduction (on substance), and the consistency of claims that state one quantity twice.

Published data, each claim's own verdict:
  holds / fails       the stated number within the tolerance applied (or the bound, range,
                      peak, trend, significant change or its absence the claim states)
  no rule stated      a "best configuration" the seeds give no rule for: shown with the
                      trade-off per level; it turns to fails if another level is at least as
                      good on every task and better on one (no rule could then prefer it)
  not run             the published data cannot hold the quantity (run time, memory...)
  error               the data miss what the claim needs (a kit or data problem)
A reproduction never matches digits: it is judged on substance (`reproduction`).
"""

from __future__ import annotations

import math

from repro.config.claims import NUMERIC_OPS, TEST_OPS, Claim
from repro.report.claims.quantities import Computed, direction
from repro.report.claims.significance import Test, runs


def lo(v):
    return v[0] if isinstance(v, tuple | list) else v


def hi(v):
    return v[1] if isinstance(v, tuple | list) else v


def check(computed, stated, tol: float, op: str = "~") -> bool:
    """The numeric ops: ~ (every end within tol), >=, <=, in (inside the stated range), any."""
    a, b = (computed if isinstance(computed, tuple) else (computed, computed))
    if op == ">=":
        return a >= lo(stated) - tol
    if op == "<=":
        return b <= hi(stated) + tol
    if op == "in":
        return a >= lo(stated) - tol and b <= hi(stated) + tol
    if op == "any":
        raise ValueError("op 'any' is judged per part (verdicts.judge)")
    if isinstance(stated, tuple | list):
        return abs(a - stated[0]) <= tol and abs(b - stated[1]) <= tol
    return abs(a - stated) <= tol and abs(b - stated) <= tol


def worsened(test: Test, part) -> bool:
    task, metric, _ = part.cells[0]
    better = direction(task, metric)
    raw = part.value if part.kind != "retained" else part.value - 100.0
    return raw < 0 if better == "higher" else raw > 0


def judge(claim: Claim, comp: Computed, tests: list[Test], alpha: float) -> tuple[bool, str]:
    """(holds, how it was decided) on one source's numbers."""
    op = claim.op
    if op == "any":
        ok = [p.label for p in comp.parts if abs(p.value - claim.stated) <= claim.tolerance]
        return bool(ok), ("matches " + ", ".join(ok)) if ok else "no part matches"
    if op in NUMERIC_OPS:
        return check(comp.value, claim.stated, claim.tolerance, op), ""
    if op == "undominated":
        beaten = comp.extra["beaten_by"].get(float(claim.stated))
        table = comp.extra["table"]
        tasks = list(next(iter(table.values())))
        evidence = (f"trade-off per level, % change ({', '.join(tasks)}; signed, more is "
                    "better): " + "; ".join(f"{lv:g}%: " + "/".join(f"{row[t]:+.1f}" for t in tasks)
                                            for lv, row in sorted(table.items())))
        if beaten is None:
            return False, f"no level {claim.stated:g}% in the data"
        if beaten:
            return False, ("beaten on every task by " + ", ".join(f"{lv:g}%" for lv in beaten)
                           + "; " + evidence)
        return True, "no other level is at least as good on every task; " + evidence
    if op == "increasing":
        drops = [f"{b.label} (from {a.level:g}%)" for run in runs(comp.parts)
                 for a, b in zip(run, run[1:], strict=False) if b.value < a.value]
        return not drops, ("falls at " + ", ".join(drops)) if drops else "never falls"
    if op == "rising":
        bad = [f"{t.label}: {'not significant' if t.p is None or t.p >= alpha else 'falling'}"
               for t in tests if t.p is None or t.p >= alpha or (t.effect or 0) <= 0]
        return not bad, "; ".join(bad) or f"a significant rising trend (alpha {alpha:g})"
    assert op in TEST_OPS, op
    bad = []
    for p, t in zip(comp.parts, tests, strict=True):
        worse = worsened(t, p)
        sig = t.p is not None and t.p < alpha
        testable = t.p is not None
        if op == "worse" and not (worse and (sig or not testable)):
            bad.append(f"{p.label} {'not significant' if worse else 'improves'}")
        if op == "not_worse" and worse and (sig or not testable):
            bad.append(f"{p.label} significantly worse" if testable else f"{p.label} worse (untested)")
        if op == "stable" and (sig or not testable):
            bad.append(f"{p.label} {'changes significantly' if testable else 'untested'}")
        if op == "not_better" and not worse and sig:
            bad.append(f"{p.label} significantly better")
    untested = sum(t.p is None for t in tests)
    how = "; ".join(bad) if bad else f"every level as stated (alpha {alpha:g})"
    if untested:
        how += f"; {untested} of {len(tests)} judged on direction only (not testable)"
    return not bad, how


def deciding(claim: Claim, comp: Computed, tests: list[Test]) -> int:
    """The part that decides a test claim: for 'worse' the weakest decline; for 'not_worse'
    ('not_better') the most significant decline (gain), else the smallest gain (decline); for
    'stable' the most significant change."""
    p = [t.p if t.p is not None else 1.0 for t in tests]
    bad = [worsened(t, part) for t, part in zip(tests, comp.parts, strict=True)]
    size = [abs(part.value - (100.0 if part.kind == "retained" else 0.0)) for part in comp.parts]
    idx = range(len(tests))
    if claim.op == "worse":
        return max(idx, key=lambda k: (not bad[k], p[k]))
    if claim.op == "stable":
        return min(idx, key=lambda k: p[k])
    against = [k for k in idx if bad[k] == (claim.op == "not_worse")]
    if against:
        return min(against, key=lambda k: p[k])
    return min(idx, key=lambda k: size[k])


def paper_verdict(claim: Claim, holds: bool) -> str:
    if claim.op == "undominated":
        return "no rule stated" if holds else "fails"
    return "holds" if holds else "fails"


def interval(claim: Claim) -> tuple[float, float] | None:
    """What a claim's stated value admits, as an interval (None: a test, no number)."""
    if claim.op not in NUMERIC_OPS or claim.op == "any":
        return None
    s, t = claim.stated, claim.tolerance
    if claim.op == ">=":
        return lo(s) - t, math.inf
    if claim.op == "<=":
        return -math.inf, hi(s) + t
    return lo(s) - t, hi(s) + t


def inconsistent(claims: list[Claim]) -> dict[str, list[str]]:
    """Claim id -> the ids in its group whose stated values it cannot agree with: two claims
    about one quantity conflict when what each admits (value +- tolerance, a bound, a range)
    has nothing in common. Two lower bounds never conflict."""
    groups: dict[str, list[Claim]] = {}
    for c in claims:
        if c.group:
            groups.setdefault(c.group, []).append(c)
    out: dict[str, list[str]] = {}
    for members in groups.values():
        for a in members:
            for b in members:
                ia, ib = interval(a), interval(b)
                if a is b or ia is None or ib is None:
                    continue
                if max(ia[0], ib[0]) > min(ia[1], ib[1]):
                    out.setdefault(a.id, []).append(b.id)
    return out


def reproduction(claim: Claim, comp: Computed, tests: list[Test], alpha: float,
                 holds: bool) -> tuple[str, str]:
    """(verdict, detail): reproduced / partly reproduced / not reproduced, on substance: is the
    stated value inside the reproduction's 95% interval, has the effect the stated direction,
    is it significant. Without an interval (counts, widths, levels) the stated digits decide."""
    if claim.op == "undominated":
        return ("no rule stated", "no other level is at least as good on every task") if holds \
            else ("not reproduced", "another level is at least as good on every task")
    if claim.op not in NUMERIC_OPS or claim.op == "any" or not tests or any(t.ci is None for t in tests):
        word = "reproduced" if holds else "not reproduced"
        return word, ("as the claim states" if holds else "not as the claim states") + (
            "" if claim.op not in NUMERIC_OPS else "; no 95% interval: checked to the stated digits")
    stated = claim.stated
    inside = []
    for t in tests:
        if claim.op in ("~", "in"):
            inside.append(t.ci[0] <= hi(stated) + claim.tolerance and t.ci[1] >= lo(stated) - claim.tolerance)
        elif claim.op == ">=":
            inside.append(t.ci[1] >= lo(stated) - claim.tolerance)
        else:
            inside.append(t.ci[0] <= hi(stated) + claim.tolerance)
    effect_claim = all(t.p is not None for t in tests)
    sign = math.copysign(1, lo(stated)) if lo(stated) * hi(stated) > 0 else 0
    same = sign == 0 or all(t.effect is not None and t.effect * sign > 0 for t in tests)
    sig = effect_claim and all(t.p < alpha for t in tests)
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


def tally(table: list[dict], source: str) -> dict[str, int]:
    """Each claim counted once, by its own verdict (group inconsistency is reported beside)."""
    out: dict[str, int] = {}
    for t in table:
        out[t[f"{source}_verdict"]] = out.get(t[f"{source}_verdict"], 0) + 1
    return dict(sorted(out.items()))
