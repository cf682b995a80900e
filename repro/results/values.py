"""Which metric values a cell may contribute to the tidy rows, and why the others may not.

A value that is not a number, NaN or infinite, or outside the range its metric can take (an
accuracy of -0.2 or 1.7, a perplexity below 1) is never a row: `aggregate` reports each one
by cell, task and metric, and lists them in the run's provenance, so a table that says "not
run" for it can be traced back. The ranges are what lm-eval's metrics are by definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FRACTIONS = ("acc", "acc_norm", "exact_match", "mc1", "mc2", "f1", "em",
             "prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc",
             "inst_level_loose_acc")
RANGES: dict[str, tuple[float, float]] = {
    **{m: (0.0, 1.0) for m in FRACTIONS},
    "perplexity": (1.0, math.inf), "word_perplexity": (1.0, math.inf),
    "byte_perplexity": (1.0, math.inf), "bits_per_byte": (0.0, math.inf),
}


@dataclass(frozen=True)
class Unusable:
    """One value left out of the rows, and why."""
    cell: str
    task: str
    metric: str
    value: str
    problem: str

    def line(self) -> str:
        return f"{self.cell}: {self.task} {self.metric} = {self.value}: {self.problem}"

    def record(self) -> dict:
        return {"cell": self.cell, "task": self.task, "metric": self.metric,
                "value": self.value, "problem": self.problem}


def problem(metric: str, value) -> tuple[float | None, str | None]:
    """(the value as a float, None) if `metric` may take it, else (None, why not)."""
    if value is None:
        return None, "missing"
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, int | float):
        return None, "not a number"
    v = float(value)
    if math.isnan(v):
        return None, "NaN"
    if math.isinf(v):
        return None, "infinite"
    lo, hi = RANGES.get(metric, (-math.inf, math.inf))
    if not lo <= v <= hi:
        shown = f"[{lo:g}, {hi:g}]" if hi != math.inf else f">= {lo:g}"
        return None, f"outside the range {metric} can take ({shown})"
    return v, None


def stderr_problem(value) -> tuple[float | None, str | None]:
    """A standard error: empty where lm-eval gives 'N/A' or nothing, else a finite number >= 0."""
    if value is None or value == "N/A":
        return None, None
    v, why = problem("", value)
    if why:
        return None, why
    return (v, None) if v >= 0 else (None, "a negative standard error")
