"""The evaluation runner on a tiny random model through the real lm-eval with the local tasks:
cells written with provenance, resume after an interruption, truncated cells rerun, settings
mismatches rerun, shards that add up to the grid, aggregation into the tidy schema."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from repro.cli import main
from repro.config import models
from repro.evaluate import runner
from repro.evaluate.tasks.build import VERSION as TASKS_VERSION
from repro.results import cells as cellio
from tests.offline import offline_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOY = "toy"  # set by the env fixture
TASKS = ["smoke_ppl", "smoke_mc", "smoke_gen", "smoke_ifeval"]
REAL_RUN_TASK = runner.run_task


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A toy model folder and an offline cache; the environment set for the module."""
    from repro.testing.toy import save_toy

    root = tmp_path_factory.mktemp("eval")
    mp = offline_env(root)
    model = save_toy(root / "toy")
    global TOY  # the cells' model name: the folder's name and its content hash
    TOY = models.get(str(model)).name
    yield root, model
    mp.undo()


def args(model, results, *extra, tasks=TASKS, levels=("0", "10"), limit="2"):
    return ["evaluate", "--models", str(model), "--suite", "smoke", "--tasks", *tasks,
            "--levels", *levels, "--results", str(results), "--limit", limit,
            "--bootstrap-iters", "0", *extra]


def grid(model, results, tasks=TASKS, levels=(0.0, 10.0)):
    return {cellio.Cell("evaluate", TOY, "maw", lv, t) for lv in levels for t in tasks}


@pytest.fixture(scope="module")
def full_run(env):
    root, model = env
    results = root / "full"
    assert main(args(model, results)) == 0
    return results


def test_cells_written_with_provenance(env, full_run):
    _, model = env
    for cell in grid(model, full_run):
        rec = cellio.read(full_run, cell)
        assert rec is not None, cell.id
        p, pay = rec["provenance"], rec["payload"]
        for key in ("kit_commit", "packages", "host", "dtype", "max_length", "seeds", "batch_size",
                    "model", "lm_eval", "limit"):
            assert key in p, key
        assert p["lm_eval"]["version"] == "0.4.9.1"
        assert pay["versions"][cell.task] == float(TASKS_VERSION)  # the local tasks' metadata.version
        assert cell.task in p["lm_eval"]["task_config_sha256"]
        assert p["use_cache"] is None and p["max_length"] == 256  # the toy config's own
        assert p["hflm"]["max_length"] == p["hflm"]["model_max_length"] == 256
        assert (p["hflm"]["batch_size"], p["hflm"]["add_bos_token"], p["hflm"]["truncation"]) == ("1", False, False)
        assert (pay["settings"]["add_bos_token"], pay["settings"]["truncation"]) == (False, False)
        assert pay["prune"]["kept_width"] == (96 if cell.level == 0 else 87)
        assert pay["n-shot"][cell.task] == (3 if cell.task == "smoke_gen" else 0)
        samples = gzip.decompress(cell.path(full_run).with_name(
            f"{cell.task}.{runner.SAMPLES}").read_bytes()).decode().splitlines()
        assert len(samples) == 2 and json.loads(samples[0])["task"] == cell.task
    ifeval = cellio.read(full_run, cellio.Cell("evaluate", TOY, "maw", 0.0, "smoke_ifeval"))
    assert "prompt_level_strict_acc,none" in ifeval["payload"]["results"]["smoke_ifeval"]
    assert ifeval["provenance"]["nltk_punkt_tab_stub"] is True


def _count_runs(monkeypatch, fail_after=None):
    calls = []
    real = REAL_RUN_TASK

    def counted(lm, task, *a, **k):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt
        calls.append(task.name)
        return real(lm, task, *a, **k)

    monkeypatch.setattr(runner, "run_task", counted)
    return calls


def test_rerun_computes_nothing(env, full_run, monkeypatch):
    _, model = env
    calls = _count_runs(monkeypatch)
    assert main(args(model, full_run)) == 0
    assert calls == []


def test_resume_after_interrupt(env, monkeypatch):
    root, model = env
    results = root / "resume"
    few = ["smoke_ppl", "smoke_mc"]
    calls = _count_runs(monkeypatch, fail_after=3)
    assert main(args(model, results, tasks=few)) == 130  # interrupted after 3 cells
    done = {c for c in grid(model, results, few) if cellio.read(results, c)}
    assert len(done) == 3 and len(calls) == 3
    before = {c: c.path(results).read_bytes() for c in done}
    calls = _count_runs(monkeypatch)
    assert main(args(model, results, tasks=few)) == 0
    assert len(calls) == 1  # only the missing cell
    assert all(c.path(results).read_bytes() == b for c, b in before.items())


def test_truncated_and_mismatched_cells_rerun(env, full_run, monkeypatch, tmp_path):
    _, model = env
    full_run = shutil.copytree(full_run, tmp_path / "copy")  # the shared run stays as it was
    cell = cellio.Cell("evaluate", TOY, "maw", 10.0, "smoke_mc")
    path = cell.path(full_run)
    path.write_bytes(path.read_bytes()[:100])  # a crash mid-write of an older, non-atomic tool
    calls = _count_runs(monkeypatch)
    assert main(args(model, full_run)) == 0
    assert calls == ["smoke_mc"] and cellio.read(full_run, cell) is not None
    # other settings (here --limit) make every cell stale
    calls = _count_runs(monkeypatch)
    assert main(args(model, full_run, tasks=["smoke_mc"], levels=("0",), limit="3")) == 0
    rec = cellio.read(full_run, cellio.Cell("evaluate", TOY, "maw", 0.0, "smoke_mc"))
    assert rec["payload"]["settings"]["limit"] == 3 and calls == ["smoke_mc"]


def test_tie_break_is_part_of_every_cell(env, full_run, monkeypatch, tmp_path):
    """Cells pruned with the old default (`stable`) are recomputed with the paper's rule; a
    `stable` run writes cells of its own variant and leaves the paper-rule cells alone."""
    _, model = env
    run = shutil.copytree(full_run, tmp_path / "copy")
    cell = cellio.Cell("evaluate", TOY, "maw", 10.0, "smoke_mc")
    rec = cellio.read(run, cell)
    assert rec["payload"]["prune"]["tie_break"] == "topk"
    assert rec["payload"]["settings"]["tie_break"] == "topk"
    old = rec["payload"]  # as written before the paper's rule became the default
    old["prune"]["tie_break"] = "stable"
    del old["settings"]["tie_break"]
    samples = cell.path(run).with_name(f"smoke_mc.{runner.SAMPLES}").read_bytes()
    cellio.write(run, cell, old, rec["provenance"], attachments={runner.SAMPLES: samples})
    calls = _count_runs(monkeypatch)
    assert main(args(model, run, tasks=["smoke_mc"], levels=("10",))) == 0
    assert calls == ["smoke_mc"]
    assert cellio.read(run, cell)["payload"]["prune"]["tie_break"] == "topk"
    before = cell.path(run).read_bytes()
    calls = _count_runs(monkeypatch)
    assert main(args(model, run, "--tie-break", "stable", tasks=["smoke_mc"], levels=("10",))) == 0
    stable = cellio.read(run, cellio.Cell("evaluate", TOY, "maw", 10.0, "smoke_mc", "stable"))
    assert calls == ["smoke_mc"] and stable["payload"]["prune"]["tie_break"] == "stable"
    assert cell.path(run).read_bytes() == before


def test_batch_size_resolved_recorded_and_part_of_the_settings(env, monkeypatch, tmp_path):
    """"auto" is recorded as the sizes lm-eval used; a task's own batch_size (suites.yaml) wins
    over the run's; another batch size reruns exactly the cells it applies to."""
    from dataclasses import replace

    from repro.config import suites

    _, model = env
    results = tmp_path / "bs"
    real = suites.resolve
    monkeypatch.setattr(suites, "resolve", lambda *a, **k: [
        replace(t, batch_size=1) if t.name == "smoke_gen" else t for t in real(*a, **k)])
    few = ["smoke_ppl", "smoke_mc", "smoke_gen"]
    assert main(args(model, results, "--batch-size", "auto", "--max-batch-size", "4",
                     tasks=few, levels=("0",))) == 0
    want = {"smoke_ppl": {"requested": "auto", "resolved": [4], "max_batch_size": 4},
            "smoke_mc": {"requested": "auto", "resolved": [4], "max_batch_size": 4},
            "smoke_gen": {"requested": "1", "resolved": [1]}}  # the task's own size
    for task, bs in want.items():
        rec = cellio.read(results, cellio.Cell("evaluate", TOY, "maw", 0.0, task))
        assert rec["provenance"]["batch_size"] == bs, task
        assert rec["payload"]["settings"]["batch_size"] == bs["requested"]
    calls = _count_runs(monkeypatch)
    assert main(args(model, results, "--batch-size", "2", tasks=few, levels=("0",))) == 0
    assert sorted(calls) == ["smoke_mc", "smoke_ppl"]  # smoke_gen keeps its own size
    rec = cellio.read(results, cellio.Cell("evaluate", TOY, "maw", 0.0, "smoke_mc"))
    assert rec["provenance"]["batch_size"] == {"requested": "2", "resolved": [2]}


def test_shards_add_up_to_the_grid(env, full_run, monkeypatch):
    root, model = env
    results = root / "shards"
    calls = _count_runs(monkeypatch)
    for s in ("1/3", "2/3", "3/3"):
        assert main(args(model, results, "--shard", s, tasks=["smoke_ppl", "smoke_mc"])) == 0
    assert len(calls) == 4 and len(set(calls)) == 2
    written = {c for c in grid(model, results, ["smoke_ppl", "smoke_mc"]) if cellio.read(results, c)}
    assert written == grid(model, results, ["smoke_ppl", "smoke_mc"])
    # same numbers as the unsharded run
    for c in written:
        a = cellio.read(results, c)["payload"]["results"]
        assert a == cellio.read(full_run, c)["payload"]["results"]


def test_aggregate_into_tidy_schema(env, full_run, tmp_path):
    from repro.results.schema import read_csv

    assert main(["aggregate", "--results", str(full_run), "--out", str(tmp_path), "--run-id", "t"]) == 0
    df = read_csv(tmp_path / "t.csv")
    assert set(df.source) == {"reproduction"} and set(df.run_id) == {"t"}
    assert set(df.task) == set(TASKS)
    row = df[(df.task == "smoke_mc") & (df.metric == "acc") & (df.level == 10)].iloc[0]
    assert row["filter"] == "none" and row.kept_width == 87 and row.params > 0
    assert row.expansion_ratio == pytest.approx(87 / 32)
    gen = df[(df.task == "smoke_gen") & (df.unit == "")]
    assert not gen.empty and set(gen["filter"]) == {"strict-match"}
    shots = df[df.metric == "n_shot"].set_index(["task", "level"]).value
    assert shots[("smoke_gen", 10.0)] == 3 and shots[("smoke_mc", 10.0)] == 0  # what lm-eval ran
    prov = json.loads((tmp_path / "t.provenance.json").read_text())
    assert prov["lm_eval"] == ["0.4.9.1"] and "smoke_mc" in prov["task_versions"]
    # per-document scores for the claims report's paired tests; they add up to lm-eval's value
    from repro.results.samples import corpus_value, load_samples

    docs = load_samples(tmp_path)
    acc = docs[(docs.task == "smoke_mc") & (docs.metric == "acc") & (docs.level == 10)]
    assert corpus_value("acc", acc.value, acc.weight) == pytest.approx(row.value)
    assert prov["samples_rows"] == len(docs) > 0


def test_neuron_selection_on_toy(env, capsys, monkeypatch):
    root, model = env
    results = root / "ns"
    ns = ["neuron-selection", "--models", str(model), "--suite", "smoke_neuron_selection",
          "--tasks", "smoke_ppl", "--criteria", "maw", "random", "activation",
          "--results", str(results), "--limit", "1", "--bootstrap-iters", "0", "--dtype", "float32"]
    assert main(ns) == 0
    out = capsys.readouterr().out
    assert "| baseline | 0 |" in out and "| activation | 10 |" in out and "not run" not in out
    rec = cellio.read(results, cellio.Cell("neuron_selection", TOY, "activation", 10.0,
                                           "smoke_ppl", "fp32"))
    assert rec["payload"]["prune"]["calibration"]["source"].startswith("python-stdlib")
    assert (results / "neuron_selection" / TOY / "summary-fp32.md").is_file()
    # other calibration text: only the activation cell is recomputed
    text = root / "calib.txt"
    text.write_text("Some other calibration text. " * 40)
    calls = _count_runs(monkeypatch)
    assert main([*ns, "--calibration", str(text)]) == 0
    assert calls == ["smoke_ppl"]
    rec = cellio.read(results, cellio.Cell("neuron_selection", TOY, "activation", 10.0,
                                           "smoke_ppl", "fp32"))
    assert rec["payload"]["prune"]["calibration"]["source"] == str(text)


def test_resume_after_sigkill(env, monkeypatch):
    """A real kill -9 mid-grid: finished cells survive unchanged and are not recomputed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    root, model = env
    results = root / "killed"
    few = ["smoke_ppl", "smoke_mc"]
    proc = subprocess.Popen([sys.executable, "-m", "repro", "-q", *args(model, results, tasks=few)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    first = grid(model, results, few)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if any(cellio.read(results, c) for c in first):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {c for c in first if cellio.read(results, c)}
    assert done, "no cell finished before the kill"
    before = {c: c.path(results).read_bytes() for c in done}
    calls = _count_runs(monkeypatch)
    assert main(args(model, results, tasks=few)) == 0
    assert len(calls) == len(first) - len(done)
    assert all(c.path(results).read_bytes() == b for c, b in before.items())
    assert all(cellio.read(results, c) for c in first)
