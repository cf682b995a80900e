"""What every claim operator is, and the registry that maps claims.yaml's `op` to one.

An operator knows, for the claims that use it:
    check(claim)        what the claim must give (a stated value, a [low, high] pair...)
    words(claim)        how the report words what the claim states
    tests(...)          the tests its verdict rests on (by default one per part: a level
                        against its reference level)
    judge(...)          the verdict on one source's numbers, and how it was decided
    interval(claim)     what a stated value admits (claims of one quantity must overlap)
    deciding(...)       the part whose test the significance column shows, and why that one
    reproduction(...)   a reproduction's verdict, judged on substance
Adding an operator is one subclass, decorated with @register, in this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from repro.config.claims import Claim, ClaimsFile
from repro.core.errors import ReproError
from repro.report.claims.quantities import Computed, Part, direction
from repro.report.claims.significance import Test

HOLDS, FAILS, UNDERPOWERED, NO_RULE = "holds", "fails", "not contradicted", "no rule stated"
REGISTRY: dict[str, Operator] = {}


@dataclass
class Outcome:
    verdict: str                      # HOLDS, FAILS, UNDERPOWERED or NO_RULE
    how: str = ""                     # how it was decided, in a phrase


def register(cls):
    REGISTRY[cls.name] = cls()
    return cls


class Operator:
    name: ClassVar[str]
    summary: ClassVar[str]            # what 'holds' means, for --help and the legend
    phrase: ClassVar[str] = ""        # the 'stated' column of a claim without a number
    stated: ClassVar[bool] = False    # the claim gives a stated value
    numeric: ClassVar[bool] = False   # a number compared with the stated one
    tested: ClassVar[bool] = False    # the verdict rests on tests, run before judging

    def check(self, claim: Claim) -> None:
        if self.stated != (claim.stated is not None):
            raise ReproError(f"claims.yaml: claim {claim.id}: op '{self.name}' "
                             + ("needs a stated value" if self.stated else "takes no stated value"))

    def words(self, claim: Claim) -> str:
        return self.phrase

    def tests(self, r, claim: Claim, comp: Computed, samples, alpha: float) -> list[Test]:
        from repro.report.claims.comparisons import part_tests

        return part_tests(r, claim, comp, samples, alpha)

    def judge(self, claim: Claim, comp: Computed, tests: list[Test], spec: ClaimsFile) -> Outcome:
        raise NotImplementedError

    def interval(self, claim: Claim) -> tuple[float, float] | None:
        return None

    def deciding(self, claim: Claim, comp: Computed, tests: list[Test], spec: ClaimsFile) -> tuple[int, str]:
        """(index of the deciding test, what it is): the extreme part the claim names, else
        the weakest comparison."""
        if comp.pick is not None and comp.pick < len(tests):
            return comp.pick, "the extreme"
        ps = [t.p if t.p is not None else -1.0 for t in tests]
        return max(range(len(ps)), key=lambda k: ps[k]), "the weakest"

    def reproduction(self, claim: Claim, comp: Computed, tests: list[Test], spec: ClaimsFile,
                     outcome: Outcome) -> tuple[str, str]:
        """A reproduction of a claim without a stated number: what its own verdict says."""
        word = {HOLDS: "reproduced", UNDERPOWERED: UNDERPOWERED}.get(outcome.verdict, "not reproduced")
        return word, "as the claim states" if outcome.verdict == HOLDS else outcome.how

    def value_text(self, claim: Claim, comp: Computed, fmt) -> str:
        if len(comp.parts) > 1:
            return "; ".join(f"{p.label} {fmt(p.value, claim.digits, unit_of(claim))}"
                             for p in comp.parts)
        return fmt(comp.value, claim.digits, unit_of(claim))


def better_sign(part: Part) -> int:
    """+1 where a higher value is better for the part's score, -1 where lower is (perplexity,
    latency, energy)."""
    task, metric, _ = part.cells[0]
    return 1 if direction(task, metric) == "higher" else -1


def gain(part: Part) -> float:
    """The part's change signed so that more is better (0: no change)."""
    off = 100.0 if part.kind == "retained" else 0.0
    return better_sign(part) * (part.value - off)


def unit_of(claim: Claim) -> str:
    """The claim's unit; a change relative to the baseline is in % even where none is given."""
    if claim.unit:
        return claim.unit
    return "%" if claim.quantity.of in ("rel_change", "retained") else ""


def p_text(p: float | None) -> str:
    if p is None:
        return "untested"
    return "p < 1e-300" if p == 0 else f"p = {p:.2g}" if p < 0.001 else f"p = {p:.3f}"


def significant(t: Test, alpha: float) -> bool:
    return t.p is not None and t.p < alpha
