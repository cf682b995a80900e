"""Claims that compare parts with each other rather than with a number:

    undominated   a "best" level the seeds give no rule for: "no rule stated", shown with the
                  trade-off per level; fails if another level is at least as good on every task
                  and better on one (no rule could then prefer it)
    worse_than    the first model's change is significantly worse than the second model's, for
                  every task and level listed ("3B degrades more than 1B")
    worst         the first task's change is the worst of the tasks listed, significantly ahead
                  of the runner-up, for every model and level ("the most fragile task")

Two changes are compared by a z-test on their difference (independent estimates; their
standard errors from each level's own test); a perplexity, with none, on direction.
"""

from __future__ import annotations

import math

from repro.report.claims.operators.base import (
    FAILS,
    HOLDS,
    NO_RULE,
    Operator,
    Outcome,
    gain,
    p_text,
    register,
    significant,
    unit_of,
)
from repro.report.claims.quantities import as_list
from repro.report.claims.significance import Test, Z, _sf
from repro.report.formatting import fmt_number
from repro.report.queries import display_name


@register
class Undominated(Operator):
    name = "undominated"
    stated = True
    summary = ("'no rule stated' for a best level the seeds give no rule for; fails if another "
               "level is at least as good on every task of the trade-off and better on one")

    def words(self, claim):
        return f"best at {claim.stated:g}%"

    def judge(self, claim, comp, tests, spec):
        beaten = comp.extra["beaten_by"].get(float(claim.stated))
        table = comp.extra["table"]
        tasks = list(next(iter(table.values())))
        evidence = (f"trade-off per level, % change ({', '.join(tasks)}; signed, more is "
                    "better): " + "; ".join(f"{lv:g}%: " + " / ".join(f"{row[t]:+.1f}" for t in tasks)
                                            for lv, row in sorted(table.items())))
        if beaten is None:
            return Outcome(FAILS, f"no level {claim.stated:g}% in the data")
        if beaten:
            return Outcome(FAILS, "beaten on every task by " + ", ".join(f"{lv:g}%" for lv in beaten)
                           + "; " + evidence)
        return Outcome(NO_RULE, "no other level is at least as good on every task; " + evidence)

    def reproduction(self, claim, comp, tests, spec, outcome):
        if outcome.verdict == NO_RULE:
            return NO_RULE, "no other level is at least as good on every task"
        return "not reproduced", "another level is at least as good on every task"

    def value_text(self, claim, comp, fmt):
        return "unbeaten: " + ", ".join(f"{lv:g}" for lv in comp.value) + "%"


def gap_test(a, ta: Test, b, tb: Test, label: str) -> Test:
    """a's change against b's: effect a - b (claim's unit) with its 95% interval; `worse`
    says whether a's change is the worse one for its score."""
    d = a.value - b.value
    worse = gain(a) < gain(b)
    if ta.se is None or tb.se is None:
        t = Test("on direction (no standard error)", None, None, None, label, d)
    else:
        se = math.hypot(ta.se, tb.se)
        p = 2 * _sf(d / se, math.inf) if se > 0 else (1.0 if d == 0 else 0.0)
        t = Test("z-test of two changes, independent, approximate", p, (d - Z * se, d + Z * se),
                 None, label, d, se)
    t.worse = worse
    return t


def _name(cells) -> str:
    from repro.config.metrics import metrics

    cols = metrics().columns
    return "+".join(cols[c[0]].label if c[0] in cols else c[0] for c in cells)


class Gaps(Operator):
    tested = True

    def judge(self, claim, comp, tests, spec):
        bad, good = [], []
        for t in tests[len(comp.parts):]:
            ok = t.worse and (significant(t, spec.alpha) or t.p is None)
            why = "" if ok else " not significant" if t.worse else " not worse"
            unit = " pp" if unit_of(claim) == "%" else unit_of(claim)  # points of a % change
            text = f"{t.label} (difference {fmt_number(t.effect, claim.digits, unit)}, {p_text(t.p)}){why}"
            (good if ok else bad).append(text)
        untested = sum(t.p is None for t in tests[len(comp.parts):])
        how = "; ".join(bad + good)
        if untested:
            how += f"; {untested} judged on direction only (no standard error)"
        return Outcome(FAILS if bad else HOLDS, how)

    def deciding(self, claim, comp, tests, spec):
        gaps = tests[len(comp.parts):]
        key = [(bool(t.worse), -(t.p if t.p is not None else 1.0)) for t in gaps]
        return len(comp.parts) + min(range(len(gaps)), key=lambda k: key[k]), "the weakest gap"


@register
class WorseThan(Gaps):
    name = "worse_than"
    phrase = "the first model degrades more than the second"
    summary = ("the first model's change significantly worse than the second's, for every task "
               "and level (z-test of the two changes)")

    def tests(self, r, claim, comp, samples, alpha):
        own = super().tests(r, claim, comp, samples, alpha)
        first, second = as_list(claim.quantity.model)[:2]
        by = {(p.model, p.cells, p.level, p.criterion): (p, t) for p, t in zip(comp.parts, own, strict=True)}
        gaps = []
        for (model, cells, level, crit), (p, t) in by.items():
            if model != first or (second, cells, level, crit) not in by:
                continue
            q, u = by[(second, cells, level, crit)]
            gaps.append(gap_test(p, t, q, u, f"{_name(cells)} {level:g}%: {display_name(first)} "
                                             f"{fmt_number(p.value, claim.digits, unit_of(claim))} vs "
                                             f"{display_name(second)} "
                                             f"{fmt_number(q.value, claim.digits, unit_of(claim))}"))
        return own + gaps


@register
class Worst(Gaps):
    name = "worst"
    phrase = "the first task degrades most"
    summary = ("the first task's change the worst of the tasks listed, significantly worse than "
               "the runner-up's, for every model and level")

    def tests(self, r, claim, comp, samples, alpha):
        own = super().tests(r, claim, comp, samples, alpha)
        first = as_list(claim.quantity.task)[0]
        groups: dict[tuple, list] = {}
        for p, t in zip(comp.parts, own, strict=True):
            groups.setdefault((p.model, p.level, p.criterion), []).append((p, t))
        gaps = []
        for members in groups.values():
            mine = [(p, t) for p, t in members if p.cells[0][0] == first]
            rest = [(p, t) for p, t in members if p.cells[0][0] != first]
            if not mine or not rest:
                continue
            (p, t), (q, u) = mine[0], min(rest, key=lambda pt: gain(pt[0]))
            unit = unit_of(claim)
            gaps.append(gap_test(p, t, q, u, f"{display_name(p.model)} {p.level:g}%: "
                                             f"{_name(p.cells)} {fmt_number(p.value, claim.digits, unit)}"
                                             f" vs {_name(q.cells)} {fmt_number(q.value, claim.digits, unit)}"))
        return own + gaps
