"""Claims of an effect, judged by significance tests at the file's alpha: the burden of proof is
on the claim, so a change that is not significant does not hold.

    worse       significantly worse than the reference at every level
    better      significantly better than the reference at every level
    degrades    worse at every level, and worse the more is pruned: a falling dose-response
                (Spearman over the pruned levels, exact permutation p) in every model

A perplexity has no standard error in the published files: it is judged on direction and
says so. The published data are tested unpaired, which overstates the standard error of a
change (the models answer the same items): conservative for these claims, and the verdict
says so where a change was not significant.
"""

from __future__ import annotations

from repro.config.claims import Claim, ClaimsFile
from repro.report.claims.operators.base import (
    FAILS,
    HOLDS,
    Operator,
    Outcome,
    gain,
    register,
    significant,
)
from repro.report.claims.operators.shape import trend_outcome, trend_tests
from repro.report.claims.quantities import Computed
from repro.report.claims.significance import Test

UNPAIRED = ("unpaired tests overstate a change's standard error (the models answer the same "
            "items): conservative here; a reproduction's paired tests are sharper")


class Effect(Operator):
    tested = True
    sign = -1                          # -1: the claim is a decline, +1: a gain
    word = "worse"
    other = "improves"

    def failures(self, comp: Computed, tests: list[Test], alpha: float) -> list[str]:
        bad = []
        for p, t in zip(comp.parts, tests, strict=False):
            moved = gain(p) * self.sign > 0
            if not (moved and (significant(t, alpha) or t.p is None)):
                bad.append(f"{p.label} {'not significant' if moved else self.other}")
        return bad

    def judge(self, claim: Claim, comp: Computed, tests: list[Test], spec: ClaimsFile) -> Outcome:
        level_tests = tests[:len(comp.parts)]
        bad = self.failures(comp, level_tests, spec.alpha)
        how = "; ".join(bad) if bad else f"every level significantly {self.word} (alpha {spec.alpha:g})"
        untested = sum(t.p is None for t in level_tests)
        if untested:
            how += f"; {untested} of {len(level_tests)} judged on direction only (no standard error)"
        if any("not significant" in b for b in bad) and any("unpaired" in t.test for t in level_tests):
            how += f" ({UNPAIRED})"
        return Outcome(FAILS if bad else HOLDS, how)

    def deciding(self, claim: Claim, comp: Computed, tests: list[Test], spec: ClaimsFile) -> tuple[int, str]:
        """The weakest change the claim's way (a change the other way first)."""
        p = [t.p if t.p is not None else 1.0 for t in tests[:len(comp.parts)]]
        moved = [gain(part) * self.sign > 0 for part in comp.parts]
        return max(range(len(p)), key=lambda k: (not moved[k], p[k])), "the deciding"


@register
class Worse(Effect):
    name = "worse"
    phrase = "degrades significantly at every level"
    summary = "every level significantly worse than its reference (perplexity: on direction)"


@register
class Better(Effect):
    name = "better"
    sign = 1
    word = "better"
    other = "declines"
    phrase = "improves significantly at every level"
    summary = "every level significantly better than its reference (perplexity: on direction)"


@register
class Degrades(Effect):
    name = "degrades"
    phrase = "degrades at every level, and more the more is pruned"
    summary = ("every level significantly worse, and a falling dose-response over the pruned "
               "levels (Spearman, exact p) in every model")

    def tests(self, r, claim, comp, samples, alpha):
        return super().tests(r, claim, comp, samples, alpha) + trend_tests(comp)

    def judge(self, claim, comp, tests, spec):
        levels = super().judge(claim, comp, tests, spec)
        trend = trend_outcome(comp, tests[len(comp.parts):], spec.alpha, want=-1, worse=True)
        verdict = HOLDS if levels.verdict == HOLDS and trend.verdict == HOLDS else FAILS
        return Outcome(verdict, f"{levels.how}; dose-response: {trend.how}")

    def deciding(self, claim, comp, tests, spec):
        """The weakest dose-response where that part fails, else the weakest level."""
        trend = tests[len(comp.parts):]
        if trend and trend_outcome(comp, trend, spec.alpha, worse=True).verdict == FAILS:
            ps = [t.p if t.p is not None else 1.0 for t in trend]
            return len(comp.parts) + max(range(len(ps)), key=lambda k: ps[k]), "the dose-response"
        return super().deciding(claim, comp, tests, spec)
