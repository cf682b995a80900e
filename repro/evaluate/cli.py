"""Stage 3, evaluate: lm-eval suites on every (model, criterion, level, task) cell, resumable.

    python -m repro evaluate                                   # every paper model and level
    python -m repro evaluate --models llama-3.2-1b --levels 0 40 --tasks mmlu gsm8k
    python -m repro evaluate --models llama-3.2-1b-instruct --variants paper chat
    python -m repro evaluate --shard 2/4 --results results     # one of four GPUs or nodes
    python -m repro evaluate --models smollm2-135m-instruct    # the CPU smoke model
    python -m repro evaluate --levels 10 40 --allocations uniform spare3 owl   # non-uniform widths

What runs is planned in plan.py and run in runner.py (how a cell is computed is told there).
Each finished cell is written atomically with provenance (repro.results.cells). A rerun skips
finished cells and reruns missing, truncated or damaged ones, and those computed with other
settings.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from repro.config import models
from repro.core import options
from repro.core.errors import ReproError
from repro.evaluate.plan import ModelPlan, Settings, make_plans
from repro.results import cells as cellio

VARIANT_NAMES = {"paper": "", "chat": "chat"}  # CLI name -> tidy-data variant


def batch_size(text: str) -> str:
    if re.fullmatch(r"auto(:[1-9]\d*)?|[1-9]\d*", text):
        return text
    raise argparse.ArgumentTypeError(f"'{text}' is not a batch size: use auto, auto:N or a whole number")


def add_run_options(p: argparse.ArgumentParser, *, models_help: str, levels_help: str,
                    criteria: list[str]) -> None:
    """The options evaluate and neuron-selection share (the grid's, then lm-eval's)."""
    from repro.prune.names import criterion

    options.add_grid(p, models_help=models_help, levels_help=levels_help, criteria=criteria,
                     criterion=criterion)
    p.add_argument("--suite", help="suite from suites.yaml (default: each model's own)")
    p.add_argument("--tasks", nargs="+", help="only these tasks of the suite")
    p.add_argument("--limit", type=options.limit,
                   help="documents per task, or a fraction in (0, 1) (tests only; recorded)")
    p.add_argument("--batch-size", type=batch_size,
                   help="a number, 'auto' or 'auto:N' (default: evaluation.yaml's, 1: what the "
                        "paper's code effectively ran); a task's own batch_size in suites.yaml wins")
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


def configure(p: argparse.ArgumentParser) -> None:
    add_run_options(p, models_help="the paper's three (models.yaml)",
                    levels_help="each model's list in models.yaml", criteria=["maw"])
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANT_NAMES),
                   help="paper: no chat template (default); chat: lm-eval apply_chat_template")
    p.add_argument("--allocations", nargs="+", type=allocation_name,
                   help="how each level's neuron budget is shared between layers: uniform (the "
                        "paper, default), spareK (spare the K layers `repro sensitivity` found most "
                        "sensitive), owl (Yin et al. 2024); see repro/prune/allocation.py")


def settings_from(args: argparse.Namespace) -> Settings:
    from repro.evaluate.runner import default_batch_size
    from repro.runtime.device import resolve

    device = resolve(args.device)
    return Settings(device=device, batch_size=args.batch_size or default_batch_size(device),
                    limit=args.limit, bootstrap_iters=args.bootstrap_iters,
                    max_length=args.max_length, seed=args.seed, calibration=args.calibration,
                    calibration_samples=args.calibration_samples, tie_break=args.tie_break,
                    max_batch_size=args.max_batch_size)


def dry_run(plans: list[ModelPlan], root: Path, settings: Settings, shard_spec: str | None) -> int:
    from repro.evaluate.allocate import Allocator, tag_of
    from repro.evaluate.runner import is_done

    grid = [c for p in plans for c in p.build_cells()]
    mine = cellio.shard(grid, shard_spec)
    by_model = {p.spec.name: (p, Allocator(root, p, settings)) for p in plans}
    for c in mine:
        p, allocator = by_model[c.model]
        task = next(t for t in p.tasks if t.name == c.task)
        alloc = allocator.settings_for(c.criterion, tag_of(c.variant))
        cell_settings = settings.for_cell(p.spec, p.dtype, c.criterion, task, alloc)
        state = "done" if is_done(root, c, cell_settings, p.spec.identity) else "pending"
        print(f"{state:8} {c.id}")
    return 0


def execute(args: argparse.Namespace, plans: list[ModelPlan]) -> int:
    """List (--dry-run) or run this shard's cells of `plans`; shared with neuron selection."""
    from repro.evaluate import nltk_data
    from repro.evaluate.runner import run_plans
    from repro.results.locks import open_results

    settings = settings_from(args)
    open_results(args.results, plans[0].stage, dry_run=args.dry_run)
    if args.dry_run:
        return dry_run(plans, args.results, settings, args.shard)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    tasks = [t for p in plans for t in p.tasks]
    nltk_data.prepare({t.name for t in tasks}, any(t.local for t in tasks))
    run_plans(plans, args.results, settings, args.shard)
    return 0


def allocation_name(text: str) -> str:
    """An allocation's tag for the cells ('' for uniform), checked when the line is parsed."""
    from repro.prune.allocation import parse

    try:
        return parse(text).tag
    except ReproError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    variants = [VARIANT_NAMES[v] for v in args.variants or ["paper"]]
    plans = make_plans(
        args, stage="evaluate", default_models=models.paper_models(),
        suite_of=lambda spec: spec.suite,
        levels_of=lambda spec: spec.check_levels(args.levels) if args.levels else list(spec.levels),
        variants_of=lambda spec, dtype: spec.check_variants(variants))
    for p in plans:
        p.allocations = list(dict.fromkeys(args.allocations or [""]))
    return execute(args, plans)
