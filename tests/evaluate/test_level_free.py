"""Requests and tokens built once per model (repro/evaluate/level_free.py): a cell computed at a
second level with what the first built equals one computed afresh, samples included, for each
kind of request (rolling, multiple choice, few-shot generation, IFEval generation)."""

from __future__ import annotations

import pytest

from repro.config import suites
from repro.evaluate import runner
from repro.evaluate.level_free import LevelFree
from repro.evaluate.plan import Settings
from tests.offline import offline_env

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """Two models of one tokenizer, as two levels of one model are."""
    from repro.testing.toy import toy_model, toy_tokenizer

    mp = offline_env(tmp_path_factory.mktemp("levelfree"))
    settings = Settings(device="cpu", batch_size="1", limit=3, bootstrap_iters=0)
    tok = toy_tokenizer()
    yield [runner._hflm(toy_model("llama", seed=s), tok, settings, 256) for s in (0, 1)], settings
    mp.undo()


def _same(a: dict, b: dict, task: str) -> None:
    assert a["results"] == b["results"]
    keys = ("doc_id", "arguments", "resps", "filtered_resps", "target")
    assert [{k: s.get(k) for k in keys} for s in a["samples"][task]] == \
        [{k: s.get(k) for k in keys} for s in b["samples"][task]]


@pytest.mark.parametrize("name", ["smoke_ppl", "smoke_mc", "smoke_gen", "smoke_ifeval"])
def test_a_second_level_reusing_the_first_equals_a_fresh_one(lms, name):
    (first, second), settings = lms
    task = suites.load_tasks()[name]
    tm = runner.task_manager([task])
    lf = LevelFree()
    runner.run_task(first, task, tm, chat=False, settings=settings, level_free=lf)
    assert lf.counts["build miss"] == 1 and lf.counts["build hit"] == 0
    misses = lf.counts["encode miss"]
    reused = runner.run_task(second, task, tm, chat=False, settings=settings, level_free=lf)
    assert lf.counts["build hit"] == 1  # the second level's requests were the first's
    assert lf.counts["encode miss"] == misses and lf.counts["encode hit"] > 0  # no string encoded twice
    fresh = runner.run_task(second, task, tm, chat=False, settings=settings)
    _same(reused, fresh, name)
    assert "tok_encode" not in second.__dict__  # the memo is gone once the cell is done


def test_other_few_shot_seeds_or_arguments_are_other_requests(lms):
    (first, _), settings = lms
    task = suites.load_tasks()["smoke_gen"]  # three shots drawn by the sampler's generator
    tm = runner.task_manager([task])
    built = tm.load_task_or_group([task.name])[task.name]
    built.set_fewshot_seed(1234)
    key = LevelFree._request_key(built, {"limit": 3, "rank": 0})
    assert key == LevelFree._request_key(built, {"limit": 3, "rank": 0})
    assert key != LevelFree._request_key(built, {"limit": 4, "rank": 0})
    built.set_fewshot_seed(99)
    assert key != LevelFree._request_key(built, {"limit": 3, "rank": 0})
    assert LevelFree._request_key(built, {"limit": 3, "cache_requests": True}) is None
