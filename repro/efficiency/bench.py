"""What every efficiency workload shares: the Bench (model, device, clock, energy meter,
settings), idle power, peak memory, and the rows a figure's repetitions become."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from repro.config.efficiency import EfficiencyConfig
from repro.efficiency.energy import IdleBaseline
from repro.efficiency.timing import median, summarize, synchronize


@dataclass
class Bench:
    """Everything a workload needs: the model on its device, the clock, the meter, the config."""

    model: Any
    tokenizer: Any
    device: Any
    timer: Any
    meter: Any
    cfg: EfficiencyConfig
    prompt_source: str = "synthetic"     # paper workloads: datasets | synthetic
    clock: Any = time.perf_counter
    model_name: str = ""                 # the paper's outlier threshold is per model

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)


def stat_rows(name: str, unit: str, samples: list[float]) -> tuple[list[dict], dict]:
    """A figure's median, IQR and bootstrap CI (and CV) as rows, with its whole summary."""
    s = summarize(samples)
    rows = [{"metric": f"{name}_median", "value": s.median, "unit": unit},
            {"metric": f"{name}_iqr", "value": s.iqr, "unit": unit},
            {"metric": f"{name}_ci95_low", "value": s.ci_low, "unit": unit},
            {"metric": f"{name}_ci95_high", "value": s.ci_high, "unit": unit}]
    if s.cv is not None:
        rows.append({"metric": f"{name}_cv", "value": s.cv, "unit": "ratio"})
    return rows, s.to_dict()


def measured(values: list) -> list[float] | None:
    """The list if every value was measured, else None (energy: never a partial or a zero)."""
    return None if not values or any(v is None for v in values) else [float(v) for v in values]


def idle_baseline(bench: Bench) -> IdleBaseline:
    """The session's idle power for the bench's GPU: one per meter (the stage opens one meter
    per device and keeps it for every model and cell), calibrated on first use."""
    if bench.meter.baseline is None:
        bench.meter.baseline = IdleBaseline(bench.meter, bench.cfg.idle,
                                            drain=lambda: synchronize(bench.device))
    return bench.meter.baseline


def peak_memory_reset(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gb(device) -> float | None:
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1024**3
    return None  # not measured on CPU (process RSS would include everything else)


def common_rows(reps_energy: list, idle, peak_gb: float | None, reps: int) -> list[dict]:
    rows = [{"metric": "repetitions", "value": reps, "unit": "count"}]
    if peak_gb is not None:
        rows.append({"metric": "peak_memory_gb", "value": peak_gb, "unit": "GB"})
    if idle.power_w is not None:
        rows.append({"metric": "idle_power_w", "value": idle.power_w, "unit": "W"})
    power = measured([r.power_w_mean for r in reps_energy])
    if power:
        rows.append({"metric": "power_w_median", "value": median(power), "unit": "W"})
    clocks = measured([r.sm_clock_mhz for r in reps_energy])
    if clocks:
        rows.append({"metric": "sm_clock_mhz_median", "value": median(clocks), "unit": "MHz"})
    return rows
