"""The efficiency stage of the paper profile before and after issue 19: cells, idle-power sleeps
and estimated hours on one GPU from costs.yaml's table (an estimate, no GPU needed).

    python benchmarks/efficiency_plan.py [--gpu h100] [--before 9fd6768]

Before (the kit at --before): every paper model (1B, 3B, 1B-Instruct) at every width variant
(unaligned, align64, align128) under both protocols, counted by that commit's own
`repro efficiency --dry-run`; idle power measured before every workload and every seed, for
about as long as the measurement (clamped to 2..30 s) after a 1 s settle (that commit's
bench.idle_power). After (this checkout): the paper protocol on the models the paper profiled
at their own widths, alignment under the corrected protocol, idle power calibrated once per
session (30 s) and drift-checked every 10 minutes of measuring (efficiency.yaml `idle`).
Workload durations for the sleeps come from the same table rates for both.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPER_MODELS = ["llama-3.2-1b", "llama-3.2-3b", "llama-3.2-1b-instruct"]


def old_cells(commit: str) -> int:
    """Cells the kit at `commit` plans for the paper's three models (its own dry run)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(f"git -C {ROOT} archive {commit} | tar -x -C {tmp}", shell=True, check=True)
        out = subprocess.run([sys.executable, "-m", "repro", "efficiency", "--dry-run",
                              "--random-weights", "--models", *PAPER_MODELS, "--results",
                              str(Path(tmp) / "r")], cwd=tmp, env={**os.environ, "PYTHONPATH": tmp},
                             capture_output=True, text=True, check=True).stdout
    return sum(int(n) for n in re.findall(r": (\d+) cells, \d+ pending", out))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gpu", default="h100")
    p.add_argument("--before", default="9fd6768")
    args = p.parse_args()

    from repro.config import models
    from repro.config.efficiency import load_config, protocol_of
    from repro.efficiency.cells import planned
    from repro.efficiency.timing import warmup_count
    from repro.efficiency.workloads import workloads
    from repro.ops.cost_rates import table_rates
    from repro.ops.cost_work import Job, shape_of
    from repro.ops.estimate import request_s

    cfg, rates = load_config(), table_rates(args.gpu)

    def seconds(name: str, level: float, wl) -> tuple[float, float, float]:
        """One cell's measuring time now and before (5 repetitions, 5 energy blocks of >= 1 s),
        and the seconds the old rule slept idle around it."""
        shape = shape_of(name)
        if protocol_of(wl.kind) == "corrected":
            one = rates.forward_s(shape, level, wl.batch_size, wl.prompt_tokens) + (
                wl.new_tokens - 1) * rates.decode_s(shape, level, wl.batch_size)
            job = Job("request", name, level, 1, wl.batch_size, wl.prompt_tokens, wl.new_tokens,
                      cfg.corrected.warmups, True)
            block = max(1, math.ceil(1.0 / one))  # the old energy_block_seconds: 1.0
            old = (cfg.corrected.warmups + 5) * one + 5 * block * one
            return request_s(job, shape, rates, cfg), old, 1.0 + min(max(one * block * 5, 2.0), 30.0)
        w = cfg.paper.workloads[wl.source]
        calls = math.ceil(w.num_prompts / wl.batch_size)
        one = rates.forward_s(shape, level, wl.batch_size, sum(w.synthetic_prompt_tokens) / 2) + (
            wl.new_tokens * rates.decode_s(shape, level, wl.batch_size))
        measured = one * (calls - warmup_count(calls))
        busy = one * calls * len(cfg.paper.seeds)
        return busy, busy, len(cfg.paper.seeds) * (1.0 + min(max(measured, 2.0), 30.0))

    old_busy = old_sleep = old_n = 0.0
    widths = ("unaligned", "align64", "align128")
    everything = dataclasses.replace(cfg, widths={"corrected": widths, "paper": widths})
    modelled = 0
    for name in PAPER_MODELS:  # before: both protocols at every width, the three paper models
        spec = models.get(name)
        for level, _, wl in planned(everything, spec.intermediate_size, spec.levels,
                                    wls=workloads(cfg)):
            _, busy, slept = seconds(name, level, wl)
            old_busy, old_sleep = old_busy + busy, old_sleep + slept
            old_n += len(cfg.paper.seeds) if wl.kind == "paper" else 1
            modelled += 1
    new_busy, new_cells = 0.0, 0
    for name in cfg.models:
        spec = models.get(name)
        for level, _, wl in planned(cfg, spec.intermediate_size, spec.levels):
            new_busy += seconds(name, level, wl)[0]
            new_cells += 1
    idle = cfg.idle
    checks = math.floor(new_busy / idle.recheck_every_s)
    new_sleep = idle.settle_seconds + idle.calibration_seconds + checks * (
        idle.settle_seconds + idle.check_seconds)
    print(f"efficiency stage of the paper profile, {args.gpu} (table rates: an estimate)")
    print(f"{'':<8}{'cells':>7}{'idle windows':>14}{'sleep h':>9}{'measure h':>11}{'total h':>9}")
    before = old_cells(args.before)
    assert before == modelled, f"the old rule modelled here ({modelled}) is not the old kit's ({before})"
    print(f"{'before':<8}{before:>7}{old_n:>14.0f}{old_sleep / 3600:>9.2f}{old_busy / 3600:>11.2f}"
          f"{(old_sleep + old_busy) / 3600:>9.2f}   (kit at {args.before}; its own dry run)")
    print(f"{'after':<8}{new_cells:>7}{1 + checks:>14}{new_sleep / 3600:>9.2f}{new_busy / 3600:>11.2f}"
          f"{(new_sleep + new_busy) / 3600:>9.2f}   (this checkout)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
