"""Each dataset loaded once per process (repro/evaluate/datasets_once.py): the same arguments
give the same object inside the block, and a cell evaluated with reuse is identical, samples
included, to one evaluated with a fresh load."""

from __future__ import annotations

import pytest

from repro.config import suites
from repro.evaluate import runner
from repro.evaluate.datasets_once import datasets_once
from repro.evaluate.plan import Settings
from tests.offline import offline_env

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    from repro.testing.toy import toy_model, toy_tokenizer

    root = tmp_path_factory.mktemp("once")
    mp = offline_env(root)
    settings = Settings(device="cpu", batch_size="1", limit=3, bootstrap_iters=0)
    yield runner._hflm(toy_model("llama"), toy_tokenizer(), settings, 256), settings
    mp.undo()


def test_a_cell_with_reused_datasets_equals_a_fresh_one(lm, monkeypatch):
    import datasets

    from repro.evaluate import datasets_once as module

    monkeypatch.setattr(module, "_LOADED", {})  # nothing from an earlier test of this process
    hflm, settings = lm
    task = suites.load_tasks()["smoke_gen"]  # few-shot: the few-shot split is reused too
    tm = runner.task_manager([task])
    calls = []
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = runner.run_task(hflm, task, tm, chat=False, settings=settings)
    again = runner.run_task(hflm, task, tm, chat=False, settings=settings)
    assert len(calls) == 1  # the second cell reused the first one's dataset
    with monkeypatch.context() as m:  # without reuse: a fresh load, the same answers
        m.setattr(runner, "datasets_once", __import__("contextlib").nullcontext)
        fresh = runner.run_task(hflm, task, tm, chat=False, settings=settings)
    assert len(calls) == 2
    for raw in (again, fresh):
        assert raw["results"] == first["results"]
        assert [s["resps"] for s in raw["samples"]["smoke_gen"]] == \
            [s["resps"] for s in first["samples"]["smoke_gen"]]


def test_arguments_that_are_not_plain_data_are_not_reused():
    from repro.evaluate.datasets_once import _key

    assert _key(("gsm8k",), {"name": "main"}) is not None
    assert _key(("json",), {"features": object()}) is None
    with datasets_once():
        pass  # the patch is removed on the way out
    import datasets
    import lm_eval.api.task  # noqa: F401

    assert datasets.load_dataset.__name__ == "load_dataset"
