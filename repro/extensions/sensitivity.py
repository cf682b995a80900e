"""`python -m repro sensitivity`: which decoder layers break when their MLP is pruned.

    python -m repro sensitivity --models smollm2-135m-instruct            # maw at 10% and 40%
    python -m repro sensitivity --models llama-3.2-1b --criteria maw l2 --levels 10 20 30 40 50 60

For every criterion, level and decoder layer, only that layer's MLP is cut (scan.py) and two
perplexities are measured: the calibration text's (the kit's own measure, task `calibration`,
--perplexity-windows windows of 512 tokens of --calibration, else the stdlib docstrings) and
one task's through lm-eval (by the model's suite: extensions.yaml `task_by_suite`; or --tasks).
Defaults: repro/config/extensions.yaml. Cells (stage sensitivity, variant layerNN, see
repro/results/sensitivity.py) resume and shard like evaluate's; `repro aggregate` makes them
tidy rows; the report draws a layers x levels heat map and a table per model. Unpruned layers
are not recomputed (replay.py): a scan costs about half of its forward passes.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from repro.config import models
from repro.config.extensions import extensions
from repro.core import options
from repro.core.errors import ReproError
from repro.evaluate.cli import add_run_options, settings_from
from repro.evaluate.plan import ModelPlan, make_plans
from repro.extensions.stage import pending, scan_model, settings_by_criterion
from repro.results import cells as cellio
from repro.results.sensitivity import CALIBRATION, METRIC, STAGE, layer_variant

log = logging.getLogger("repro.sensitivity")


def configure(p: argparse.ArgumentParser) -> None:
    ext = extensions().sensitivity
    add_run_options(p, models_help="the paper's three (models.yaml)",
                    levels_help=" ".join(f"{x:g}" for x in ext.levels), criteria=list(ext.criteria))
    p.add_argument("--perplexity-windows", type=options.positive_int, default=ext.calibration_samples,
                   help="windows of 512 tokens of the calibration text whose perplexity is measured")
    p.add_argument("--replay-cache-mib", type=options.non_negative_int, default=ext.replay_cache_mib,
                   help="memory for outputs of unpruned layers, replayed instead of recomputed "
                        "(0: recompute everything; the results are the same)")


def plans_from(args: argparse.Namespace) -> list[ModelPlan]:
    ext = extensions().sensitivity
    if args.levels and 0 in args.levels:
        raise ReproError("--levels: level 0 (the unpruned model) is always measured; give levels above 0")
    if args.tasks and len(args.tasks) != 1:
        raise ReproError("--tasks: the scan measures one task beside the calibration text; give one")

    def task_of(spec: models.ModelSpec) -> list[str] | None:
        if args.tasks:
            return None
        task = ext.task_by_suite.get(args.suite or spec.suite or "")
        if task is None:
            raise ReproError(f"{spec.name}: no sensitivity task for suite '{args.suite or spec.suite}' "
                             "in repro/config/extensions.yaml task_by_suite; pass --tasks")
        return [task]

    plans = make_plans(args, stage=STAGE, default_models=models.paper_models(),
                       suite_of=lambda spec: spec.suite,
                       levels_of=lambda spec: [0.0, *(args.levels or ext.levels)],
                       variants_of=lambda spec, dtype: [""])
    for p in plans:
        wanted = task_of(p.spec)
        p.tasks = [t for t in p.tasks if wanted is None or t.name in wanted]
    return plans


def grid(plan: ModelPlan, num_layers: int, tie_break: str) -> list[cellio.Cell]:
    cells = set()
    for crit in plan.criteria:
        for level in plan.levels:
            for layer in range(num_layers):
                for task in (CALIBRATION, plan.tasks[0].name):
                    cells.add(cellio.Cell(STAGE, plan.spec.name, "maw" if level == 0 else crit,
                                          level, task, layer_variant(layer, tie_break)))
    return sorted(cells)


def summary(plan: ModelPlan, root: Path, criterion: str, num_layers: int, tie_break: str) -> str:
    """A Markdown table: one row per layer, perplexity per task and level (change to level 0)."""
    task = plan.tasks[0]
    measures = [(CALIBRATION, METRIC), (task.name, task.metrics[0])]
    levels = [lv for lv in plan.levels if lv > 0]
    head = " | ".join(f"{t} {k.split(',')[0]} {lv:g}%" for t, k in measures for lv in levels)
    lines = [f"Per-layer sensitivity, {plan.spec.name}, {criterion} (one layer's MLP pruned at a time)",
             "", f"| layer | {head} |", "|---|" + "---|" * len(measures) * len(levels)]

    def value(level: float, layer: int, t: str, key: str) -> float | None:
        rec = cellio.read(root, cellio.Cell(STAGE, plan.spec.name, criterion if level else "maw",
                                            level, t, layer_variant(layer, tie_break)))
        return (rec or {}).get("payload", {}).get("results", {}).get(t, {}).get(key)

    base = {t: value(0.0, 0, t, k) for t, k in measures}
    lines.append("| unpruned | " + " | ".join(
        "not run" if base[t] is None else f"{base[t]:.4g}" for t, _ in measures for _ in levels) + " |")
    for layer in range(num_layers):
        cells = []
        for t, k in measures:
            for lv in levels:
                v = value(lv, layer, t, k)
                cells.append("not run" if v is None else f"{v:.4g}" + (
                    f" ({100 * (v / base[t] - 1):+.0f}%)" if base[t] else ""))
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from repro.core.atomicio import write_text
    from repro.results.locks import open_results

    plans = plans_from(args)
    settings = settings_from(args)
    open_results(args.results, STAGE, dry_run=args.dry_run)
    t0 = time.monotonic()
    for plan in plans:
        layers = plan.spec.num_layers
        if layers is None:
            raise ReproError(f"{plan.spec.name}: its number of layers is unknown (no config.json)")
        cells = cellio.shard(grid(plan, layers, args.tie_break), args.shard)
        if args.dry_run:
            todo = set(pending(args.results, plan, cells, settings_by_criterion(settings, plan, cells, args)))
            for c in cells:
                print(f"{'pending' if c in todo else 'done':8} {c.id}")
            continue
        scan_model(plan, cells, Path(args.results), settings, args)
        for crit in plan.criteria:
            table = summary(plan, Path(args.results), crit, layers, args.tie_break)
            write_text(Path(args.results) / STAGE / plan.spec.name / f"summary-{crit}.md", table)
            print(table)
    if not args.dry_run:
        log.info("sensitivity scan finished in %.1f s", time.monotonic() - t0)
    return 0

