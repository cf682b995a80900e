"""The real CLI (`python -m repro prune`) on saved tiny models: outputs and refusals."""

import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM

from repro.prune.apply import prune
from repro.prune.ranking import rank
from repro.prune.save import SIDECAR
from repro.prune.widths import Target
from repro.testing.toy import save_toy, toy_model

pytestmark = pytest.mark.integration


def cli(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "repro", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return save_toy(tmp_path_factory.mktemp("llama"))


def test_prune_two_levels_writes_reloadable_models_with_sidecars(llama_dir, tmp_path):
    r = cli("prune", "--model", str(llama_dir), "--criterion", "ppm", "--levels", "10", "40",
            "--dtype", "float32", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    base = AutoModelForCausalLM.from_pretrained(llama_dir).eval()
    ranking = rank(base, "maw")
    ids = torch.randint(4, 300, (1, 10), generator=torch.Generator().manual_seed(2))
    for level, k in ((10, 87), (40, 58)):
        out = tmp_path / "out" / f"maw-level{level}"
        side = json.loads((out / SIDECAR).read_text())
        assert side["prune"]["kept_width"] == k and side["prune"]["level"] == level
        assert side["prune"]["tie_break"] == "topk"  # the paper's rule by default
        assert side["dtype"] == "float32" and side["source"]["model"] == str(llama_dir)
        expected, info = prune(base, ranking, Target(level=level))
        assert side["prune"]["kept_indices_sha256"] == info.kept_indices_sha256
        reloaded = AutoModelForCausalLM.from_pretrained(out).eval()
        with torch.no_grad():
            torch.testing.assert_close(reloaded(ids).logits, expected(ids).logits, rtol=0, atol=0)
        assert (out / "tokenizer.json").exists()
    assert "[repro] scoring layer 2/2 (maw)" in r.stderr


def test_expansion_and_align_are_recorded(llama_dir, tmp_path):
    r = cli("prune", "--model", str(llama_dir), "--expansion", "1.5", "--align", "16",
            "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    side = json.loads((tmp_path / "o" / SIDECAR).read_text())["prune"]
    assert (side["kept_width"], side["align"], side["expansion_requested"]) == (48, 16, 1.5)
    assert json.loads((tmp_path / "o" / "config.json").read_text())["intermediate_size"] == 48


def _refused(r, tmp_path, needle):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert lines[-1].startswith("error: ") and needle in lines[-1], r.stderr
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out*"))  # no half-written staging folder either


@pytest.mark.parametrize(("family", "needle"), [
    ("gpt2", "model type 'gpt2' cannot be width-pruned"),
    ("phi3", "fuses gate and up into one `gate_up_proj`"),
])
def test_non_glu_models_fail_with_one_line_and_write_nothing(family, needle, tmp_path):
    d = tmp_path / family
    toy_model(family).save_pretrained(d)
    _refused(cli("prune", "--model", str(d), "--level", "10", "--out", str(tmp_path / "out")),
             tmp_path, needle)


@pytest.mark.parametrize("level", ["100", "-5", "250"])
def test_level_out_of_range_fails_before_loading(llama_dir, tmp_path, level):
    _refused(cli("prune", "--model", str(llama_dir), "--levels", level, "--out", str(tmp_path / "out")),
             tmp_path, "outside [0, 100)")


def test_old_spellings_are_aliases(llama_dir, tmp_path):
    """--method and --level (before the shared vocabulary) still work."""
    r = cli("prune", "--model", str(llama_dir), "--method", "vow", "--level", "40",
            "--dtype", "float32", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    side = json.loads((tmp_path / "o" / SIDECAR).read_text())["prune"]
    assert (side["criterion"], side["level"], side["kept_width"]) == ("vow", 40.0, 58)


@pytest.mark.parametrize(("argv", "needle"), [
    (["--device", "gpu0"], "argument --device: 'gpu0' is not a device"),
    (["--align", "0"], "argument --align: 0 must be at least 1"),
    (["--calibration-samples", "x"], "argument --calibration-samples: 'x' is not a whole number"),
    (["--dtype", "int8"], "argument --dtype: invalid choice"),
])
def test_bad_values_fail_at_parse_time(llama_dir, tmp_path, argv, needle):
    _refused(cli("prune", "--model", str(llama_dir), "--levels", "10", *argv,
                 "--out", str(tmp_path / "out")), tmp_path, needle)


def test_unknown_model_unknown_method_and_existing_output(llama_dir, tmp_path):
    _refused(cli("prune", "--model", "no-such-org/no-such-model", "--level", "10",
                 "--out", str(tmp_path / "out")), tmp_path, "no-such-org/no-such-model")
    _refused(cli("prune", "--model", str(llama_dir), "--method", "magnitude", "--level", "10",
                 "--out", str(tmp_path / "out")), tmp_path, "unknown pruning criterion")
    _refused(cli("prune", "--model", str(llama_dir), "--method", "activation", "--level", "10",
                 "--out", str(tmp_path / "out")), tmp_path, "--calibration")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    r = cli("prune", "--model", str(llama_dir), "--level", "10", "--out", str(tmp_path / "busy"))
    assert r.returncode == 2 and "--overwrite" in r.stderr
    assert (tmp_path / "busy" / "x").read_text() == "x"
