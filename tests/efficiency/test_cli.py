"""The efficiency command end to end on a saved toy model (CPU): cells, resume, tidy rows."""

import json

import pytest
import torch

from repro.cli import main
from repro.config import models
from repro.results.efficiency_rows import efficiency_rows
from repro.results.schema import read_csv, validate
from repro.testing.toy import save_toy
from tests.efficiency.test_protocols import small_config


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    return save_toy(tmp_path_factory.mktemp("toy") / "toy-llama")


def test_cuda_requested_without_gpu_is_a_one_line_error(capsys, toy_dir):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    rc = main(["efficiency", "--models", str(toy_dir), "--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: --device cuda requested but no CUDA GPU")
    assert len(err.splitlines()) == 1


@pytest.mark.slow
def test_cpu_run_writes_cells_resumes_and_aggregates(tmp_path, toy_dir, capsys):
    cfg = small_config(tmp_path)
    results = tmp_path / "results"
    argv = ["efficiency", "--models", str(toy_dir), "--device", "cpu", "--dtype", "float32",
            "--config", str(cfg), "--results", str(results), "--levels", "0", "40",
            "--widths", "unaligned", "align64", "--prompt-source", "synthetic"]
    assert main(argv) == 0
    files = sorted(results.rglob("*.json"))
    # corrected: 2 prefill + decode + throughput = 4; paper: 3 workloads x 2 batch sizes = 6
    # level 0: unaligned only; level 40 (width 58): unaligned and align64 (64)
    assert len(files) == 10 * 3
    NAME = models.get(str(toy_dir)).name  # the folder's name and content hash
    rec = json.loads((results / f"efficiency/{NAME}/maw-align64-cpu-float32/level-40/prefill_p8_b1.json")
                     .read_text())
    assert rec["payload"]["model_info"]["kept_width"] == 64
    assert rec["payload"]["device"] == "cpu" and rec["payload"]["energy"]["measured"] is False
    assert rec["provenance"]["host"]["device"] == "cpu"
    assert rec["provenance"]["gpu"]["energy_not_measured_reason"].startswith("device is cpu")
    paper = json.loads((results / f"efficiency/{NAME}/maw-cpu-float32-synthetic/level-0/"
                        "mmlu_latency_b1.json").read_text())
    assert paper["provenance"]["prompt_source"] == "synthetic"
    capsys.readouterr()
    assert main(argv) == 0  # resume: nothing pending
    assert "0 to compute" in capsys.readouterr().out

    df = efficiency_rows(results, "test-run")
    validate(df)
    assert set(df["variant"]) == {"cpu-float32", "align64-cpu-float32", "cpu-float32-synthetic",
                                 "align64-cpu-float32-synthetic"}  # the folder's default dtype: bfloat16
    assert not df["metric"].str.startswith("energy").any()  # not measured: absent, not zero
    pre = df[(df.task == "prefill_p16_b1") & (df.metric == "prefill_latency_ms_median")]
    assert len(pre) == 3 and (pre["unit"] == "ms").all() and (pre["value"] > 0).all()
    assert set(df[df.level == 40]["kept_width"]) == {58, 64}
    assert (df.source == "reproduction").all() and (df.run_id == "test-run").all()
    br = df[df.metric == "ttlt_change_from_output_length_ms"]
    assert set(br["task"]) == {"hellaswag_latency_b1", "mmlu_latency_b1", "ifeval_latency_b1"}

    # the aggregate stage picks the efficiency cells up into the run's tidy CSV
    assert main(["aggregate", "--results", str(results), "--out", str(tmp_path / "data"),
                 "--run-id", "test-run"]) == 0
    csv = read_csv(tmp_path / "data" / "test-run.csv")
    assert len(csv) == len(df) and set(csv["unit"]) >= {"ms", "tokens/s", "ratio"}


def test_dry_run_lists_cells_without_loading(tmp_path, toy_dir, capsys):
    cfg = small_config(tmp_path)
    assert main(["efficiency", "--models", str(toy_dir), "--device", "cpu", "--config", str(cfg),
                 "--results", str(tmp_path / "r"), "--levels", "10", "--protocols", "corrected",
                 "--widths", "unaligned", "--dry-run"]) == 0
    out = capsys.readouterr().out
    NAME = models.get(str(toy_dir)).name
    assert "4 to compute" in out and f"efficiency/{NAME}/maw-cpu/level-10/decode_p8_n4_b1" in out
