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
are not recomputed (replay.py): a scan costs about half of its forward passes. The scan runs on
the grid executor (stage.py); `sensitivity` is the stage as a Python function.
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
from repro.core.variant import Variant
from repro.evaluate.cli import add_run_options, lm_options
from repro.evaluate.plan import DEFAULT_LM, LmEvalOptions, ModelPlan, make_plans
from repro.grid.executor import GridReport
from repro.grid.options import DEFAULT, GridOptions
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


def run(args: argparse.Namespace) -> int:
    from repro.grid.options import from_cli

    sensitivity(from_cli(args), lm_options(args), perplexity_windows=args.perplexity_windows,
                replay_cache_mib=args.replay_cache_mib)
    return 0


def sensitivity(grid: GridOptions = DEFAULT, lm: LmEvalOptions = DEFAULT_LM, *,
                perplexity_windows: int | None = None, replay_cache_mib: int | None = None) -> GridReport:
    """For every criterion, level and decoder layer, only that layer's MLP cut: the calibration
    text's perplexity and one task's, per cell; a summary table per model and criterion.

    grid: models (default: the paper's three), levels above 0 (default: extensions.yaml's; level
    0 is always measured), criteria (default: extensions.yaml's), and the rest of the grid's
    options; lm: the lm-eval options (lm.tasks: the one task, else the model suite's from
    extensions.yaml task_by_suite); perplexity_windows: windows of 512 tokens of the calibration
    text (default: extensions.yaml's); replay_cache_mib: memory for replayed outputs of unpruned
    layers (0: recompute everything; the numbers are the same).
    """
    from repro.core.atomicio import write_text
    from repro.evaluate.plan import Settings
    from repro.extensions.stage import SensitivityStage
    from repro.grid.executor import run_grid

    ext = extensions().sensitivity
    if grid.levels and 0 in grid.levels:
        raise ReproError("--levels: level 0 (the unpruned model) is always measured; give levels above 0")
    if lm.tasks and len(lm.tasks) != 1:
        raise ReproError("--tasks: the scan measures one task beside the calibration text; give one")
    if lm.setting != "paper":
        raise ReproError(f"--setting {lm.setting}: the per-layer scan has one setting (its own "
                         "replayed forwards, batch 1); leave --setting out")

    def task_of(spec: models.ModelSpec, suite: str) -> str:
        task = lm.tasks[0] if lm.tasks else ext.task_by_suite.get(suite)
        if task is None:
            raise ReproError(f"{spec.name}: no sensitivity task for suite '{suite}' "
                             "in repro/config/extensions.yaml task_by_suite; pass --tasks")
        return task

    plans = make_plans(grid, lm, stage=STAGE, default_models=models.paper_models(),
                       criteria=grid.criteria or ext.criteria, suite_of=lambda spec: spec.suite,
                       levels_of=lambda spec: [0.0, *(grid.levels or ext.levels)],
                       variants_of=lambda spec, dtype: [Variant()], task_of=task_of)
    for plan in plans:
        if plan.spec.num_layers is None:
            raise ReproError(f"{plan.spec.name}: its number of layers is unknown (no config.json)")
    stage = SensitivityStage(plans, Settings.build(grid, lm), perplexity_windows=(
        ext.calibration_samples if perplexity_windows is None else perplexity_windows),
        replay_cache_mib=ext.replay_cache_mib if replay_cache_mib is None else replay_cache_mib)
    t0 = time.monotonic()
    report = run_grid(stage, stage.jobs(), root=grid.results, shard=grid.shard,
                      dry_run=grid.dry_run, check=grid.check, wait=grid.wait)
    if grid.dry_run:
        return report
    for plan in plans:
        for crit in plan.criteria:
            table = summary(plan, Path(grid.results), crit, plan.spec.num_layers, grid.tie_break)
            write_text(Path(grid.results) / STAGE / plan.spec.name / f"summary-{crit}.md", table)
            print(table)
    log.info("sensitivity scan finished in %.1f s", time.monotonic() - t0)
    return report


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
