"""The orchestrator: the stage graph from pipeline.yaml expanded into commands, in order, once."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from repro.cli import main
from repro.config.pipeline import pipeline
from repro.pipeline import command, plan, selection_models

pytestmark = pytest.mark.light
KIT = Path(__file__).resolve().parents[1]


def _plan(profile="paper", **kw):
    cfg = pipeline()
    kw = {"stages": None, "shard": None, "skip_preflight": False, **kw}
    return plan(cfg, cfg.profiles[profile], **kw)


def test_paper_profile_runs_every_stage_once_in_order():
    order, later = _plan()
    assert order == ["preflight", "neuron-selection", "evaluate", "efficiency", "aggregate", "tables"]
    assert later == [] and "claims" not in order  # tables writes the claims report once


def test_preflight_guards_heavy_stages_only():
    assert _plan(stages=["evaluate"])[0] == ["preflight", "evaluate"]
    assert _plan(stages=["aggregate", "tables"])[0] == ["aggregate", "tables"]  # nothing heavy
    assert _plan(skip_preflight=True)[0][0] == "neuron-selection"
    assert _plan("smoke")[0] == ["prepare", "neuron-selection", "evaluate", "efficiency",
                                 "sensitivity", "extensions", "aggregate", "tables"]
    assert _plan("smollm2")[0] == ["prepare", "neuron-selection", "evaluate", "sensitivity",
                                   "extensions", "aggregate", "tables"]


def test_a_shard_runs_the_grid_and_leaves_the_rest_for_after():
    order, later = _plan(shard="2/4")
    assert order == ["preflight", "neuron-selection", "evaluate", "efficiency"]
    assert later == ["aggregate", "tables"]
    assert _plan(shard="1/1")[1] == []  # one shard is the whole run
    # the extensions' rows read the whole sensitivity scan: they wait for every shard
    assert _plan(stages=["sensitivity", "extensions"], shard="1/2") == (["preflight", "sensitivity"],
                                                                        ["extensions"])


def test_commands_fill_the_templates():
    cfg = pipeline()
    paper = cfg.profiles["paper"]
    values = {"models": ["llama-3.2-1b", "llama-3.2-3b"], "selection_models": ["llama-3.2-1b"],
              "out": ["/o"], "results": ["/o/results"], "data": ["/o/data"],
              "generated": ["/o/generated"], "run_id": ["full"]}
    ev = command(cfg, paper, "evaluate", values, levels=[0, 40.0], shard="2/4")
    assert ev == [sys.executable, "-m", "repro", "evaluate", "--models", "llama-3.2-1b",
                  "llama-3.2-3b", "--results", "/o/results", "--levels", "0", "40", "--shard", "2/4"]
    agg = command(cfg, paper, "aggregate", values, levels=[0], shard="2/4")
    assert agg[3:] == ["aggregate", "--results", "/o/results", "--out", "/o/data/reproduction",
                       "--run-id", "full"]  # not sharded, takes no levels
    ns = command(cfg, cfg.profiles["smollm2"], "neuron-selection", values, levels=None, shard=None)
    assert ns[3:] == ["neuron-selection", "--models", "llama-3.2-1b", "--results", "/o/results",
                      "--calibration-samples", "4"]


def test_the_fast_setting_reaches_the_lm_eval_stages_only():
    cfg, paper = pipeline(), pipeline().profiles["paper"]
    values = {"models": ["llama-3.2-1b"], "selection_models": ["llama-3.2-1b"],
              "efficiency_models": ["llama-3.2-1b"], "out": ["/o"], "results": ["/o/results"],
              "data": ["/o/data"], "generated": ["/o/generated"], "run_id": ["full"]}
    takes = {s for s in cfg.stages
             if "--setting" in command(cfg, paper, s, values, levels=None, shard=None, setting="fast")}
    assert takes == {"neuron-selection", "evaluate", "extensions"}  # sensitivity: one setting
    assert not any("--setting" in command(cfg, paper, s, values, levels=None, shard=None)
                   for s in cfg.stages)  # the paper setting is the stages' own default
    ev = command(cfg, paper, "evaluate", values, levels=None, shard="1/2", setting="fast")
    assert ev[-2:] == ["--setting", "fast"]


def test_efficiency_models_are_the_ones_the_paper_profiled_unless_a_profile_says():
    from repro.config.efficiency import load_config

    cfg, eff = pipeline(), load_config()
    paper = ["llama-3.2-1b", "llama-3.2-3b", "llama-3.2-1b-instruct"]
    assert eff.profiled(paper, cfg.profiles["paper"].efficiency_models) == paper[:2]
    assert eff.profiled(["llama-3.2-1b-instruct"], cfg.profiles["paper"].efficiency_models) == []
    smoke = cfg.profiles["smoke"]
    assert eff.profiled(["smollm2-135m-instruct"], smoke.efficiency_models) == ["smollm2-135m-instruct"]
    values = {"efficiency_models": paper[:2], "results": ["/o/results"]}
    argv = command(cfg, cfg.profiles["paper"], "efficiency", values, levels=None, shard=None)
    assert argv[3:] == ["efficiency", "--models", *paper[:2], "--results", "/o/results"]
    # the smoke profile's own levels, unless --levels is given
    assert smoke.levels == (0.0, 40.0) and cfg.profiles["paper"].levels is None


def test_neuron_selection_models_among_those_selected():
    cfg = pipeline()
    assert selection_models(cfg.profiles["paper"], ["llama-3.2-1b", "llama-3.2-3b"]) == ["llama-3.2-1b"]
    assert selection_models(cfg.profiles["paper"], ["llama-3.2-3b"]) == []
    assert selection_models(cfg.profiles["smoke"], ["smollm2-135m-instruct"]) == ["smollm2-135m-instruct"]


def test_unknown_model_fails_before_any_stage(tmp_path, capsys):
    assert main(["pipeline", "--models", "llama-9b", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: unknown model 'llama-9b'")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_tables_stage_end_to_end(tmp_path, capsys, monkeypatch):
    """The stage runs in its own process on the run's folders and writes the timings."""
    monkeypatch.chdir(KIT)
    out = tmp_path / "run"
    shutil.copytree(KIT / "data" / "published", out / "data" / "published")
    assert main(["pipeline", "--stages", "tables", "--out", str(out)]) == 0
    assert (out / "generated" / "claims.md").is_file()
    assert (out / "generated" / "tables" / "widths.tex").is_file()
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings) == {"tables", "total", "torch_threads", "cpu_s"}
    assert set(timings["cpu_s"]) == {"tables"} and timings["cpu_s"]["tables"] > 0
    assert "== pipeline: tables: repro tables --data" in capsys.readouterr().out


class FakeStages:
    """subprocess.run for the pipeline's stages: records each command; `rc` by stage name."""

    def __init__(self, rc=None, stderr=""):
        self.calls, self.rc, self.stderr = [], rc or {}, stderr

    def __call__(self, argv, **kw):
        import subprocess

        stage = argv[3]
        self.calls.append(argv[3:])
        code = self.rc.get(stage + (" --check" if "--check" in argv else ""), 0)
        return subprocess.CompletedProcess(argv, code, "", self.stderr if code else "")


def test_a_stage_that_leaves_its_grid_incomplete_stops_the_pipeline(tmp_path, monkeypatch, capsys):
    import repro.pipeline

    fake = FakeStages({"evaluate": 3})
    monkeypatch.setattr(repro.pipeline.subprocess, "run", fake)  # the --check calls
    monkeypatch.setattr(repro.pipeline, "run_stage", lambda argv, env: fake(argv).returncode)
    rc = main(["pipeline", "--profile", "smoke", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "stage 'evaluate' left cells of its grid missing" in err and len(err.splitlines()) == 1
    assert [c[0] for c in fake.calls] == ["prepare", "neuron-selection", "evaluate"]  # no aggregate


def test_aggregating_shards_it_did_not_run_says_in_one_line_what_is_missing(tmp_path, monkeypatch, capsys):
    import repro.pipeline

    line = "error: evaluate: 3 cell(s) of shard 1/1 are missing or out of date (e.g. evaluate/x)"
    fake = FakeStages({"evaluate --check": 3}, stderr=f"[repro] something\n{line}\n")
    monkeypatch.setattr(repro.pipeline.subprocess, "run", fake)  # the --check calls
    monkeypatch.setattr(repro.pipeline, "run_stage", lambda argv, env: fake(argv).returncode)
    assert main(["pipeline", "--profile", "smoke", "--stages", "aggregate", "tables",
                 "--out", str(tmp_path)]) == 0
    checked = [c[0] for c in fake.calls if "--check" in c]
    assert checked == ["neuron-selection", "evaluate", "efficiency", "sensitivity"]  # the grid's stages
    ev = next(c for c in fake.calls if c[0] == "evaluate")
    assert ev[ev.index("--levels") + 1:][:2] == ["0", "40"]  # the smoke profile's levels, not the model's
    assert all("--shard" not in c for c in fake.calls)  # the whole grid, not a shard
    out = [x for x in capsys.readouterr().out.splitlines() if "INCOMPLETE" in x]
    assert out == ["== pipeline: aggregating an INCOMPLETE grid: evaluate: 3 cell(s) of shard 1/1 "
                   "are missing or out of date (e.g. evaluate/x)"]
    assert [c[0] for c in fake.calls if "--check" not in c] == ["aggregate", "tables"]


STAGE = """import signal, sys, time, pathlib
out = pathlib.Path(sys.argv[1])
def stop(*_):
    time.sleep(0.5)  # a stage's cleanup: claims released, temporary files removed
    (out / "cleaned").write_text("yes")
    sys.exit(143)
signal.signal(signal.SIGTERM, stop)
(out / "started").write_text("yes")
time.sleep(60)
"""

PIPELINE = """import signal, sys
from repro.core.errors import Terminated
from repro.pipeline import run_stage
def term(*_):
    raise Terminated()
signal.signal(signal.SIGTERM, term)
try:
    run_stage([sys.executable, "-c", sys.argv[1], sys.argv[2]], None)
except Terminated:
    sys.exit(143)
"""


def test_a_stopped_pipeline_lets_its_stage_clean_up(tmp_path):
    """SIGTERM to the pipeline (docker stop, SLURM) reaches the running stage, which releases its
    claims before the pipeline exits; subprocess.run killed it with SIGKILL instead."""
    import subprocess
    import time

    pipe = subprocess.Popen([sys.executable, "-c", PIPELINE, STAGE, str(tmp_path)], cwd=KIT)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline and pipe.poll() is None, "the stage never started"
        time.sleep(0.05)
    pipe.terminate()
    assert pipe.wait(timeout=30) == 143
    assert (tmp_path / "cleaned").read_text() == "yes"


def test_the_grid_check_leaves_out_a_stage_the_run_skips(tmp_path, monkeypatch):
    import repro.pipeline

    fake = FakeStages()
    monkeypatch.setattr(repro.pipeline.subprocess, "run", fake)  # the --check calls
    monkeypatch.setattr(repro.pipeline, "run_stage", lambda argv, env: fake(argv).returncode)
    # 1B-Instruct: neither neuron selection's model nor one the efficiency stage profiles
    assert main(["pipeline", "--profile", "paper", "--models", "llama-3.2-1b-instruct",
                 "--stages", "aggregate", "tables", "--out", str(tmp_path)]) == 0
    assert [c[0] for c in fake.calls if "--check" in c] == ["evaluate"]
