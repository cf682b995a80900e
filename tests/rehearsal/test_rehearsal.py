"""The rehearsal through the real CLI on one model and two levels (the whole profile runs in
CI: `python -m repro rehearsal`, .ci/run): the paper's tasks evaluate from the stand-ins and
aggregate under the run id REHEARSAL; a metric key lm-eval does not report fails it, naming
the task and the key; its cells are never taken for a real run's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro.core import rehearsal
from repro.rehearsal import sandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def rehearse(kit: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(kit)
    return subprocess.run([sys.executable, "-m", "repro", "rehearsal", "--models", "llama-3.2-1b",
                           "--levels", "0", "40", "--out", str(out), *extra],
                          env=env, cwd=out.parent, capture_output=True, text=True)


def test_a_broken_metric_key_fails_the_rehearsal_naming_task_and_key(tmp_path):
    """A copy of the kit whose suites.yaml keeps winogrande's acc_norm, which lm-eval 0.4.9.1's
    winogrande does not report (it has acc only)."""
    kit = tmp_path / "kit"
    shutil.copytree(sandbox.KIT / "repro", kit / "repro",
                    ignore=shutil.ignore_patterns("__pycache__"))
    suites = kit / "repro" / "config" / "suites.yaml"
    text = suites.read_text(encoding="utf-8")
    line = '  winogrande:      {shots: 0, metrics: ["acc,none"]}'
    assert line in text
    suites.write_text(text.replace(line, line.replace("acc,none", "acc_norm,none")), encoding="utf-8")
    run = rehearse(kit, tmp_path / "out", "--stages", "evaluate", "aggregate")
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert ("error: rehearsal: task winogrande: suites.yaml keeps the metric key "
            "'acc_norm,none', which lm-eval did not report (acc,none)") in run.stderr


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory):
    out = tmp_path_factory.mktemp("rehearsal") / "out"
    run = rehearse(sandbox.KIT, out)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out, run.stdout


def test_every_stage_runs_and_every_artifact_is_marked(rehearsed):
    import json

    out, stdout = rehearsed
    assert "== rehearsal: passed" in stdout
    report = json.loads((out / "rehearsal.json").read_text())
    assert report["cells"]["evaluate/llama-3.2-1b"] == 26  # 13 tasks at 0% and 40%
    assert report["rows"]["llama-3.2-1b"] > 0
    assert (out / "data" / "reproduction" / "REHEARSAL.csv").is_file()
    claims = (out / "generated" / "claims.md").read_text()
    assert claims.startswith(f"> **{rehearsal.NOTE}**")
    for tex in (out / "generated" / "tables").glob("*.tex"):
        assert "REHEARSAL" in tex.read_text(), tex


def test_a_real_run_never_takes_a_rehearsal_cell_for_done(rehearsed, monkeypatch):
    from repro.evaluate import hflm
    from repro.results import cells as cellio

    out, _ = rehearsed
    cell, rec = next(iter(cellio.scan(out / "results", ["evaluate"])))
    settings = rec["payload"]["settings"]
    monkeypatch.delenv(rehearsal.ENV, raising=False)
    assert hflm.recorded(rec, hflm.BATCHED) == {**settings, "rehearsal": True}  # differs: recomputed
    monkeypatch.setenv(rehearsal.ENV, "1")
    assert hflm.recorded(rec, hflm.BATCHED) == settings


def test_aggregate_refuses_rehearsal_cells_under_a_real_run_id(rehearsed, tmp_path, capsys):
    from repro.cli import main

    out, _ = rehearsed
    assert main(["aggregate", "--results", str(out / "results"), "--out", str(tmp_path),
                 "--run-id", "full"]) == 2
    assert "rehearsal cells aggregate only as --run-id REHEARSAL" in capsys.readouterr().err


def test_the_estimate_prices_what_the_rehearsal_ran(rehearsed):
    """repro/config/rehearsal.yaml, which the estimate prices a rehearsal with, against the
    rehearsal's own cells (documents scored per task) and tiny models (their config.json)."""
    import json

    from repro.config.rehearsal import rehearsal_config
    from repro.results import cells as cellio

    out, _ = rehearsed
    cfg = rehearsal_config()
    seen = {}
    for cell, rec in cellio.scan(out / "results", ["evaluate"]):
        n = rec["payload"]["n-samples"]
        seen[cell.task] = sum(v["effective"] for v in n.values())
        if cfg.tasks[cell.task].subtasks > 1:
            assert len(n) == cfg.tasks[cell.task].subtasks, cell.task
    assert seen == {t: c.items for t, c in cfg.tasks.items()}
    snap = next((out / "sandbox/hf/hub/models--meta-llama--Llama-3.2-1B/snapshots").iterdir())
    config = json.loads((snap / "config.json").read_text())
    want = cfg.hf_shape("llama-3.2-1b")
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "tie_word_embeddings"):
        assert config[key] == want[key], key
    assert config["vocab_size"] <= want["vocab_size"]  # the BPE's target; it may learn fewer


def test_the_dry_run_prices_the_stand_ins_and_builds_nothing(tmp_path):
    import json

    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", rehearsal.ENV)}
    env["PYTHONPATH"] = str(sandbox.KIT)
    run = subprocess.run([sys.executable, "-m", "repro", "rehearsal", "--dry-run", "--models",
                          "llama-3.2-1b", "--levels", "0", "40", "--out", str(out),
                          "--estimate-json", str(tmp_path / "est.json")],
                         env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    est = json.loads((tmp_path / "est.json").read_text())
    assert list(est["stages"])[0] == "sandbox" and est["stages"]["evaluate"]["cells"] == 26
    assert est["stages"]["evaluate"]["requests"] < 5000  # the stand-ins', not millions
    assert est["rates"]["device"] == "cpu" and not out.exists()
