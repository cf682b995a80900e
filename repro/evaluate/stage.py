"""The lm-eval grid stage: what evaluate, neuron selection and the extensions table measure on
one pruned model, run by the grid executor (repro/grid/executor.py), and `evaluate`, the stage
as a Python function.

How a cell is run (the paper's setting, made explicit):
- the base model is loaded once per model; each level is pruned in memory from one ranking
  per criterion (repro.prune), so untouched tensors are shared with the base; a non-uniform
  allocation is a named variant of a cell (`owl`, `spare3`; after `chat` where there is one),
  its per-layer widths from repro.prune.allocator and its inputs in the cell's settings;
- lm-eval's Python API on the in-memory model, one call per task with that task's own few-shot
  count, the HFLM's settings the paper's effective ones (hflm.py), fixed seeds, batch size as
  asked (runner.py says how and why); a cell an older kit wrote without a setting it did not
  yet record keeps the value it implicitly had (hflm.recorded).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.config import models
from repro.core import pruning
from repro.core.errors import ReproError
from repro.core.pruning import UNIFORM, Allocation
from repro.core.variant import Variant
from repro.evaluate import hflm, runner
from repro.evaluate.level_free import LevelFree
from repro.evaluate.plan import (
    DEFAULT_LM,
    SEEDS,
    LmEvalOptions,
    ModelPlan,
    Settings,
    calibration_for,
    make_plans,
)
from repro.grid.executor import GridReport, GridStage, Group, Job, Measured, run_grid
from repro.grid.options import DEFAULT, GridOptions
from repro.results.cells import Cell

VARIANTS = {"paper": Variant(), "chat": Variant(chat=True)}  # --variants: no chat template, or lm-eval's


def evaluate(grid: GridOptions = DEFAULT, lm: LmEvalOptions = DEFAULT_LM, *,
             variants: Sequence[str] = ("paper",),
             allocations: Sequence[Allocation | str] = (UNIFORM,)) -> GridReport:
    """lm-eval suites on every (model, criterion, level, task) cell of this shard, resumable.

    grid: models (default: the paper's three), levels (default: each model's list in
    models.yaml), criteria (default: maw), device, dtype, tie-break, results folder, shard, dry
    run; lm: the lm-eval options; variants: 'paper' (no chat template) and/or 'chat' (lm-eval's
    apply_chat_template); allocations: uniform (the paper), spareK, owl (repro/prune/allocation.py).
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ReproError(f"variant '{unknown[0]}': choose paper or chat")
    allocs = [a if isinstance(a, Allocation) else pruning.allocation(a) for a in allocations]
    plans = make_plans(
        grid, lm, stage="evaluate", default_models=models.paper_models(),
        criteria=grid.criteria or ("maw",), allocations=allocs, suite_of=lambda spec: spec.suite,
        levels_of=lambda spec: spec.check_levels(grid.levels) if grid.levels else list(spec.levels),
        variants_of=lambda spec, dtype: [Variant.parse(v) for v in spec.check_variants(
            [str(VARIANTS[v]) for v in variants])])
    return run_lm_eval(plans, grid, lm)


def run_lm_eval(plans: list[ModelPlan], grid: GridOptions, lm: LmEvalOptions) -> GridReport:
    """List (dry run) or compute this shard's cells of `plans` (evaluate, neuron selection and
    the extensions table)."""
    from repro.evaluate import nltk_data

    settings = Settings.build(grid, lm)
    stage = LmEvalStage(plans, settings, grid.results)
    jobs = stage.jobs()
    if not grid.dry_run:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        tasks = [t for p in plans for t in p.tasks]
        nltk_data.prepare({t.name for t in tasks}, any(t.local for t in tasks))
    return run_grid(stage, jobs, root=grid.results, shard=grid.shard, dry_run=grid.dry_run,
                    check=grid.check, wait=grid.wait)


@dataclass
class Loaded:
    plan: ModelPlan
    model: Any
    tokenizer: Any
    source: dict
    tm: Any
    max_length: int
    calibration: dict | None = None  # the record of the calibration windows, once made
    level_free: LevelFree = field(default_factory=LevelFree)  # requests and tokens, once per model


class LmEvalStage(GridStage):
    def __init__(self, plans: list[ModelPlan], settings: Settings, root: Path):
        from repro.prune.allocator import Allocator
        from repro.results.sensitivity import layer_sensitivity

        self.name, self.settings, self.root = plans[0].stage, settings, Path(root)
        self.plans = {p.spec.name: p for p in plans}
        self.loaded: dict[str, Loaded] = {}
        self.cell_settings: dict[Cell, dict] = {}

        def allocator(plan: ModelPlan) -> Allocator:
            return Allocator(
                calibration=lambda: calibration_for(self.loaded[plan.spec.name].tokenizer, settings)[0],
                sensitivity=lambda crit: layer_sensitivity(root, plan.spec.name, crit,
                                                           plan.spec.num_layers or 0, settings.tie_break))
        self.allocators = {name: allocator(p) for name, p in self.plans.items()}

    def recorded(self, record: dict):
        return hflm.recorded(record, hflm.BATCHED)

    def allocation_settings(self, plan: ModelPlan, criterion: str, a: Allocation) -> dict | None:
        """What an allocation cell's numbers depend on (None for uniform)."""
        from repro.config.extensions import extensions
        from repro.prune.allocation import spared_layers

        if a.rule == "uniform":
            return None
        if a.rule == "owl":
            owl = extensions().allocations.owl
            return {"rule": "owl", "m": owl.m, "lambda": owl.lam,
                    "calibration": {"sha256": self.settings.calibration_sha256(),
                                    "samples": self.settings.calibration_samples}}
        scores, record = self.allocators[plan.spec.name].sensitivity(criterion)
        spared_layers(scores, a.k)  # a K the model cannot take fails here, before any cell runs
        return {"rule": "spare", "k": a.k, "sensitivity_sha256": record["sha256"]}

    def jobs(self) -> list[Job]:
        out = []
        for p in self.plans.values():
            tasks = {t.name: t for t in p.tasks}
            for c in p.cells():
                alloc = self.allocation_settings(p, c.criterion, c.dims.allocation)
                settings = self.settings.for_cell(p.spec, p.dtype, c.criterion, tasks[c.task], alloc,
                                                  fast=c.dims.fast)
                self.cell_settings[c] = settings
                out.append(Job(c, settings, p.spec.identity))
        return out

    def load(self, model: str) -> Loaded:
        from repro.runtime.hf import load
        from repro.runtime.weights import weights

        plan = self.plans[model]
        tm = runner.task_manager(plan.tasks)
        runner.check_tasks_exist(tm, plan.tasks)
        path, gguf, revision = weights(plan.spec)
        base, tok, source = load(path, revision=revision, gguf_file=gguf, dtype=plan.dtype,
                                 device=self.settings.device)
        self.loaded[model] = Loaded(plan, base, tok, source, tm,
                                    self.settings.max_length or plan.spec.max_length)
        return self.loaded[model]

    def unload(self, loaded: Loaded) -> None:
        self.loaded.pop(loaded.plan.spec.name, None)

    def rank(self, loaded: Loaded, criterion: str):
        from repro.prune.ranking import rank

        calib = None
        if criterion in pruning.CALIBRATED:
            calib, loaded.calibration = calibration_for(loaded.tokenizer, self.settings)
        return rank(loaded.model, criterion, seed=self.settings.seed, calibration=calib)

    def group(self, cell: Cell) -> Group:
        return Group(cell.level, cell.criterion, cell.dims.allocation.tag)

    def prune(self, loaded: Loaded, ranking, group: Group, cells: list[Cell]):
        from repro.evaluate.batch import BatchSizes
        from repro.prune.apply import prune
        from repro.prune.widths import Target

        target = Target(level=group.level)
        alloc = cells[0].dims.allocation
        widths, record = self.allocators[loaded.plan.spec.name].widths(loaded.model, alloc, ranking, target)
        pruned, info = prune(loaded.model, ranking, target, self.settings.tie_break, widths=widths,
                             allocation=alloc.name, allocation_record=record)
        info = info.to_dict()
        if group.criterion in pruning.CALIBRATED:
            info["calibration"] = loaded.calibration
        lm = runner._hflm(pruned, loaded.tokenizer, self.settings, loaded.max_length)
        return pruned, info, lm, BatchSizes(lm)

    def measure(self, loaded: Loaded, pruned, cells: list[Cell]) -> Iterator[Measured]:
        import torch

        from repro.core.provenance import provenance
        from repro.evaluate.nltk_data import stub_active
        from repro.runtime.device import host_info

        _, info, lm, sizes = pruned
        plan, settings = loaded.plan, self.settings
        tasks = {t.name: t for t in plan.tasks}
        for cell in cells:
            t0 = time.monotonic()
            task = tasks[cell.task]
            cell_settings = self.cell_settings[cell]
            sizes.start(cell_settings["batch_size"])
            torch.manual_seed(SEEDS["torch_random_seed"])
            chat = cell.dims.chat
            raw = runner.run_task(lm, task, loaded.tm, chat=chat, settings=settings,
                                  level_free=loaded.level_free)
            elapsed = time.monotonic() - t0
            prov = provenance(
                host_info(settings.device), stage=plan.stage, model=plan.spec.record(),
                source=loaded.source, dtype=plan.dtype, max_length=loaded.max_length,
                batch_size=sizes.record(), hflm={**hflm.effective(lm), **sizes.effective()},
                apply_chat_template=chat,
                fewshot_as_multiturn=False, system_instruction=None, seeds=SEEDS, limit=settings.limit,
                bootstrap_iters=settings.bootstrap_iters, use_cache=None,
                nltk_punkt_tab_stub=stub_active(), seconds=round(elapsed, 2),
                lm_eval=runner.lm_eval_record(raw))
            payload = runner.cell_payload(raw, task, info, cell_settings)
            yield Measured(cell, payload, prov,
                           {runner.SAMPLES: runner.samples_attachment(raw.get("samples", {}))}, elapsed)
