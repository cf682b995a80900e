"""Each dataset loaded once per process: lm-eval loads a task's dataset every time the task is
built, i.e. in every cell (`simple_evaluate` builds its tasks afresh), and mmlu is 57 datasets.
`datasets.load_dataset` then reads each dataset card and resolves its files again (about a
quarter of a second per mmlu subject on a 2-core machine, offline). The answer for the same
arguments is the same immutable Arrow data, so it is kept for the process and reused
(tests/evaluate/test_datasets_once.py checks that cells computed with and without reuse are
identical)."""

from __future__ import annotations

import contextlib
import json

_LOADED: dict[str, object] = {}


def _key(args: tuple, kwargs: dict) -> str | None:
    try:
        return json.dumps([args, kwargs], sort_keys=True)
    except TypeError:  # arguments that are not plain data (a Features object...): not reused
        return None


@contextlib.contextmanager
def datasets_once():
    """Within this block, lm-eval's dataset loads with equal arguments return the first answer."""
    import lm_eval.api.task as task_module

    datasets = task_module.datasets
    original = datasets.load_dataset

    def once(*args, **kwargs):
        key = _key(args, kwargs)
        if key is None:
            return original(*args, **kwargs)
        if key not in _LOADED:
            _LOADED[key] = original(*args, **kwargs)
        return _LOADED[key]

    datasets.load_dataset = once
    try:
        yield
    finally:
        datasets.load_dataset = original
