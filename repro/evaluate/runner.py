"""Run an evaluation plan: lm-eval on every pending cell, each written atomically with its
provenance (repro.results.cells), so that a rerun skips finished cells.

How a cell is run (the paper's setting, made explicit):
- the base model is loaded once per model; each level is pruned in memory from one ranking
  per criterion (repro.prune), so untouched tensors are shared with the base;
- lm-eval's Python API (`simple_evaluate`) on the in-memory model, one call per task with that
  task's own few-shot count (a global num_fewshot is ignored or overrides silently otherwise);
- the HFLM built in one place (hflm.py) with the paper's effective settings, each explicit:
  batch size 1, max_length the model's own (models.yaml: the config's max_position_embeddings),
  no BOS, no truncation; fixed seeds (lm-eval's defaults, recorded); a task's own batch size
  where suites.yaml sets one; what "auto" resolved to is recorded per cell (batch.py);
- no answer cache (lm-eval keys it by request only, not by model: a shared cache would hand one
  configuration another's answers); samples kept as a gzipped JSONL attachment.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import gzip
import hashlib
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from repro.config import suites
from repro.core.errors import ReproError
from repro.evaluate import hflm
from repro.evaluate.batch import BatchSizes
from repro.evaluate.datasets_once import datasets_once
from repro.evaluate.plan import SEEDS, ModelPlan, Settings, calibration_for
from repro.results import cells as cellio
from repro.results.locks import Claims

log = logging.getLogger("repro.evaluate")

SAMPLES = "samples.jsonl.gz"


def task_manager(tasks: Iterable[suites.TaskSpec]):
    """One lm-eval TaskManager for these tasks: the built-in index only when needed (~4 s)."""
    from lm_eval.tasks import TaskManager

    tasks = list(tasks)
    include = None
    if any(t.local for t in tasks):
        from repro.evaluate.tasks.build import build

        include = str(build())
    return TaskManager(include_path=include, include_defaults=any(not t.local for t in tasks))


def check_tasks_exist(tm, tasks: Iterable[suites.TaskSpec]) -> None:
    known = set(tm.all_tasks)
    missing = [t.name for t in tasks if t.name not in known]
    if missing:
        import lm_eval

        raise ReproError(f"lm-eval {lm_eval.__version__} does not know task(s) {', '.join(missing)}; "
                         "check repro/config/suites.yaml against the pinned lm-eval version")


def _jsonable(obj: Any) -> Any:
    from lm_eval.utils import handle_non_serializable

    return json.loads(json.dumps(obj, default=handle_non_serializable))


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def samples_bytes(samples: dict[str, list]) -> bytes:
    """lm-eval's logged samples as gzipped JSONL (one line per document, with its task);
    mtime 0 so that identical samples give identical bytes."""
    from lm_eval.utils import handle_non_serializable

    lines = []
    for task, rows in sorted(samples.items()):
        for row in rows:
            lines.append(json.dumps({"task": task, **row}, sort_keys=True,
                                    default=handle_non_serializable))
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


_ENV_INFO: dict = {}


@contextlib.contextmanager
def env_info_once():
    """lm-eval records the environment on every simple_evaluate call (add_env_info: torch's
    collect_env runs pip, nvidia-smi and more as subprocesses, about 3 s of waiting per cell).
    Nothing in it changes within a process, so it is collected once and copied into each record."""
    import lm_eval.evaluator as evaluator

    original = evaluator.add_env_info

    def once(storage: dict) -> None:
        if not _ENV_INFO:
            original(_ENV_INFO)
        storage.update(copy.deepcopy(_ENV_INFO))

    evaluator.add_env_info = once
    try:
        yield
    finally:
        evaluator.add_env_info = original


def run_task(lm, task: suites.TaskSpec, tm, *, chat: bool, settings: Settings) -> dict:
    import lm_eval

    with env_info_once(), datasets_once():
        return lm_eval.simple_evaluate(
            model=lm, tasks=[task.name], num_fewshot=task.shots, task_manager=tm,
            limit=settings.limit, bootstrap_iters=settings.bootstrap_iters, log_samples=True,
            use_cache=None, apply_chat_template=chat, **SEEDS)


def cell_payload(raw: dict, task: suites.TaskSpec, info: dict, settings: dict) -> dict:
    shots = raw.get("n-shot", {})
    wrong = {k: v for k, v in shots.items() if v != task.shots}
    if wrong:
        log.warning("%s ran with shots %s, not %d as configured", task.name, wrong, task.shots)
    return _jsonable({
        "task": task.name, "metrics_kept": list(task.metrics), "subtasks_kept": task.subtasks,
        "expected_shots": task.shots, "results": raw.get("results", {}),
        "groups": raw.get("groups", {}), "group_subtasks": raw.get("group_subtasks", {}),
        "versions": raw.get("versions", {}), "n-shot": shots, "n-samples": raw.get("n-samples", {}),
        "higher_is_better": raw.get("higher_is_better", {}), "prune": info, "settings": settings,
    })


def lm_eval_record(raw: dict) -> dict:
    """lm-eval's own record of the run (without samples), with a hash per task config."""
    import lm_eval

    configs = raw.get("configs", {})
    keep = ("config", "git_hash", "date", "transformers_version", "lm_eval_version",
            "upper_git_hash", "tokenizer_pad_token", "tokenizer_eos_token", "tokenizer_bos_token",
            "eot_token_id", "max_length", "task_hashes", "pretty_env_info")
    rec = {k: raw[k] for k in keep if k in raw}
    rec.update(version=lm_eval.__version__, configs=configs,
               task_config_sha256={t: _sha(c) for t, c in configs.items()},
               versions=raw.get("versions", {}))
    return _jsonable(rec)


def is_done(root: Path, cell: cellio.Cell, settings: dict, identity: str | None = None) -> bool:
    rec = cellio.read(root, cell, identity)
    if rec is None:
        return False
    changed = hflm.differs(rec.get("payload", {}).get("settings"), rec.get("provenance", {}),
                           _jsonable(settings))
    if changed:
        log.warning("%s was computed with other settings (%s); it will be recomputed",
                    cell.id, ", ".join(changed))
        return False
    return True


def default_batch_size(device: str) -> str:
    return hflm.default_batch_size()  # the same on every device: the paper's effective one


def run_plans(plans: list[ModelPlan], root: Path, settings: Settings, shard_spec: str | None,
              *, out=print) -> list[cellio.Cell]:
    """Evaluate every pending cell of this shard; return the cells written. A cell is claimed
    before it is computed (repro.results.locks): another runner on this folder skips it."""
    claims = Claims(root)
    try:
        return _run_plans(plans, root, settings, shard_spec, claims, out)
    finally:
        claims.close()  # an interrupted cell's claim too


def _run_plans(plans: list[ModelPlan], root: Path, settings: Settings, shard_spec: str | None,
               claims: Claims, out) -> list[cellio.Cell]:
    import torch

    from repro.core.provenance import provenance
    from repro.evaluate.allocate import Allocator, is_chat, tag_of
    from repro.evaluate.nltk_data import stub_active
    from repro.prune import criteria
    from repro.prune.apply import prune
    from repro.prune.ranking import rank
    from repro.prune.widths import Target
    from repro.runtime.device import host_info
    from repro.runtime.hf import load
    from repro.runtime.weights import weights

    root = Path(root)
    grid = [c for p in plans for c in p.build_cells()]
    mine = set(cellio.shard(grid, shard_spec))
    todo: dict[str, list[cellio.Cell]] = {}
    cell_settings: dict[cellio.Cell, dict] = {}
    allocators = {p.spec.name: Allocator(root, p, settings) for p in plans}
    for p in plans:
        by_name = {t.name: t for t in p.tasks}
        for c in p.cells:
            if c not in mine:
                continue
            alloc = allocators[p.spec.name].settings_for(c.criterion, tag_of(c.variant))
            cell_settings[c] = settings.for_cell(p.spec, p.dtype, c.criterion, by_name[c.task], alloc)
        todo[p.spec.name] = [c for c in p.cells
                             if c in mine and not is_done(root, c, cell_settings[c], p.spec.identity)]
    total = sum(len(v) for v in todo.values())
    out(f"{len(grid)} cells in the grid, {len(mine)} in shard {shard_spec or '1/1'}, "
        f"{total} to compute")
    progress = cellio.Progress(total)
    written, left = [], []
    for plan in plans:
        pending = [c for c in todo[plan.spec.name] if not claims.busy(c)]
        left += [c for c in todo[plan.spec.name] if c not in pending]
        if not pending:
            continue
        spec = plan.spec
        tm = task_manager(plan.tasks)
        check_tasks_exist(tm, plan.tasks)
        path, gguf, revision = weights(spec)
        model, tok, source = load(path, revision=revision, gguf_file=gguf, dtype=plan.dtype,
                                  device=settings.device)
        max_length = settings.max_length or spec.max_length
        tasks = {t.name: t for t in plan.tasks}
        rankings: dict[str, Any] = {}
        calib_record = None
        groups = sorted({(c.criterion, c.level, tag_of(c.variant)) for c in pending},
                        key=lambda x: (x[1], x[0], x[2]))
        for crit, level, tag in groups:
            if crit not in rankings:
                calib = None
                if crit in criteria.CALIBRATED:
                    calib, calib_record = calibration_for(tok, settings)
                rankings[crit] = rank(model, crit, seed=settings.seed, calibration=calib)
            target = Target(level=level)
            widths, record = None, None
            if tag:
                ranking = rankings[crit]
                widths, record = allocators[spec.name].widths(
                    model, tok, ranking.widths, target.width(ranking.widths[0], ranking.hidden),
                    level, crit, tag)
            pruned, info = prune(model, rankings[crit], target, settings.tie_break, widths=widths,
                                 allocation=tag or "uniform", allocation_record=record)
            info = info.to_dict()
            if crit in criteria.CALIBRATED:
                info["calibration"] = calib_record
            lm = _hflm(pruned, tok, settings, max_length)
            sizes = BatchSizes(lm)
            for cell in [c for c in pending if (c.criterion, c.level, tag_of(c.variant)) == (crit, level, tag)]:
                if not claims.acquire(cell):
                    left.append(cell)
                    continue
                if is_done(root, cell, cell_settings[cell], spec.identity):
                    claims.release(cell)
                    log.info("%s: finished by another runner meanwhile", cell.id)
                    continue
                t0 = time.monotonic()
                task = tasks[cell.task]
                sizes.start(cell_settings[cell]["batch_size"])
                torch.manual_seed(SEEDS["torch_random_seed"])
                raw = run_task(lm, task, tm, chat=is_chat(cell.variant), settings=settings)
                elapsed = time.monotonic() - t0
                prov = provenance(
                    host_info(settings.device), stage=plan.stage, model=spec.record(), source=source,
                    dtype=plan.dtype, max_length=max_length,
                    batch_size=sizes.record(), hflm=hflm.effective(lm),
                    apply_chat_template=is_chat(cell.variant), fewshot_as_multiturn=False,
                    system_instruction=None, seeds=SEEDS,
                    limit=settings.limit, bootstrap_iters=settings.bootstrap_iters,
                    use_cache=None, nltk_punkt_tab_stub=stub_active(), seconds=round(elapsed, 2),
                    lm_eval=lm_eval_record(raw))
                payload = cell_payload(raw, task, info, cell_settings[cell])
                cellio.write(root, cell, payload, prov,
                             attachments={SAMPLES: samples_bytes(raw.get("samples", {}))})
                claims.release(cell)
                written.append(cell)
                progress.step(cell, elapsed)  # logs the line
            del lm, pruned
            gc.collect()
        del model, rankings
        gc.collect()
    if left:
        out(f"{len(left)} cell(s) left to other runners that hold their claims "
            f"(e.g. {left[0].id}); rerun when they finish to check")
    return written


def _hflm(model, tokenizer, settings: Settings, max_length: int):
    return hflm.build(model, tokenizer, batch_size=settings.batch_size, max_length=max_length,
                      max_batch_size=settings.max_batch_size)  # each task sets its own batch size
