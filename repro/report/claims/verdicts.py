"""Verdicts: what each word means, the consistency of claims that state one quantity twice,
and the tally.

Published data, each claim's own verdict (how its operator judges it: operators/):
  holds             what the claim states, to its stated digits (a number) or as a test at
                    alpha (a significant change, a trend, a shape; "stable": shown within
                    the margin)
  fails             it does not; each failure is substantive, a rounding (a figure rounded
                    twice) or a plan (an early draft's intention, not a result)
  not contradicted  a claim that nothing changes, which the data neither show (equivalence)
                    nor contradict: underpowered, with the change they could have detected
  no rule stated    a "best configuration" the seeds give no rule for
  not run           the published data cannot hold the quantity (run time, memory...)
  error             the data miss what the claim needs (a kit or data problem)
A reproduction is judged on substance: reproduced, partly reproduced, not reproduced, not
contradicted, no rule stated, not run.
"""

from __future__ import annotations

from repro.config.claims import Claim
from repro.report.claims.operators import FAILS, operator

FAILURE_KINDS = ("substantive", "rounding", "plan")


def check(computed, stated, tol: float, op: str = "~") -> bool:
    """A number against the stated one(s) under a numeric operator (~, >=, <=, in)."""
    return operator(op).holds(computed, stated, tol)


def interval(claim: Claim) -> tuple[float, float] | None:
    """What a claim's stated value admits, as an interval (None: no number)."""
    return operator(claim.op).interval(claim)


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


def failure_kind(claim: Claim, verdict: str, rounding: bool) -> str:
    """Why a published verdict is 'fails': a plan, a rounding, or the substance ('' if it holds)."""
    if verdict != FAILS:
        return ""
    if claim.nature == "plan":
        return "plan"
    return "rounding" if rounding else "substantive"


def tally(table: list[dict], source: str) -> dict[str, int]:
    """Each claim counted once, by its own verdict (group inconsistency is reported beside)."""
    out: dict[str, int] = {}
    for t in table:
        out[t[f"{source}_verdict"]] = out.get(t[f"{source}_verdict"], 0) + 1
    return dict(sorted(out.items()))


def failures(table: list[dict]) -> dict[str, list[str]]:
    """The published failures by kind: substantive, rounding, plan (claim ids, in order)."""
    out: dict[str, list[str]] = {k: [] for k in FAILURE_KINDS}
    for t in table:
        if t["paper_verdict"] == FAILS:
            out[t["failure"]].append(t["id"])
    return out
