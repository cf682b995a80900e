"""lm-eval on one task of an in-memory model, and what a cell keeps of its answer (the grid
stage that calls it: stage.py).

How a task is run (the paper's setting, made explicit):
- lm-eval's Python API (`simple_evaluate`) on the in-memory model, one call per task with that
  task's own few-shot count (a global num_fewshot is ignored or overrides silently otherwise);
- the HFLM built in one place (hflm.py) with the paper's effective settings, each explicit:
  batch size 1, max_length the model's own (models.yaml: the config's max_position_embeddings),
  no BOS, no truncation; fixed seeds (lm-eval's defaults, recorded); a task's own batch size
  where suites.yaml sets one; what "auto" resolved to is recorded per cell (batch.py);
- each dataset loaded once per process (datasets_once.py), not once per cell; each task's
  requests and every string's tokens built once per model, not once per level (level_free.py);
- no answer cache (lm-eval keys it by request only, not by model: a shared cache would hand one
  configuration another's answers); samples kept as a gzipped JSONL attachment.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gzip
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from repro.config import suites
from repro.core.canonical import sha256_json
from repro.core.errors import ReproError
from repro.evaluate import hflm
from repro.evaluate.datasets_once import datasets_once
from repro.evaluate.level_free import LevelFree
from repro.evaluate.plan import SEEDS, Settings

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


def samples_attachment(samples: dict[str, list]) -> Callable[[], bytes]:
    """lm-eval's logged samples as gzipped JSONL (one line per document, with its task), mtime 0
    so that identical samples give identical bytes. The JSON is made now, from lm-eval's objects
    while they are this cell's; the returned call compresses it, in the executor's writer thread
    (repro/grid/writer.py), off the critical path. Level 6: MMLU's 110 MB of samples in 2.0 s
    instead of level 9's 4.7 s, 3.195 MB instead of 3.189 (benchmarks/cell_writes.py)."""
    from lm_eval.utils import handle_non_serializable

    lines = []
    for task, rows in sorted(samples.items()):
        for row in rows:
            lines.append(json.dumps({"task": task, **row}, sort_keys=True,
                                    default=handle_non_serializable))
    return functools.partial(gzip.compress, ("\n".join(lines) + "\n").encode(), compresslevel=6,
                             mtime=0)


_ENV_INFO: dict = {}


@contextlib.contextmanager
def env_info_once():
    """lm-eval records the environment on every simple_evaluate call (add_env_info: torch's
    collect_env runs pip, nvidia-smi and more as subprocesses, about 3 s of waiting per cell).
    Nothing in it changes within a process, so it is collected once and copied into each record."""
    import lm_eval.evaluator as evaluator

    from repro.core.provenance import kit_commit

    original, git = evaluator.add_env_info, evaluator.get_git_commit_hash
    evaluator.get_git_commit_hash = kit_commit  # its `git describe` in the cwd prints "fatal: ..."

    def once(storage: dict) -> None:
        if not _ENV_INFO:
            original(_ENV_INFO)
        storage.update(copy.deepcopy(_ENV_INFO))

    evaluator.add_env_info = once
    try:
        yield
    finally:
        evaluator.add_env_info, evaluator.get_git_commit_hash = original, git


def run_task(lm, task: suites.TaskSpec, tm, *, chat: bool, settings: Settings,
             level_free: LevelFree | None = None) -> dict:
    """One cell: `task` on `lm`; `level_free`: the model's requests and tokens built at an
    earlier level, reused (level_free.py; None: everything built afresh)."""
    import lm_eval

    reuse = level_free.active(lm) if level_free is not None else contextlib.nullcontext()
    with env_info_once(), datasets_once(), reuse:
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
               task_config_sha256={t: sha256_json(c, compact=False) for t, c in configs.items()},
               versions=raw.get("versions", {}))
    return _jsonable(rec)


def _hflm(model, tokenizer, settings: Settings, max_length: int):
    """The in-memory model as lm-eval's HFLM (one per pruned model; each task sets its own
    batch size before it runs: batch.BatchSizes)."""
    return hflm.build(model, tokenizer, batch_size=settings.batch_size, max_length=max_length,
                      max_batch_size=settings.max_batch_size)
