"""The report's figures and correlations as data: repro/config/report.yaml."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from repro.config.loader import kit_file, load, require

FILE = kit_file("report.yaml")


@dataclass(frozen=True)
class Correlation:
    x: str
    y: str
    models: tuple[str, ...]
    claim: str = ""                   # the claim of the paper it checks ('' : none)
    why: str = ""                     # why the kit computes it when it is no claim


@dataclass(frozen=True)
class Checkpoint:
    level: float
    hf_repo: str


@dataclass(frozen=True)
class Confound:
    """Published efficiency levels of a model measured on another model's checkpoint."""

    model: str
    checkpoints: tuple[Checkpoint, ...]
    source: str                       # where the checkpoints are named
    others: str                       # what the other levels were measured on


@dataclass(frozen=True)
class EfficiencyPanel:
    metric: str
    title: str
    workloads: tuple[str, ...]


@dataclass(frozen=True)
class Bar:
    task: str
    metric: str
    label: str


@dataclass(frozen=True)
class NeuronSelectionFigure:
    model: str
    variant: str
    criteria: tuple[str, ...]
    perplexity: tuple[Bar, ...]
    accuracy: tuple[Bar, ...]


@dataclass(frozen=True)
class Figures:
    models: tuple[str, ...]
    fragile: tuple[str, ...]
    robust: tuple[str, ...]
    efficiency: tuple[EfficiencyPanel, ...]
    neuron_selection: NeuronSelectionFigure

    def __post_init__(self) -> None:
        require(not set(self.fragile) & set(self.robust), "a task is both fragile and robust")


@dataclass(frozen=True)
class Report:
    version: int
    correlations: tuple[Correlation, ...]
    figures: Figures
    confounds: tuple[Confound, ...] = ()

    def __post_init__(self) -> None:
        for c in self.correlations:
            require(bool(c.claim) != bool(c.why),
                    f"correlation {c.x} vs {c.y}: give the claim it checks or why it is computed")

    def confound(self, model: str) -> Confound | None:
        return next((c for c in self.confounds if c.model == model), None)


@functools.cache
def report() -> Report:
    return load(Report, FILE)
