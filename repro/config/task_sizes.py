"""How many items each lm-eval task scores: repro/config/task_sizes.yaml (lm-eval 0.4.9.1).

    from repro.config.task_sizes import task_sizes
    task_sizes().size("ifeval", "inst_level_strict_acc")   # Size(items=834, score='clustered', ...)

The claims report uses them for the binomial standard error where the published files give none.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

from repro.config.loader import kit_file, load, require

FILE = kit_file("task_sizes.yaml")
Score = Literal["binary", "bounded", "clustered", "perplexity"]


@dataclass(frozen=True)
class Size:
    items: int
    unit: str
    score: Score
    source: str

    def __post_init__(self) -> None:
        require(self.items > 0, "items must be a positive whole number")


@dataclass(frozen=True)
class TaskSize(Size):
    split: str = ""
    dataset: str = ""
    metrics: dict[str, Size] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSizes:
    version: int
    lm_eval: str
    tasks: dict[str, TaskSize]

    def size(self, task: str, metric: str) -> Size | None:
        """The item count and score kind behind one (task, metric); None for an unknown task."""
        spec = self.tasks.get(task)
        if spec is None:
            return None
        return spec.metrics.get(metric, spec)


@functools.cache
def task_sizes(path: str = str(FILE)) -> TaskSizes:
    return load(TaskSizes, path)
