"""Stage 3, efficiency: time to first token, decode latency, throughput and energy per token.

    python -m repro efficiency --models llama-3.2-1b --levels 0 40        # GPU host
    python -m repro efficiency --models llama-3.2-1b --random-weights     # no download needed
    python -m repro efficiency --models smollm2-135m-instruct --device cpu --profile quick
    nox -s efficiency -- --models llama-3.2-3b                             # every level

The random-weight run of Llama-3.2-1B's exact shape (all seven levels, unaligned, align64 and
align128; no download, no token), then its tidy rows, labelled `randinit` in their variant:
    python -m repro efficiency --models llama-3.2-1b --random-weights --device cuda \\
        --protocols corrected --results results/randinit
    python -m repro aggregate --results results/randinit --out data/reproduction \\
        --run-id randinit-llama-3.2-1b-<gpu>

Two protocols, both from repro/config/efficiency.yaml (workloads are data):
  corrected  prefill_p{L}_b1        one synchronised forward pass over an L-token prompt (TTFT)
             decode_p{L}_n{N}_b1    exactly N new tokens (no early stop): ms per decode step
             throughput_p{L}_n{N}_b{B}  B x N real tokens per second
             >= 5 repetitions after warm-ups; median, IQR, bootstrap CI and CV of each figure.
  paper      {hellaswag,mmlu,ifeval}_{latency_b1,throughput_b8}: the original notebook's
             protocol (greedy generate() that stops at EOS, whole-call time, its seeds, token
             counts with padding) so its figures compare like for like, plus the real token
             counts and a breakdown of latency changes into output length and per-token speed.
Energy: NVML's total-energy counter around the timed repetitions only, minus idle power measured
just before on the same GPU over the expected duration (energy.py); None when not measured.
The grid and its cells: grid.py (a stage of the grid executor, repro/grid/executor.py); the
protocols: corrected.py and paper_protocol.py. `efficiency` is the stage as a Python function.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from repro.config import models
from repro.config.efficiency import FILE, PROTOCOLS, WIDTHS, EfficiencyConfig, load_config
from repro.core import options, pruning
from repro.core.errors import ReproError
from repro.efficiency.workloads import Workload, workloads
from repro.grid.executor import GridReport
from repro.grid.options import DEFAULT, GridOptions

log = logging.getLogger("repro.efficiency")


def configure(p: argparse.ArgumentParser) -> None:
    options.add_grid(p, models_help="the paper's three (models.yaml)",
                     levels_help="each model's list in models.yaml", criteria=None)
    p.add_argument("--widths", nargs="+", choices=WIDTHS,
                   help="unaligned and/or align64/align128 (default: all)")
    p.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    p.add_argument("--workloads", nargs="+", help="only these workload names (cell tasks)")
    p.add_argument("--random-weights", action="store_true",
                   help="random weights of the model's exact shape (labelled randinit)")
    p.add_argument("--prompt-source", choices=("auto", "datasets", "synthetic"), default="auto",
                   help="paper workloads: the paper's datasets, or synthetic prompts (offline)")
    p.add_argument("--profile", default="default", help="settings profile from the config (e.g. quick)")
    p.add_argument("--config", type=Path, default=FILE,
                   help="efficiency workloads file (default: the kit's efficiency.yaml)")
    p.add_argument("--threads", type=options.positive_int, help="torch CPU threads (recorded)")


def run(args: argparse.Namespace) -> int:
    from repro.grid.options import from_cli

    efficiency(from_cli(args), widths=args.widths, protocols=args.protocols,
               workloads=args.workloads, random_weights=args.random_weights,
               prompt_source=args.prompt_source, profile=args.profile, config=args.config,
               threads=args.threads)
    return 0


def selected_workloads(cfg: EfficiencyConfig, names: Sequence[str] | None,
                       protocols: Sequence[str]) -> list[Workload]:
    wls = workloads(cfg, tuple(protocols))
    if names:
        unknown = sorted(set(names) - {w.name for w in wls})
        if unknown:
            raise ReproError(f"--workloads: unknown workload(s) {', '.join(unknown)}; known: "
                             f"{', '.join(w.name for w in wls)}")
        wls = [w for w in wls if w.name in names]
    return wls


def efficiency(grid: GridOptions = DEFAULT, *, widths: Sequence[str] | None = None,
               protocols: Sequence[str] = PROTOCOLS, workloads: Sequence[str] | None = None,
               random_weights: bool = False, prompt_source: str = "auto",
               profile: str = "default", config: Path = FILE, threads: int | None = None) -> GridReport:
    """Prefill, decode, throughput and energy per token of every (model, criterion, level,
    width, workload) cell of this shard, resumable.

    grid: models (default: the paper's three), levels (default: each model's list), criteria
    (default: efficiency.yaml's; weight criteria or random only), device (auto: the GPU, else
    the CPU, labelled cpu), dtype, tie-break, results, shard, dry run; widths: unaligned and/or
    align64/align128 (default: all); protocols: corrected and/or paper; workloads: only these
    workload names; random_weights: random weights of the model's exact shape (labelled
    randinit); prompt_source: paper workloads' prompts, auto, datasets or synthetic; profile: a
    settings profile of `config` (e.g. quick); threads: torch CPU threads (recorded).
    """
    import torch

    from repro.efficiency.energy import open_meter
    from repro.efficiency.grid import EfficiencyStage, plan, resolve_prompt_source
    from repro.grid.executor import run_grid
    from repro.runtime.device import resolve

    cfg = load_config(config, profile)
    unknown = sorted(set(protocols) - set(PROTOCOLS)) + sorted(set(widths or ()) - set(WIDTHS))
    if unknown:
        raise ReproError(f"unknown protocol or width '{unknown[0]}'; choose from "
                         f"{', '.join(PROTOCOLS)} and {', '.join(WIDTHS)}")
    if prompt_source not in ("auto", "datasets", "synthetic"):
        raise ReproError(f"prompt source '{prompt_source}': choose auto, datasets or synthetic")
    device = resolve(grid.device, cpu_warning="no CUDA GPU: timing on the CPU (results labelled "
                                              "'cpu'; energy not measured)")
    if threads:
        torch.set_num_threads(threads)
    criteria = [pruning.criterion(c) for c in grid.criteria or cfg.criteria]
    calibrated = [c for c in criteria if c in pruning.CALIBRATED]
    if calibrated:
        raise ReproError(f"criterion '{calibrated[0]}' needs calibration data; profile with maw, vow, "
                         "pon, l2 or random (the widths, not the kept neurons, set the cost)")
    if prompt_source == "datasets" and random_weights:
        raise ReproError("--prompt-source datasets needs a tokenizer; random weights have none")
    widths = list(widths or ["unaligned"] + [f"align{a}" for a in cfg.alignment])
    wls = selected_workloads(cfg, workloads, protocols)
    specs = {s.name: s for s in (models.get(m) for m in (grid.models or models.paper_models()))}
    for spec in specs.values():  # every check before the first model loads
        if grid.levels:
            spec.check_levels(grid.levels)
        if not random_weights:
            models.check_access(spec)
    source = "synthetic"  # what a dry run assumes for paper workloads (a check asks the datasets)
    if any(w.kind == "paper" for w in wls) and prompt_source != "synthetic" and not random_weights \
            and (grid.check or not grid.dry_run):
        source = resolve_prompt_source(prompt_source, cfg, has_tokenizer=True)
    dev_type = torch.device(device).type
    planned = {}
    for spec in specs.values():
        dtype = grid.dtype or spec.dtype
        variant_kw = dict(device_type=dev_type, random_weights=random_weights,
                          dtype_token="" if dtype == spec.dtype else dtype, profile=cfg.profile,
                          tie_break=grid.tie_break)
        for crit in criteria:
            for p in plan(spec.name, crit, grid.levels or list(spec.levels), widths, wls,
                          variant_kw=variant_kw, prompt_source=source, width=spec.intermediate_size):
                planned[p.cell] = p
    stage = EfficiencyStage(specs, planned, cfg, device=device, dtype=grid.dtype,
                            tie_break=grid.tie_break, random_weights=random_weights,
                            prompt_source=source, open_meter=open_meter)
    return run_grid(stage, stage.jobs(), root=grid.results, shard=grid.shard,
                    dry_run=grid.dry_run, check=grid.check, wait=grid.wait)
