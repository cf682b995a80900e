"""Which lm-eval metric each table reports per task: repro/config/metrics.yaml.

    from repro.config.metrics import metrics
    m = metrics()
    m.metric_for("llama-3.2-3b", "piqa")          # ('acc_norm', 'none'): the 3B table's metric
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

from repro.config.loader import kit_file, load, require
from repro.core.errors import ReproError

FILE = kit_file("metrics.yaml")


@dataclass(frozen=True)
class Column:
    label: str
    metric: str
    filter: str
    better: Literal["higher", "lower"]
    why: str


@dataclass(frozen=True)
class Override:
    """A column's metric and filter changed for one model or one table."""

    metric: str | None = None
    filter: str | None = None
    why: str = ""


@dataclass(frozen=True)
class Table:
    title: str
    models: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()       # every model in the data whose models.yaml suite is one
    tasks: tuple[str, ...] = ()        # empty: the model's suite's tasks that have a column
    variant: str = ""
    per_task: dict[str, Override] = field(default_factory=dict)

    @property
    def for_other_models(self) -> bool:
        """Neither models nor suites: the table of every model no other table covers."""
        return not self.models and not self.suites


@dataclass(frozen=True)
class EfficiencyFigure:
    label: str
    better: Literal["higher", "lower"]


@dataclass(frozen=True)
class EfficiencyTables:
    models: tuple[str, ...]
    workloads: tuple[str, ...]
    figures: dict[str, EfficiencyFigure]
    reproduction_aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metrics:
    version: int
    columns: dict[str, Column]
    tables: dict[str, Table]
    efficiency: EfficiencyTables
    per_model: dict[str, dict[str, Override]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, t in self.tables.items():
            unknown = [x for x in t.tasks if x not in self.columns]
            require(not unknown, f"table '{name}' names task(s) without a column: {unknown}")
        for model, over in self.per_model.items():
            unknown = [x for x in over if x not in self.columns]
            require(not unknown, f"per_model '{model}' names task(s) without a column: {unknown}")

    def metric_for(self, model: str, task: str, table: str | None = None) -> tuple[str, str]:
        """(metric, filter) the paper's tables use for this model and task."""
        if task not in self.columns:
            raise ReproError(f"task {task!r} has no entry in repro/config/{FILE.name} 'columns'")
        col = self.columns[task]
        metric, filt = col.metric, col.filter
        overrides = [self.per_model.get(model, {}).get(task)]
        if table:
            overrides.append(self.tables[table].per_task.get(task))
        for o in overrides:
            if o is not None:
                metric, filt = o.metric or metric, o.filter or filt
        return metric, filt


@functools.cache
def metrics() -> Metrics:
    return load(Metrics, FILE)
