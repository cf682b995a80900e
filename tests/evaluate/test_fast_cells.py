"""The fast setting through the real CLI and lm-eval on a tiny model: its cells sit beside the
paper setting's (variant fast), record the batches they ran, agree with batch 1 within float32
rounding on every loglikelihood, and reach the tidy rows under their own variant."""

from __future__ import annotations

import pytest

from repro.cli import main
from repro.config import models
from repro.config.evaluation import evaluation
from repro.config.selftest import Tolerance
from repro.ops import selftest_compare as compare
from repro.results import cells as cellio
from repro.results.schema import read_csv
from tests.offline import offline_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TASKS = ["smoke_ppl", "smoke_mc", "smoke_gen", "smoke_ifeval"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from repro.testing.toy import save_toy

    root = tmp_path_factory.mktemp("fast")
    mp = offline_env(root)
    model = save_toy(root / "toy")
    results = root / "results"
    base = ["evaluate", "--models", str(model), "--suite", "smoke", "--tasks", *TASKS, "--levels",
            "0", "--results", str(results), "--limit", "6", "--bootstrap-iters", "0"]
    assert main(base) == 0
    assert main([*base, "--setting", "fast"]) == 0
    yield models.get(str(model)).name, results, base
    mp.undo()


def test_fast_cells_are_their_own_and_record_their_batches(run):
    name, results, _ = run
    for task in TASKS:
        paper = cellio.read(results, cellio.Cell("evaluate", name, "maw", 0.0, task))
        fast = cellio.read(results, cellio.Cell("evaluate", name, "maw", 0.0, task, "fast"))
        assert paper is not None and fast is not None, task
        assert paper["payload"]["settings"]["batch_size"] == "1" and "fast" not in paper["payload"]["settings"]
        assert fast["payload"]["settings"]["batch_size"] == "fast"
        assert fast["payload"]["settings"]["fast"] == evaluation().fast.record()
        bs = fast["provenance"]["batch_size"]
        assert bs["requested"] == "fast" and fast["provenance"]["hflm"]["batch_size"] == "fast"
        if task == "smoke_mc":  # 6 documents' choices in one batch, not one at a time
            assert bs["used"]["loglikelihood"]["max"] > 1
            assert bs["used"]["loglikelihood"]["requests"] == bs["used"]["loglikelihood"]["max"]
        if task == "smoke_gen":
            assert bs["used"]["generate_until"] == {"batches": 1, "min": 6, "max": 6, "requests": 6}
        if task == "smoke_ppl":
            assert bs["used"]["loglikelihood_rolling"]["batch_size"] == evaluation().fast.rolling_batch_size


def test_fast_loglikelihoods_equal_the_paper_settings_within_float32_rounding(run):
    name, results, _ = run
    tol = Tolerance(atol=1e-3, rtol=1e-5)  # selftest.yaml's float32 tolerance
    for task in ("smoke_mc", "smoke_ppl"):
        got = compare.settings(results, results, name, 0.0, task, tol)
        assert got["requests"] >= 2 and got["outside_tolerance"] == 0, (task, got)
    gen = compare.settings(results, results, name, 0.0, "smoke_gen", tol)
    assert gen["kind"] == "generation" and gen["requests"] == 6  # differences are reported, not judged


def test_a_paper_rerun_leaves_the_fast_cells_alone_and_both_reach_the_tidy_rows(run, monkeypatch, tmp_path):
    from repro.evaluate import runner

    name, results, base = run
    calls = []
    real = runner.run_task
    monkeypatch.setattr(runner, "run_task", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert main(base) == 0 and main([*base, "--setting", "fast"]) == 0
    assert calls == []  # each setting's cells are current; neither evicts the other
    assert main(["aggregate", "--results", str(results), "--out", str(tmp_path), "--run-id", "t"]) == 0
    df = read_csv(tmp_path / "t.csv")
    assert set(df[df.model == name].variant) == {"", "fast"}
    assert set(df[df.variant == "fast"].task) == set(TASKS)
