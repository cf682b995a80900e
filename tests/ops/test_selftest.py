"""The self-test's verdicts and its failure handling; the whole CPU run is CI's container step
(`nox -s selftest` in the image) and takes minutes, so these tests check each verdict on
hand-written cells and fake steps."""

from __future__ import annotations

import gzip
import json

import pytest

from repro.cli import main
from repro.config.selftest import Tolerance, selftest
from repro.ops import selftest as st
from repro.ops import selftest_compare as compare
from repro.ops import selftest_steps as steps
from repro.results import cells as cellio

MODEL = "smollm2-135m-instruct"


def _write(root, task, resps_by_doc, results=None):
    """A cell as the runner writes it: payload, and lm-eval's samples as a gzipped attachment
    (under root "fast": the fast setting's cell, variant fast)."""
    cell = cellio.Cell("evaluate", MODEL, "maw", 40.0, task, compare.FAST if root.name == "fast" else "")
    rows = [json.dumps({"doc_id": d, "resps": r, "task": task}) for d, r in resps_by_doc.items()]
    payload = {"results": {task: results or {"acc,none": 0.5}}, "metrics_kept": ["acc,none"]}
    cellio.write(root, cell, payload, {"seconds": 2.0},
                 attachments={"samples.jsonl.gz": gzip.compress("\n".join(rows).encode())})


def test_tolerance_is_absolute_plus_relative():
    tol = Tolerance(atol=1e-3, rtol=1e-2)
    assert tol.ok(-100.5, -100.0) and tol.ok(-1.0011, -1.0)
    assert not tol.ok(-102.0, -100.0) and not tol.ok(-1.02, -1.0)
    cfg = selftest()
    assert cfg.scale("cuda:0").dtype == "bfloat16" and cfg.scale("cpu").dtype == "float32"
    assert cfg.tolerance["float32"].atol < cfg.tolerance["bfloat16"].atol


def test_the_settings_comparison_flags_loglikelihoods_outside_tolerance(tmp_path):
    tol = Tolerance(atol=1e-3, rtol=0.0)
    mc = {"0": [[[-7.85, False]], [[-11.75, False]]], "1": [[[-2.0, True]], [[-3.0, False]]]}
    _write(tmp_path / "fast", "smoke_mc", mc)
    _write(tmp_path / "paper", "smoke_mc", mc, results={"acc,none": 0.25})
    got = compare.settings(tmp_path / "fast", tmp_path / "paper", MODEL, 40, "smoke_mc", tol)
    assert got == {"kind": "loglikelihood", "requests": 4, "metric_diff": "acc +0.25",
                   "max_abs_diff": 0.0, "outside_tolerance": 0}
    mc["1"][1] = [[-3.01, False]]  # 0.01 nats apart in the paper setting
    _write(tmp_path / "paper", "smoke_mc", mc)
    got = compare.settings(tmp_path / "fast", tmp_path / "paper", MODEL, 40, "smoke_mc", tol)
    assert got["outside_tolerance"] == 1 and got["max_abs_diff"] == pytest.approx(0.01)


def test_the_settings_comparison_counts_differing_generations_and_kinds(tmp_path):
    _write(tmp_path / "fast", "smoke_gen", {"0": [["5"]], "1": [["7"]], "2": [["9"]]})
    _write(tmp_path / "paper", "smoke_gen", {"0": [["5"]], "1": [["8"]], "2": [["9"]]})
    got = compare.settings(tmp_path / "fast", tmp_path / "paper", MODEL, 40, "smoke_gen",
                              Tolerance(atol=0, rtol=0))
    assert (got["kind"], got["requests"], got["outputs_differing"]) == ("generation", 3, 1)
    _write(tmp_path / "fast", "smoke_ppl", {"0": [[-6685.9]]})
    rec = compare.read_cell(tmp_path / "fast", MODEL, 40, "smoke_ppl", compare.FAST)
    assert compare.kind(tmp_path / "fast", rec) == "rolling"
    _write(tmp_path / "paper", "smoke_ppl", {"1": [[-6685.9]]})  # another document
    with pytest.raises(compare.Failed, match="different documents"):
        compare.settings(tmp_path / "fast", tmp_path / "paper", MODEL, 40, "smoke_ppl",
                            Tolerance(atol=1, rtol=0))


def _fake_steps(monkeypatch, fail_at=None, error=None):
    ran, error = [], error or steps.Failed("the driver is too old")

    def make(name):
        def step(ctx):
            ran.append(name)
            if name == fail_at:
                raise error
            return {}
        return step

    monkeypatch.setattr(steps, "STEPS", [(n, make(n)) for n, _ in steps.STEPS])
    return ran


@pytest.mark.parametrize(("error", "needle"), [
    (steps.Failed("the driver is too old"), "selftest failed at 'evaluate': the driver is too old"),
    (ValueError("boom\nsecond line"), "selftest failed at 'evaluate': ValueError: boom (traceback:"),
])
def test_the_first_failure_stops_the_run_in_one_line(monkeypatch, tmp_path, capsys, error, needle):
    ran = _fake_steps(monkeypatch, fail_at="evaluate", error=error)
    assert main(["selftest", "--device", "cpu", "--out", str(tmp_path / "st")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert ran == ["host", "prune", "evaluate"]  # nothing after the failure
    assert not (tmp_path / "st" / "selftest.json").exists()
    if isinstance(error, ValueError):
        assert "Traceback" in (tmp_path / "st" / "selftest.log").read_text()


def test_out_folder_is_cleared_only_when_it_is_a_selftest_folder(monkeypatch, tmp_path, capsys):
    _fake_steps(monkeypatch, fail_at="host")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("mine")
    assert main(["selftest", "--device", "cpu", "--out", str(busy)]) == 2
    assert "is not a folder selftest wrote" in capsys.readouterr().err
    assert (busy / "thesis.tex").read_text() == "mine"
    old = tmp_path / "old"
    (old / "results").mkdir(parents=True)
    (old / "selftest.log").write_text("an earlier run")
    (old / "results" / "stale.json").write_text("{}")
    assert main(["selftest", "--device", "cpu", "--out", str(old)]) == 2  # fails at host
    assert not (old / "results").exists()  # an earlier run's cells would be skipped, not measured


FIGURES = {
    "host": {"device_name": "NVIDIA H100", "torch": "2.8.0+cu128", "cuda_build": "12.8",
             "driver": "535.183.01", "matmul_size": 4096, "matmul_tflops": 612.3,
             "matmul_rel_error": 3.1e-3},
    "prune": {"model": MODEL, "dtype": "bfloat16", "level": 40.0, "tie_break": "topk",
              "kept_width": 922, "width": 1536, "layers": 30, "same_as_cpu_topk": 27,
              "same_as_stable": 8, "prune_seconds": 0.2},
    "evaluate": {"cells": 8, "largest_batches": {"generate_until": 32, "loglikelihood": 64},
                 "loglikelihood_task": "smoke_mc",
                 "loglikelihood_requests_per_s": 512.4},
    "batch": {"level": 40.0, "dtype": "bfloat16", "atol": 0.05, "rtol": 0.01, "tasks": {
        "smoke_mc": {"kind": "loglikelihood", "requests": 84, "metric_diff": "acc +0",
                     "max_abs_diff": 0.012, "outside_tolerance": 0},
        "smoke_gen": {"kind": "generation", "requests": 14, "metric_diff": "exact_match -0.07143",
                      "outputs_differing": 1}}},
    "paper_tasks": {"model": "llama-3.2-1b", "limit": 5, "dtype": "bfloat16", "tasks": {
        "mmlu": {"kind": "loglikelihood", "requests": 1140, "metric_diff": "acc +0.001754",
                 "max_abs_diff": 0.031, "outside_tolerance": 0},
        "ifeval": {"kind": "generation", "requests": 5, "metric_diff": "prompt_level_strict_acc -0.2",
                   "outputs_differing": 2}}},
    "efficiency": {"model": "llama-3.2-1b", "dtype": "bfloat16", "profile": "selftest",
                   "energy_measured": True, "energy_reason": "", "workloads": [],
                   "levels": {"0": [["prefill 128 tokens", 9.1, "ms"],
                                    ["batch 8 energy", 0.0123, "J/token"]]}},
    "report": {"rows": 300, "cells": 16, "tables": 9, "figures": 4},
    "total_seconds": 171.2, "cuda_tested": True,
}


def test_summary_shows_the_measured_figures():
    text = st.summary(FIGURES)
    assert "CUDA NOT TESTED" not in text and "driver 535.183.01" in text
    assert "612.30 TFLOP/s" in text and "device topk = CPU topk in 27/30 layers" in text
    assert "512.4 requests/s" in text and "1/14 generations differ" in text
    assert "fast setting, largest batches generate_until 32, loglikelihood 64" in text
    assert "fast vs paper (batch 1) at level 40%" in text
    assert "level  0%: prefill 128 tokens 9.1 ms, batch 8 energy 0.0123 J/token" in text
    assert "paper tasks fast vs paper on llama-3.2-1b (bfloat16), first 5 documents" in text
    assert "ifeval             2/5 generations differ; metric d prompt_level_strict_acc -0.2" in text
    cpu = st.summary({**FIGURES, "cuda_tested": False, "paper_tasks": {"skipped": "a GPU measurement"}})
    assert "paper tasks skipped: a GPU measurement" in cpu
    assert "CUDA NOT TESTED" in cpu and "CUDA was NOT tested" in cpu


def test_the_paper_tasks_step_says_why_it_cannot_run(tmp_path, monkeypatch):
    from repro.config import models, suites
    from repro.ops import selftest_paper_tasks as pt

    cfg = selftest()
    cpu = steps.Context(device="cpu", cfg=cfg, scale=cfg.scale("cpu"), out=tmp_path, published=tmp_path)
    assert "GPU measurement" in pt.paper_tasks(cpu)["skipped"]
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty"))  # no prefetch marker
    cuda = steps.Context(device="cuda", cfg=cfg, scale=cfg.scale("cuda"), out=tmp_path, published=tmp_path)
    assert "task data are not cached" in pt.paper_tasks(cuda)["skipped"]
    paper13 = [t.name for t in suites.resolve("paper13")]
    monkeypatch.setattr("repro.ops.prefetch.read_marker", lambda cache=None: {"tasks": paper13})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert "weights are not cached: python -m repro prepare --models llama-3.2-1b" in \
        pt.paper_tasks(cuda)["skipped"]
    assert pt.not_ready(models.get("llama-3.2-1b")) is not None


def test_host_step_on_the_cpu_checks_a_bf16_matmul(tmp_path):
    cfg = selftest()
    ctx = steps.Context(device="cpu", cfg=cfg, scale=cfg.scale("cpu"), out=tmp_path,
                        published=tmp_path)
    got = steps.host(ctx)
    assert got["device"] == "cpu" and got["matmul_size"] == cfg.scale("cpu").matmul_size
    assert 1e-4 < got["matmul_rel_error"] < 2e-2 and got["matmul_tflops"] > 0


def test_the_last_step_measures_the_rates_the_estimate_reads():
    from repro.ops import selftest_rates

    assert steps.STEPS[-1][0] == "rates"
    rates = {"stage_start_s": 9.5, "cell_s": 0.8, "models": {
        MODEL: {"forward": {"a": 0.01, "b": 1e-4}, "decode": {"a": 0.02, "b": 0.005}}}}
    line = selftest_rates.summary_line(rates)
    assert "stage start 9.5 s" in line and f"{MODEL} 25.0 ms/step" in line
    assert "rates       stage start" in st.summary({**FIGURES, "rates": rates})
