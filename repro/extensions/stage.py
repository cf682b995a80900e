"""The sensitivity scan as a grid stage (run by repro/grid/executor.py): load a model once, rank
once per criterion, then for each level and layer (last layer first, so that the first run
remembers every unpruned layer) cut that layer alone, measure both tasks, and write its cells.
Level 0 (the unpruned model) is measured once and written as every layer's baseline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from repro.core import pruning
from repro.evaluate import hflm, runner
from repro.evaluate import stage as evaluate_stage
from repro.evaluate.plan import SEEDS, ModelPlan, Settings, calibration_for
from repro.grid.executor import GridStage, Group, Job, Measured
from repro.results import cells as cellio
from repro.results.sensitivity import CALIBRATION, METRIC, STAGE, layer_variant

log = logging.getLogger("repro.sensitivity")
SEQ_LEN = 512  # tokens per window of the calibration text whose perplexity is measured
BASELINE = 1   # the part of level 0's one group (every layer's baseline): after layers' -index


def grid(plan: ModelPlan, num_layers: int, tie_break: str) -> list[cellio.Cell]:
    cells = set()
    for crit in plan.criteria:
        for level in plan.levels:
            for layer in range(num_layers):
                for task in (CALIBRATION, plan.tasks[0].name):
                    cells.add(cellio.Cell(STAGE, plan.spec.name, "maw" if level == 0 else crit,
                                          level, task, layer_variant(layer, tie_break)))
    return sorted(cells)


@dataclass
class Loaded(evaluate_stage.Loaded):
    """evaluate's loaded model, plus the scan's calibration windows and its replay cache."""
    windows: list = field(kw_only=True)
    replay: Any = field(kw_only=True)


class SensitivityStage(GridStage):
    name = STAGE

    def __init__(self, plans: list[ModelPlan], settings: Settings, *, perplexity_windows: int,
                 replay_cache_mib: int):
        self.plans = {p.spec.name: p for p in plans}
        self.settings, self.windows, self.replay_mib = settings, perplexity_windows, replay_cache_mib
        self.by_criterion: dict[tuple[str, str], dict] = {}

    def cell_settings(self, plan: ModelPlan, criterion: str) -> dict:
        key = (plan.spec.name, criterion)
        if key not in self.by_criterion:  # the calibration text is hashed once per criterion
            out = self.settings.for_cell(plan.spec, plan.dtype, criterion)
            out["sensitivity"] = {"perplexity_windows": self.windows, "seq_len": SEQ_LEN,
                                  "text_sha256": self.settings.calibration_sha256(),
                                  "tie_break": self.settings.tie_break}
            self.by_criterion[key] = runner._jsonable(out)
        return self.by_criterion[key]

    def recorded(self, record: dict):
        return hflm.recorded(record, hflm.UNBATCHED)

    def jobs(self) -> list[Job]:
        return [Job(c, self.cell_settings(p, c.criterion), p.spec.identity)
                for p in self.plans.values() for c in grid(p, p.spec.num_layers or 0, self.settings.tie_break)]

    def load(self, model: str) -> Loaded:
        from repro.extensions.replay import Replay
        from repro.prune import criteria
        from repro.runtime.hf import load
        from repro.runtime.weights import weights

        plan, s = self.plans[model], self.settings
        tm = runner.task_manager(plan.tasks[:1])
        runner.check_tasks_exist(tm, plan.tasks[:1])
        path, gguf, revision = weights(plan.spec)
        base, tok, source = load(path, revision=revision, gguf_file=gguf, dtype=plan.dtype, device=s.device)
        windows = criteria.calibration_batches(tok, s.calibration_text(), seq_len=SEQ_LEN,
                                               samples=self.windows)
        return Loaded(plan, base, tok, source, tm, s.max_length or plan.spec.max_length,
                      windows=windows, replay=Replay(max(self.replay_mib, 0) << 20))

    def unload(self, loaded: Loaded) -> None:
        log.info("%s: %d unpruned-layer outputs replayed (%d MiB held)", loaded.plan.spec.name,
                 loaded.replay.hits, loaded.replay.used >> 20)

    def rank(self, loaded: Loaded, criterion: str):
        from repro.prune.ranking import rank

        calib = (calibration_for(loaded.tokenizer, self.settings)[0]
                 if criterion in pruning.CALIBRATED else None)
        return rank(loaded.model, criterion, seed=self.settings.seed, calibration=calib)

    def group(self, cell: cellio.Cell) -> Group:
        if cell.level == 0:
            return Group(0.0, "maw", BASELINE)
        return Group(cell.level, cell.criterion, -cell.dims.layer)

    def prune(self, loaded: Loaded, ranking, group: Group, cells: list[cellio.Cell]):
        from repro.extensions import scan

        if group.part == BASELINE:
            return scan.unpruned_copy(loaded.model, ranking), None, len(ranking.widths), ranking
        layer = -group.part
        pruned, info = scan.layer_cut(loaded.model, ranking, layer, group.level, self.settings.tie_break)
        return pruned, info, layer, ranking

    def measure(self, loaded: Loaded, pruned, cells: list[cellio.Cell]) -> Iterator[Measured]:
        import torch

        from repro.core.provenance import provenance
        from repro.extensions import scan
        from repro.runtime.device import host_info

        model, info, dense_below, ranking = pruned
        plan, task, s = loaded.plan, loaded.plan.tasks[0], self.settings
        t0 = time.monotonic()
        want, measured = {c.task for c in cells}, {}
        with loaded.replay.installed(model, dense_below):
            if CALIBRATION in want:
                ppl, n = scan.perplexity(model, loaded.windows)
                measured[CALIBRATION] = ({CALIBRATION: {METRIC: ppl, "tokens,none": n}}, None)
            if task.name in want:
                torch.manual_seed(SEEDS["torch_random_seed"])
                raw = runner.run_task(runner._hflm(model, loaded.tokenizer, s, loaded.max_length),
                                      task, loaded.tm, chat=False, settings=s,
                                      level_free=loaded.level_free)
                measured[task.name] = (raw, raw)
        seconds = (time.monotonic() - t0) / len(cells)
        for c in cells:
            results, raw = measured[c.task]
            cell_info = info if info is not None else scan.baseline_info(loaded.model, ranking, c.dims.layer)
            settings = self.cell_settings(plan, c.criterion)
            if raw is None:  # the kit's own measure, shaped like an lm-eval payload for aggregate
                payload = {"task": CALIBRATION, "metrics_kept": [METRIC], "subtasks_kept": False,
                           "results": results, "groups": {}, "prune": cell_info, "settings": settings,
                           "measured_by": "repro.extensions.scan.perplexity",
                           "windows": {"count": len(loaded.windows), "seq_len": SEQ_LEN}}
                attachments, extra = None, {"measured_by": payload["measured_by"]}
            else:
                payload = runner.cell_payload(raw, task, cell_info, settings)
                attachments = {runner.SAMPLES: runner.samples_attachment(raw.get("samples", {}))}
                extra = {"lm_eval": runner.lm_eval_record(raw)}
            prov = provenance(host_info(s.device), stage=plan.stage, model=plan.spec.record(),
                              source=loaded.source, dtype=plan.dtype, max_length=loaded.max_length,
                              seeds=SEEDS, limit=s.limit, seconds=round(seconds, 2), **extra)
            yield Measured(c, payload, prov, attachments, seconds)
