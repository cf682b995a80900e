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
The grid and its cells: grid.py; the protocols: corrected.py and paper_protocol.py.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from repro.config import models
from repro.config.efficiency import FILE, PROTOCOLS, WIDTHS, EfficiencyConfig, load_config
from repro.core import options
from repro.core.errors import ReproError
from repro.efficiency.workloads import Workload, workloads
from repro.results.locks import Claims, open_results

log = logging.getLogger("repro.efficiency")


def configure(p: argparse.ArgumentParser) -> None:
    from repro.prune.names import criterion

    options.add_grid(p, models_help="the two the paper profiled (efficiency.yaml `models`)",
                     levels_help="each model's list in models.yaml",
                     criteria=None, criterion=criterion)
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


def selected_workloads(cfg: EfficiencyConfig, names: list[str] | None,
                       protocols: list[str]) -> list[Workload]:
    wls = workloads(cfg, protocols)
    if names:
        unknown = sorted(set(names) - {w.name for w in wls})
        if unknown:
            raise ReproError(f"--workloads: unknown workload(s) {', '.join(unknown)}; known: "
                             f"{', '.join(w.name for w in wls)}")
        wls = [w for w in wls if w.name in names]
    return wls


def run(args: argparse.Namespace) -> int:
    import torch

    from repro.efficiency.energy import open_meter
    from repro.efficiency.grid import profile_model
    from repro.efficiency.timing import Timer
    from repro.prune import criteria as crit
    from repro.runtime.device import resolve

    cfg = load_config(args.config, args.profile)
    device = resolve(args.device, cpu_warning="no CUDA GPU: timing on the CPU (results labelled "
                                              "'cpu'; energy not measured)")
    if args.threads:
        torch.set_num_threads(args.threads)
    criteria = [crit.canonical(c) for c in args.criteria or cfg.criteria]
    calibrated = [c for c in criteria if c in crit.CALIBRATED]
    if calibrated:
        raise ReproError(f"criterion '{calibrated[0]}' needs calibration data; profile with maw, vow, "
                         "pon, l2 or random (the widths, not the kept neurons, set the cost)")
    if args.prompt_source == "datasets" and args.random_weights:
        raise ReproError("--prompt-source datasets needs a tokenizer; random weights have none")
    widths = args.widths or ["unaligned"] + [f"align{a}" for a in cfg.alignment]
    wls = selected_workloads(cfg, args.workloads, args.protocols)
    specs = [models.get(m) for m in (args.models or cfg.models)]  # default: the models the paper profiled
    for spec in specs:  # every check before the first model loads
        if args.levels:
            spec.check_levels(args.levels)
        if not args.random_weights:
            models.check_access(spec)
    open_results(args.results, "efficiency", dry_run=args.dry_run)
    meter = open_meter(device)
    if torch.device(device).type == "cuda" and not meter.available:
        log.warning("GPU energy not measured: %s", meter.reason)
    with Claims(args.results) as claims:  # two runners on one folder never measure a cell twice
        done = sum(profile_model(spec, args, cfg, device=device, criterion=c, widths=widths,
                                 wls=wls, meter=meter, timer=Timer(device), claims=claims)
                   for spec in specs for c in criteria)
    print(f"efficiency: {done} cell(s) written under {args.results}")
    return 0
