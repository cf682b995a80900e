"""`python -m repro extensions`: the extensions table's rows, evaluated like any other cell.

    python -m repro extensions --models smollm2-135m-instruct     # after `repro sensitivity`

Runs every row of repro/config/extensions.yaml `report.rows` (a criterion and an allocation:
maw, maw spared, maw OWL, l2, hybrid, activation, random) at `report.levels` (10 and 40) and the
unpruned baseline, on each model's sensitivity task (`task_by_suite`, or --tasks), through the
evaluate stage: the same lm-eval grid stage, cells (stage evaluate; allocations as variants),
settings and resume rules as `repro evaluate --criteria ... --allocations ...`. spareK rows read
the model's sensitivity scan from --results, so run `repro sensitivity` first. --criteria keeps
only the rows of those criteria. `extensions` is the stage as a Python function.
"""

from __future__ import annotations

import argparse

from repro.config import models
from repro.config.extensions import extensions as config
from repro.core.errors import ReproError
from repro.core.variant import Variant
from repro.evaluate.cli import add_run_options, lm_options
from repro.evaluate.plan import DEFAULT_LM, LmEvalOptions, make_plans
from repro.grid.executor import GridReport
from repro.grid.options import DEFAULT, GridOptions


def configure(p: argparse.ArgumentParser) -> None:
    rep = config().report
    add_run_options(p, models_help="the paper's three (models.yaml)",
                    levels_help=" ".join(f"{x:g}" for x in rep.levels), criteria=None)


def run(args: argparse.Namespace) -> int:
    from repro.grid.options import from_cli

    extensions(from_cli(args), lm_options(args))
    return 0


def extensions(grid: GridOptions = DEFAULT, lm: LmEvalOptions = DEFAULT_LM) -> GridReport:
    """The extensions table's rows (criterion, allocation) at its levels and the unpruned
    baseline, on each model's sensitivity task.

    grid: models (default: the paper's three), levels (default: extensions.yaml
    report.levels), criteria (default: every row's; given: only those rows), and the rest of
    the grid's options; lm: the lm-eval options (lm.tasks: the one task to run instead).
    """
    from repro.evaluate.stage import run_lm_eval

    ext = config()
    rows = [r for r in ext.report.rows if not grid.criteria or r.criterion in grid.criteria]
    if not rows:
        raise ReproError(f"--criteria {' '.join(grid.criteria or ())} matches no row of "
                         "repro/config/extensions.yaml report.rows")
    levels = [0.0, *(grid.levels or ext.report.levels)]

    def task_of(spec: models.ModelSpec, suite: str) -> str:
        task = lm.tasks[0] if lm.tasks else ext.sensitivity.task_by_suite.get(suite)
        if task is None:
            raise ReproError(f"{spec.name}: no task for suite '{suite}' in "
                             "repro/config/extensions.yaml task_by_suite; pass --tasks")
        return task

    plans = make_plans(grid, lm, stage="evaluate", default_models=models.paper_models(),
                       criteria=[], pairs=[(r.criterion, r.alloc) for r in rows],
                       suite_of=lambda spec: spec.suite,
                       levels_of=lambda spec: spec.check_levels(levels),
                       variants_of=lambda spec, dtype: [Variant()], task_of=task_of)
    return run_lm_eval(plans, grid, lm)
