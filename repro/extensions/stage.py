"""The sensitivity scan of one model: load once, rank once per criterion, then for each level
and layer (last layer first, so that the first run remembers every unpruned layer) cut that
layer, measure, and write its cells. Level 0 (the unpruned model) is measured once and written
as every layer's baseline.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path

from repro.evaluate.plan import SEEDS, ModelPlan, Settings
from repro.results import cells as cellio
from repro.results.sensitivity import CALIBRATION, METRIC, layer_of

log = logging.getLogger("repro.sensitivity")
SEQ_LEN = 512  # tokens per window of the calibration text whose perplexity is measured


def cell_settings(settings: Settings, plan: ModelPlan, criterion: str, args) -> dict:
    from repro.evaluate.runner import _jsonable

    out = settings.for_cell(plan.spec, plan.dtype, criterion)
    out["sensitivity"] = {"perplexity_windows": args.perplexity_windows, "seq_len": SEQ_LEN,
                          "text_sha256": settings.calibration_sha256(),
                          "tie_break": args.tie_break}
    return _jsonable(out)


def settings_by_criterion(settings: Settings, plan: ModelPlan, cells: list[cellio.Cell], args) -> dict[str, dict]:
    """Each criterion's cell settings, computed once (the calibration text is hashed in each)."""
    return {crit: cell_settings(settings, plan, crit, args) for crit in {c.criterion for c in cells}}


def pending(root: Path, plan: ModelPlan, cells: list[cellio.Cell], by_criterion: dict[str, dict]
            ) -> list[cellio.Cell]:
    """Cells missing, damaged, of another model or computed with other settings."""
    from repro.evaluate.runner import is_done

    return [c for c in cells if not is_done(root, c, by_criterion[c.criterion], plan.spec.identity)]


def scan_model(plan: ModelPlan, cells: list[cellio.Cell], root: Path, settings: Settings, args) -> None:
    import torch

    from repro.core.provenance import provenance
    from repro.evaluate.runner import (
        SAMPLES,
        _hflm,
        calibration_for,
        cell_payload,
        check_tasks_exist,
        lm_eval_record,
        run_task,
        samples_bytes,
        task_manager,
    )
    from repro.extensions import scan
    from repro.extensions.replay import Replay
    from repro.prune import criteria
    from repro.prune.ranking import rank
    from repro.runtime.device import host_info
    from repro.runtime.hf import load
    from repro.runtime.weights import weights

    by_criterion = settings_by_criterion(settings, plan, cells, args)
    todo = pending(root, plan, cells, by_criterion)
    log.info("%s: %d sensitivity cells in this shard, %d to compute", plan.spec.name, len(cells), len(todo))
    if not todo:
        return
    task = plan.tasks[0]
    tm = task_manager([task])
    check_tasks_exist(tm, [task])
    path, gguf, revision = weights(plan.spec)
    model, tok, source = load(path, revision=revision, gguf_file=gguf, dtype=plan.dtype,
                              device=settings.device)
    max_length = settings.max_length or plan.spec.max_length
    text = settings.calibration_text()
    windows = criteria.calibration_batches(tok, text, seq_len=SEQ_LEN, samples=args.perplexity_windows)
    replay = Replay(max(args.replay_cache_mib, 0) << 20)
    progress = cellio.Progress(len(todo))
    rankings: dict[str, object] = {}

    def measure(pruned, dense_below: int, want: set[str]) -> dict[str, tuple[dict, dict | None]]:
        """{task: (results, lm-eval raw or None)} on `pruned` with its unpruned prefix replayed."""
        out = {}
        with replay.installed(pruned, dense_below):
            if CALIBRATION in want:
                ppl, n = scan.perplexity(pruned, windows)
                out[CALIBRATION] = ({CALIBRATION: {METRIC: ppl, "tokens,none": n}}, None)
            if task.name in want:
                torch.manual_seed(SEEDS["torch_random_seed"])
                raw = run_task(_hflm(pruned, tok, settings, max_length), task, tm, chat=False,
                               settings=settings)
                out[task.name] = (raw, raw)
        return out

    def write(c: cellio.Cell, measured, info: dict, seconds: float) -> None:
        results, raw = measured
        if raw is None:  # the kit's own measure, shaped like an lm-eval payload for aggregate
            payload = {"task": CALIBRATION, "metrics_kept": [METRIC], "subtasks_kept": False,
                       "results": results, "groups": {}, "prune": info, "settings": by_criterion[c.criterion],
                       "measured_by": "repro.extensions.scan.perplexity",
                       "windows": {"count": len(windows), "seq_len": SEQ_LEN}}
            attachments, lm = None, None
        else:
            payload = cell_payload(raw, task, info, by_criterion[c.criterion])
            attachments, lm = {SAMPLES: samples_bytes(raw.get("samples", {}))}, lm_eval_record(raw)
        extra = {"lm_eval": lm} if lm is not None else {"measured_by": payload["measured_by"]}
        prov = provenance(host_info(settings.device), stage=plan.stage, model=plan.spec.record(),
                          source=source, dtype=plan.dtype, max_length=max_length, seeds=SEEDS,
                          limit=settings.limit, seconds=round(seconds, 2), **extra)
        cellio.write(root, c, payload, prov, attachments=attachments)
        progress.step(c, seconds)

    groups: dict[tuple[str, float, int], list[cellio.Cell]] = {}
    for c in todo:
        key = ("maw", 0.0, -1) if c.level == 0 else (c.criterion, c.level, layer_of(c.variant))
        groups.setdefault(key, []).append(c)
    for (crit, level, layer) in sorted(groups, key=lambda k: (k[1], k[0], -k[2])):
        group = groups[(crit, level, layer)]
        if crit not in rankings:
            calib = calibration_for(tok, settings)[0] if crit in criteria.CALIBRATED else None
            rankings[crit] = rank(model, crit, seed=settings.seed, calibration=calib)
        ranking = rankings[crit]
        t0 = time.monotonic()
        if level == 0:
            pruned = scan.unpruned_copy(model, ranking)
            measured = measure(pruned, len(ranking.widths), {c.task for c in group})
            seconds = (time.monotonic() - t0) / len(group)
            for c in group:
                write(c, measured[c.task], scan.baseline_info(model, ranking, layer_of(c.variant)), seconds)
        else:
            pruned, info = scan.layer_cut(model, ranking, layer, level, args.tie_break)
            measured = measure(pruned, layer, {c.task for c in group})
            seconds = (time.monotonic() - t0) / len(group)
            for c in group:
                write(c, measured[c.task], info, seconds)
        del pruned
    log.info("%s: %d unpruned-layer outputs replayed (%d MiB held)", plan.spec.name, replay.hits,
             replay.used >> 20)
    del model, rankings
    gc.collect()

