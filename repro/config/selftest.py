"""The self-test's sizes as data: repro/config/selftest.yaml (read by repro/ops/selftest.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from repro.config.loader import kit_file, load, require
from repro.core.dtypes import DTYPES
from repro.core.options import is_cuda

FILE = kit_file("selftest.yaml")


@dataclass(frozen=True)
class DeviceScale:
    dtype: str
    limit: int | None
    max_length: int | None
    matmul_size: int
    efficiency_model: str
    efficiency_dtype: str
    efficiency_profile: str
    threads: int | None
    paper_task_limit: int | None = None  # settings-diff on the paper's tasks (None: left out)

    def __post_init__(self) -> None:
        require(self.dtype in DTYPES and self.efficiency_dtype in DTYPES,
                f"dtypes must be one of {', '.join(DTYPES)}")
        require(self.matmul_size >= 16, "matmul_size must be >= 16")


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float

    def ok(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.atol + self.rtol * abs(b)


@dataclass(frozen=True)
class Selftest:
    version: int
    model: str
    suite: str
    paper_model: str
    levels: tuple[float, ...]
    prune_level: float
    devices: dict[str, DeviceScale]
    tolerance: dict[str, Tolerance]

    def __post_init__(self) -> None:
        require(set(self.devices) == {"cuda", "cpu"}, "devices must be exactly cuda and cpu")
        require(self.prune_level in self.levels and self.prune_level > 0,
                "prune_level must be one of levels, above 0")
        require(all(0 <= x < 100 for x in self.levels), "levels must be percentages in [0, 100)")
        missing = {d.dtype for d in self.devices.values()} - set(self.tolerance)
        require(not missing, f"tolerance needs an entry for {', '.join(sorted(missing))}")

    def scale(self, device: str) -> DeviceScale:
        return self.devices["cuda" if is_cuda(device) else "cpu"]


@functools.cache
def selftest() -> Selftest:
    return load(Selftest, FILE)
