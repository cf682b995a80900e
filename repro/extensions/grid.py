"""`python -m repro extensions`: the extensions table's rows, evaluated like any other cell.

    python -m repro extensions --models smollm2-135m-instruct     # after `repro sensitivity`

Runs every row of repro/config/extensions.yaml `report.rows` (a criterion and an allocation:
maw, maw spared, maw OWL, l2, hybrid, activation, random) at `report.levels` (10 and 40) and the
unpruned baseline, on each model's sensitivity task (`task_by_suite`, or --tasks), through the
evaluate stage: the same runner, cells (stage evaluate; allocations as variants), settings and
resume rules as `repro evaluate --criteria ... --allocations ...`. spareK rows read the model's
sensitivity scan from --results, so run `repro sensitivity` first. --criteria keeps only the
rows of those criteria.
"""

from __future__ import annotations

import argparse
import copy

from repro.config import models
from repro.config.extensions import extensions
from repro.core.errors import ReproError
from repro.evaluate.cli import add_run_options, execute
from repro.evaluate.plan import ModelPlan, make_plans


def configure(p: argparse.ArgumentParser) -> None:
    rep = extensions().report
    add_run_options(p, models_help="the paper's three (models.yaml)",
                    levels_help=" ".join(f"{x:g}" for x in rep.levels), criteria=None)


def plans_from(args: argparse.Namespace) -> list[ModelPlan]:
    ext = extensions()
    rows = [r for r in ext.report.rows if not args.criteria or r.criterion in args.criteria]
    if not rows:
        raise ReproError(f"--criteria {' '.join(args.criteria)} matches no row of "
                         "repro/config/extensions.yaml report.rows")
    levels = [0.0, *(args.levels or ext.report.levels)]
    sub = copy.copy(args)
    sub.criteria = list(dict.fromkeys(r.criterion for r in rows))
    plans = make_plans(sub, stage="evaluate", default_models=models.paper_models(),
                       suite_of=lambda spec: spec.suite,
                       levels_of=lambda spec: spec.check_levels(levels),
                       variants_of=lambda spec, dtype: [""])
    for p in plans:
        task = args.tasks[0] if args.tasks else ext.sensitivity.task_by_suite.get(
            args.suite or p.spec.suite or "")
        if task is None:
            raise ReproError(f"{p.spec.name}: no task for suite '{args.suite or p.spec.suite}' in "
                             "repro/config/extensions.yaml task_by_suite; pass --tasks")
        p.tasks = [t for t in p.tasks if t.name == task]
        p.pairs = [(r.criterion, r.tag) for r in rows]
    return plans


def run(args: argparse.Namespace) -> int:
    return execute(args, plans_from(args))
