"""The extensions' settings as data: repro/config/extensions.yaml (sensitivity scan,
allocations, the extensions table)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from repro.config.loader import kit_file, load, require
from repro.core import pruning
from repro.core.errors import ReproError

FILE = kit_file("extensions.yaml")


@dataclass(frozen=True)
class Sensitivity:
    criteria: tuple[str, ...]
    levels: tuple[float, ...]
    calibration_samples: int
    task_by_suite: dict[str, str]
    replay_cache_mib: int

    def __post_init__(self) -> None:
        require(bool(self.levels) and all(0 < x < 100 for x in self.levels),
                "levels must be percentages in (0, 100); level 0 is always measured")
        require(self.calibration_samples >= 1, "calibration_samples must be at least 1")
        require(self.replay_cache_mib >= 0, "replay_cache_mib must be 0 (off) or more")


@dataclass(frozen=True)
class Owl:
    m: float
    lam: float

    def __post_init__(self) -> None:
        require(self.m > 0 and self.lam >= 0, "owl needs m > 0 and lam >= 0")


@dataclass(frozen=True)
class Allocations:
    owl: Owl


@dataclass(frozen=True)
class Row:
    criterion: str
    allocation: str = "uniform"

    def __post_init__(self) -> None:
        try:
            ok = bool(pruning.allocation(self.allocation))
        except ReproError:
            ok = False
        require(ok, f"allocation '{self.allocation}' is not uniform, owl or spareK")

    @property
    def alloc(self) -> pruning.Allocation:
        return pruning.allocation(self.allocation)

    @property
    def tag(self) -> str:
        """The allocation as the tidy data's variant ('' for uniform)."""
        return self.alloc.tag


@dataclass(frozen=True)
class ReportRows:
    levels: tuple[float, ...]
    rows: tuple[Row, ...]

    def __post_init__(self) -> None:
        require(bool(self.levels) and all(0 < x < 100 for x in self.levels),
                "levels must be percentages in (0, 100)")


@dataclass(frozen=True)
class Extensions:
    version: int
    sensitivity: Sensitivity
    allocations: Allocations
    report: ReportRows


@functools.cache
def extensions() -> Extensions:
    return load(Extensions, FILE)
