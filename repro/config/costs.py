"""What a run costs, as data: repro/config/costs.yaml (per-task work per item, a table of common
GPUs, the paper and fast settings, host overheads). Every value is an estimate with its source;
repro/ops/estimate.py prices a profile with it.

    from repro.config.costs import costs
    c = costs()
    c.task("mmlu").forwards               # forwards per item (documents: task_sizes.yaml)
    c.items("mmlu")                       # 14042, from task_sizes.yaml
    c.device_for("NVIDIA H100 80GB HBM3") # the row whose `match` names it, or None
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from repro.config.evaluation import Fast
from repro.config.loader import kit_file, load, require
from repro.config.task_sizes import task_sizes
from repro.core.errors import ReproError

FILE = kit_file("costs.yaml")


@dataclass(frozen=True)
class Setting:
    """An evaluation setting's batching as the estimate prices it (the same on every device:
    neither setting probes memory): one fixed batch size (the paper's), or the fast setting's
    rule (evaluation.yaml `fast:`, as repro/evaluate/fast.py applies it)."""

    name: str
    batch_size: int = 1
    fast: Fast | None = None

    def batch(self, kind: str, tokens: float, kv_bytes_per_token: int = 0) -> int:
        """Requests per batch of a task's `kind` whose forwards hold `tokens` tokens each
        (generate: prompt plus new tokens, on a model whose KV cache takes these bytes a token)."""
        f = self.fast
        if f is None:
            return self.batch_size
        if kind == "generate":
            return f.generate_size(kv_bytes_per_token, tokens)
        if kind == "rolling":
            return f.rolling_batch_size
        return max(1, min(f.max_batch_size, f.token_budget // max(1, int(tokens))))

    def describe(self) -> str:
        f = self.fast
        if f is None:
            return f"batch {self.batch_size}"
        return (f"loglikelihood batches within {f.token_budget} tokens (at most {f.max_batch_size}), "
                f"generation batches whose KV cache fits {f.generate_kv_budget_mib} MiB (at most "
                f"{f.generate_batch_size}), rolling {f.rolling_batch_size}")


def settings() -> dict[str, Setting]:
    """paper: batch 1 (evaluation.yaml `batch_size`, what the paper's code ran); fast:
    evaluation.yaml `fast:` (repro/evaluate/fast.py)."""
    from repro.config.evaluation import evaluation

    cfg = evaluation()
    one = int(cfg.batch_size) if cfg.batch_size.isdigit() else 1
    return {"paper": Setting("paper", one), "fast": Setting("fast", fast=cfg.fast)}


@dataclass(frozen=True)
class TaskCost:
    kind: Literal["loglikelihood", "rolling", "generate"]
    forwards: float
    requests: float
    tokens: float
    generated: float = 0.0
    max_gen: int = 0
    batch_generated: float = 0.0
    items: int | None = None       # only for the kit's local tasks (not in task_sizes.yaml)
    subtasks: int = 1              # a group's tasks (mmlu: 57), each built, scored and aggregated

    def __post_init__(self) -> None:
        require(self.forwards > 0 and self.requests > 0 and self.tokens > 0,
                "forwards, requests and tokens must be positive")
        require(self.kind != "generate" or 0 < self.generated <= self.batch_generated <= self.max_gen,
                "a generate task needs 0 < generated <= batch_generated <= max_gen")


@dataclass(frozen=True)
class Device:
    match: tuple[str, ...]
    tflops: float
    memory_gb_s: float
    mfu: float
    launch_ms_per_layer: float
    source: str

    def __post_init__(self) -> None:
        require(self.tflops > 0 and self.memory_gb_s > 0 and 0 < self.mfu <= 1,
                "tflops and memory_gb_s must be positive, mfu in (0, 1]")


@dataclass(frozen=True)
class Host:
    stage_start_s: float
    load_s_per_gb: float
    cell_s: float
    request_ms: float
    build_us_per_token: float
    build_us_per_token_ref: float
    reference_start_s: float
    subtask_s: float
    kit_cell_s: float
    kit_cell_s_per_gb: float
    rank_s_per_gb: float
    light_stage_s: dict[str, float]
    download_s: float

    def __post_init__(self) -> None:
        require("default" in self.light_stage_s, "host.light_stage_s needs a default")


@dataclass(frozen=True)
class Costs:
    version: int
    tasks: dict[str, TaskCost]
    calibration_window_tokens: int
    devices: dict[str, Device]
    host: Host

    @property
    def settings(self) -> dict[str, Setting]:
        return settings()

    def task(self, name: str) -> TaskCost:
        if name not in self.tasks:
            raise ReproError(f"task '{name}' has no cost entry in repro/config/{FILE.name}; add "
                             "one (kind, forwards, requests, tokens per item) to estimate its runs")
        return self.tasks[name]

    def items(self, name: str) -> int:
        """Documents a task scores: task_sizes.yaml, else the local task's own count here."""
        spec = self.task(name)
        if spec.items is not None:
            return spec.items
        size = task_sizes().tasks.get(name)
        if size is None:
            raise ReproError(f"task '{name}' has no item count: add it to task_sizes.yaml (lm-eval "
                             f"tasks) or give `items` in repro/config/{FILE.name} (local tasks)")
        return size.items

    def device_for(self, gpu_name: str) -> tuple[str, Device] | None:
        """The table row for a GPU name (its key or a `match` substring), or None."""
        low = gpu_name.lower()
        if low in self.devices:
            return low, self.devices[low]
        for key, d in self.devices.items():
            if any(m.lower() in low for m in d.match):
                return key, d
        return None


@functools.cache
def costs(path: str = str(FILE)) -> Costs:
    return load(Costs, path)
