"""Efficiency workloads as data: repro/config/efficiency.yaml, profiles merged, validated.

    from repro.config.efficiency import load_config
    cfg = load_config(profile="quick")     # EfficiencyConfig; cfg.record() goes into provenance

A profile is a short override of the defaults (fewer, shorter workloads); it is merged into the
file's settings before they are checked, so an overridden value is held to the same rules.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from repro.config.loader import build, kit_file, read_yaml, require, shown
from repro.core.errors import ReproError

FILE = kit_file("efficiency.yaml")
PROTOCOLS = ("corrected", "paper")
WIDTHS = ("unaligned", "align64", "align128")
FORMATS = ("hellaswag", "question", "prompt")


@dataclass(frozen=True)
class Prefill:
    prompt_tokens: tuple[int, ...]
    batch_size: int


@dataclass(frozen=True)
class Decode:
    prompt_tokens: int
    new_tokens: int
    batch_size: int


@dataclass(frozen=True)
class Throughput:
    prompt_tokens: int
    new_tokens: int
    batch_sizes: tuple[int, ...]


@dataclass(frozen=True)
class Repetitions:
    """At least `min` and `min_seconds`; then stop once the median's 95% interval is within
    +-ci_rel of it, or at `max` repetitions or `max_seconds` (repro.efficiency.timing)."""

    min: int
    min_seconds: float = 0.0
    ci_rel: float = 0.02
    max: int = 200
    max_seconds: float = 30.0

    def __post_init__(self) -> None:
        require(self.min >= 5, f"corrected.repetitions.min must be >= 5 (got {self.min})")
        require(self.max >= self.min, "corrected.repetitions.max must be >= its min")
        require(self.min_seconds >= 0 and self.max_seconds >= self.min_seconds,
                "need 0 <= repetitions.min_seconds <= repetitions.max_seconds")
        require(self.ci_rel > 0, "corrected.repetitions.ci_rel must be positive")


@dataclass(frozen=True)
class Corrected:
    repetitions: Repetitions
    warmups: int
    seed: int
    prefill: Prefill
    decode: Decode
    throughput: Throughput

    def __post_init__(self) -> None:
        require(self.warmups >= 1, "corrected.warmups must be >= 1")
        require(self.decode.new_tokens >= 2 and self.throughput.new_tokens >= 2,
                "new_tokens must be >= 2 (one from prefill, the rest decoded)")


@dataclass(frozen=True)
class Energy:
    counter_period_s: float
    min_window_s: float

    def __post_init__(self) -> None:
        require(self.counter_period_s > 0, "energy.counter_period_s must be positive")
        require(self.min_window_s >= self.counter_period_s,
                f"energy.min_window_s must be >= the counter's update period "
                f"({self.counter_period_s} s): a shorter window can read zero")


@dataclass(frozen=True)
class Idle:
    calibration_seconds: float
    settle_seconds: float
    check_seconds: float
    recheck_every_s: float
    drift_tolerance: float

    def __post_init__(self) -> None:
        require(self.calibration_seconds > 0 and self.check_seconds > 0,
                "idle.calibration_seconds and idle.check_seconds must be positive")
        require(self.settle_seconds >= 0 and self.recheck_every_s > 0 and self.drift_tolerance > 0,
                "idle.settle_seconds must be >= 0, recheck_every_s and drift_tolerance positive")


@dataclass(frozen=True)
class PaperWorkload:
    dataset: str
    config: str | None
    split: str
    format: Literal[FORMATS]
    num_prompts: int
    new_tokens: int
    synthetic_prompt_tokens: tuple[int, int]

    def __post_init__(self) -> None:
        lo, hi = self.synthetic_prompt_tokens
        require(1 <= lo <= hi, "synthetic_prompt_tokens must be [lo, hi] with 1 <= lo <= hi")


@dataclass(frozen=True)
class Paper:
    seeds: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    truncation: int
    padding_side: Literal["left"]      # the paper's setting
    workloads: dict[str, PaperWorkload]
    outlier_j_per_token: dict[str, float] = field(default_factory=dict)  # model -> threshold

    def __post_init__(self) -> None:
        require(all(v > 0 for v in self.outlier_j_per_token.values()),
                "paper.outlier_j_per_token thresholds must be positive")
        for name, w in self.workloads.items():
            require(w.num_prompts > max(self.batch_sizes),
                    f"paper workload '{name}': num_prompts {w.num_prompts} leaves no measured "
                    f"call after the warm-up at batch {max(self.batch_sizes)}; use more prompts "
                    "than the largest batch size")


@dataclass(frozen=True)
class EfficiencyConfig:
    version: int
    criteria: tuple[str, ...]
    models: tuple[str, ...]
    widths: dict[Literal[PROTOCOLS], tuple[Literal[WIDTHS], ...]]
    corrected: Corrected
    energy: Energy
    idle: Idle
    paper: Paper
    shapes: dict[str, dict[str, Any]]
    profiles: dict[str, Any] = field(default_factory=dict)
    # filled in by load_config, for the provenance record
    profile: str = "default"
    sha256: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        for proto in PROTOCOLS:
            require("unaligned" in self.widths.get(proto, ()),
                    f"widths.{proto} must include unaligned (the width the level asks for)")

    @property
    def alignment(self) -> tuple[int, ...]:
        """Every alignment any protocol measures (64, 128), in WIDTHS order."""
        named = {w for ws in self.widths.values() for w in ws}
        return tuple(int(w.removeprefix("align")) for w in WIDTHS if w in named and w != "unaligned")

    def measures(self, kind: str, width: str) -> bool:
        """Whether a workload of `kind` (prefill, decode, throughput, paper) is measured at
        `width` (unaligned, align64, align128): the paper protocol at the paper's widths only."""
        return width in self.widths[protocol_of(kind)]

    def profiled(self, chosen: list[str], override: tuple[str, ...] | None = None) -> list[str]:
        """The efficiency models among `chosen`, in `chosen`'s order (the pipeline's rule);
        `override` (a pipeline profile's efficiency_models) replaces the file's `models`."""
        return [m for m in chosen if m in (self.models if override is None else override)]

    def record(self, *, paper: bool) -> dict[str, Any]:
        """What a cell records about the settings it was measured with."""
        return {"path": self.path, "version": self.version, "sha256": self.sha256,
                "profile": self.profile, "corrected": dataclasses.asdict(self.corrected),
                "energy": dataclasses.asdict(self.energy), "idle": dataclasses.asdict(self.idle),
                "paper": dataclasses.asdict(self.paper) if paper else None}


def protocol_of(kind: str) -> str:
    """A workload kind's protocol: `paper`, or `corrected` for prefill, decode and throughput."""
    return "paper" if kind == "paper" else "corrected"


def _merge(base: dict, over: dict, where: str, path: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k not in out:
            raise ReproError(f"{where}: profile key '{path}{k}' overrides nothing; check its spelling")
        out[k] = (_merge(out[k], v, where, f"{path}{k}.")
                  if isinstance(v, dict) and isinstance(out[k], dict) else v)
    return out


def load_config(path: str | Path = FILE, profile: str | None = None) -> EfficiencyConfig:
    """The validated configuration with `profile`'s overrides applied."""
    path = Path(path)
    text, raw = read_yaml(path)
    where = shown(path)
    cfg = build(EfficiencyConfig, raw, where)
    profile = profile or "default"
    if profile != "default":
        if profile not in cfg.profiles:
            raise ReproError(f"unknown --profile '{profile}'; choose from: default, "
                             f"{', '.join(cfg.profiles)} (see {where})")
        merged = _merge(raw, cfg.profiles[profile], f"{where}: profile '{profile}'")
        cfg = build(EfficiencyConfig, merged, f"{where} (profile '{profile}')")
    return dataclasses.replace(cfg, profiles={}, profile=profile, path=str(path),
                               sha256=hashlib.sha256(text.encode()).hexdigest())
