"""Stage 3, evaluate: lm-eval suites on every (model, criterion, level, task) cell, resumable.

    python -m repro evaluate                                   # every paper model and level
    python -m repro evaluate --models llama-3.2-1b --levels 0 40 --tasks mmlu gsm8k
    python -m repro evaluate --models llama-3.2-1b-instruct --variants paper chat
    python -m repro evaluate --shard 2/4 --results results     # one of four GPUs or nodes
    python -m repro evaluate --models smollm2-135m-instruct    # the CPU smoke model
    python -m repro evaluate --setting fast                    # batched: cells of its own, labelled
    python -m repro evaluate --levels 10 40 --allocations uniform spare3 owl   # non-uniform widths

The command line of `repro.evaluate.stage.evaluate` (what runs is planned in plan.py and
measured in stage.py, on the grid executor). Each finished cell is written atomically with
provenance (repro.results.cells). A rerun skips finished cells and reruns missing, truncated or
damaged ones, and those computed with other settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from repro.config.evaluation import SETTINGS
from repro.core import options
from repro.evaluate.plan import LmEvalOptions


def batch_size(text: str) -> str:
    from repro.evaluate.plan import BATCH_SIZE

    if BATCH_SIZE.fullmatch(text):
        return text
    raise argparse.ArgumentTypeError(f"'{text}' is not a batch size: use auto, auto:N or a whole number")


def add_run_options(p: argparse.ArgumentParser, *, models_help: str, levels_help: str,
                    criteria: list[str] | None) -> None:
    """The options of the stages that run lm-eval (the grid's, then lm-eval's: LmEvalOptions)."""
    options.add_grid(p, models_help=models_help, levels_help=levels_help, criteria=criteria)
    p.add_argument("--suite", help="suite from suites.yaml (default: each model's own)")
    p.add_argument("--tasks", nargs="+", help="only these tasks of the suite")
    p.add_argument("--limit", type=options.limit,
                   help="documents per task, or a fraction in (0, 1) (tests only; recorded)")
    p.add_argument("--batch-size", type=batch_size,
                   help="a number, 'auto' or 'auto:N' (default: evaluation.yaml's, 1: what the "
                        "paper's code effectively ran); a task's own batch_size in suites.yaml wins")
    p.add_argument("--setting", choices=SETTINGS, default="paper",
                   help="paper: the paper's batching (default); fast: batched by token budget "
                        "(repro/config/evaluation.yaml), cells of its own (variant 'fast'), "
                        "labelled in every table and in the claims report")
    p.add_argument("--max-batch-size", type=options.positive_int, default=64,
                   help="the largest size 'auto' tries (lm-eval's default: 64)")
    p.add_argument("--max-length", type=options.positive_int,
                   help="lm-eval context length (default: the model's own, models.yaml)")
    p.add_argument("--bootstrap-iters", type=options.non_negative_int, default=100000,
                   help="lm-eval stderr bootstrap resamples (its default, as the paper)")
    p.add_argument("--seed", type=options.seed, default=0, help="seed of the 'random' criterion")
    p.add_argument("--calibration", type=Path,
                   help="text for 'activation', 'hybrid' and owl (default: Python stdlib docstrings, see "
                        "repro/evaluate/tasks/text.py)")
    p.add_argument("--calibration-samples", type=options.positive_int, default=32,
                   help="windows of 512 tokens")


def lm_options(args: argparse.Namespace) -> LmEvalOptions:
    """The lm-eval options of the command line (add_run_options)."""
    return LmEvalOptions(suite=args.suite, tasks=args.tasks, limit=args.limit,
                         batch_size=args.batch_size, max_batch_size=args.max_batch_size,
                         setting=args.setting,
                         max_length=args.max_length, bootstrap_iters=args.bootstrap_iters,
                         seed=args.seed, calibration=args.calibration,
                         calibration_samples=args.calibration_samples)


def configure(p: argparse.ArgumentParser) -> None:
    from repro.evaluate.stage import VARIANTS

    add_run_options(p, models_help="the paper's three (models.yaml)",
                    levels_help="each model's list in models.yaml", criteria=["maw"])
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANTS),
                   help="paper: no chat template (default); chat: lm-eval apply_chat_template")
    p.add_argument("--allocations", nargs="+", type=options.allocation,
                   help="how each level's neuron budget is shared between layers: uniform (the "
                        "paper, default), spareK (spare the K layers `repro sensitivity` found most "
                        "sensitive), owl (Yin et al. 2024); see repro/prune/allocation.py")


def run(args: argparse.Namespace) -> int:
    from repro.core.pruning import UNIFORM
    from repro.evaluate.stage import evaluate
    from repro.grid.options import from_cli

    evaluate(from_cli(args), lm_options(args), variants=args.variants or ["paper"],
             allocations=args.allocations or [UNIFORM])
    return 0
