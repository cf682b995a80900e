"""The pipeline's stage graph and profiles as data: repro/config/pipeline.yaml."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from repro.config.loader import kit_file, load, require

FILE = kit_file("pipeline.yaml")
PLACEHOLDERS = ("models", "selection_models", "efficiency_models", "out", "results", "data",
                "generated", "run_id")


@dataclass(frozen=True)
class Stage:
    args: tuple[str, ...]
    heavy: bool = False
    sharded: bool = False
    levels: bool = False
    guard: bool = False
    copies_published: bool = False
    setting: bool = False  # takes the pipeline's --setting (an lm-eval stage with a fast setting)

    def __post_init__(self) -> None:
        for a in self.args:
            for name in re.findall(r"{(\w+)}", a):
                require(name in PLACEHOLDERS, f"unknown placeholder {{{name}}} "
                                              f"(known: {', '.join(PLACEHOLDERS)})")


@dataclass(frozen=True)
class Profile:
    models: str | tuple[str, ...]
    stages: tuple[str, ...]
    run_id: str
    out: str
    selection_models: tuple[str, ...] | None = None
    efficiency_models: tuple[str, ...] | None = None
    levels: tuple[float, ...] | None = None
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    threads: int | None = None

    def __post_init__(self) -> None:
        require(not isinstance(self.models, str) or self.models == "paper",
                "models must be 'paper' or a list of models")
        require(self.threads is None or self.threads >= 1, "threads must be >= 1")


@dataclass(frozen=True)
class Pipeline:
    version: int
    stages: dict[str, Stage]
    profiles: dict[str, Profile]

    def __post_init__(self) -> None:
        for name, p in self.profiles.items():
            unknown = [s for s in (*p.stages, *p.extra) if s not in self.stages]
            require(not unknown, f"profile '{name}' names unknown stage(s) {', '.join(unknown)}")


@functools.cache
def pipeline() -> Pipeline:
    return load(Pipeline, FILE)
