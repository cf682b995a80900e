"""repro/config/efficiency.yaml: the shipped file, its profiles, and refusals in one line."""

import pytest
import yaml

from repro.config.efficiency import FILE, load_config
from repro.core.errors import ReproError
from repro.efficiency.workloads import workloads

pytestmark = pytest.mark.light


def test_shipped_config_is_valid_and_has_the_papers_workloads():
    cfg = load_config()
    p = cfg.paper
    assert p.seeds == (42, 123, 456) and p.batch_sizes == (1, 8) and p.truncation == 512
    assert {k: w.new_tokens for k, w in p.workloads.items()} == {
        "hellaswag": 20, "mmlu": 50, "ifeval": 150}
    assert {k: w.num_prompts for k, w in p.workloads.items()} == {
        "hellaswag": 100, "mmlu": 100, "ifeval": 30}
    assert cfg.corrected.repetitions.min >= 5 and cfg.criteria == ("maw",)
    names = [w.name for w in workloads(cfg)]
    assert names[:3] == ["prefill_p128_b1", "prefill_p512_b1", "prefill_p2048_b1"]
    assert "decode_p128_n128_b1" in names and "throughput_p128_n128_b32" in names
    assert "hellaswag_latency_b1" in names and "ifeval_throughput_b8" in names  # published names
    quick = load_config(profile="quick")
    assert quick.profile == "quick" and quick.corrected.repetitions.min >= 5
    assert quick.paper.workloads["ifeval"].new_tokens == 150  # only what it overrides
    assert quick.paper.workloads["ifeval"].num_prompts == 16 and quick.paper.seeds == (42,)
    rec = quick.record(paper=True)  # what a cell's provenance holds: plain JSON-able data
    assert rec["profile"] == "quick" and rec["corrected"]["warmups"] == 1
    assert rec["paper"]["workloads"]["mmlu"]["dataset"] == "cais/mmlu" and len(rec["sha256"]) == 64
    assert quick.record(paper=False)["paper"] is None


def test_config_errors_are_one_line(tmp_path):
    raw = yaml.safe_load(FILE.read_text())
    raw["corrected"]["repetitions"]["min"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match=">= 5"):
        load_config(bad)
    raw = yaml.safe_load(FILE.read_text())
    raw["corrected"]["repetitons"] = 5
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match="key 'corrected.repetitons': unknown key"):
        load_config(bad)
    with pytest.raises(ReproError, match="unknown --profile"):
        load_config(profile="nope")
    raw = yaml.safe_load(FILE.read_text())
    raw["profiles"]["quick"]["corrected"]["repetitions"] = {"min": 2}  # a profile: the same rules
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match="profile 'quick'.*>= 5"):
        load_config(bad, "quick")
    raw["profiles"]["quick"]["corrected"] = {"repetitionz": 9}
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match="overrides nothing"):
        load_config(bad, "quick")


def test_the_paper_protocol_runs_on_the_paper_widths_and_models_only():
    from repro.config import models

    cfg = load_config()
    # the paper profiled 1B and 3B (its notebooks 03); alignment is a corrected-protocol question
    assert cfg.models == ("llama-3.2-1b", "llama-3.2-3b")
    assert all(models.get(m).paper for m in cfg.models)
    assert cfg.measures("paper", "unaligned") and not cfg.measures("paper", "align64")
    assert all(cfg.measures(k, w) for k in ("prefill", "decode", "throughput")
               for w in ("unaligned", "align64", "align128"))
    assert cfg.alignment == (64, 128)
    assert cfg.profiled(["llama-3.2-1b-instruct", "llama-3.2-3b", "llama-3.2-1b"]) == [
        "llama-3.2-3b", "llama-3.2-1b"]
    # the notebooks' idle calibration and J/token outlier thresholds
    assert cfg.idle.calibration_seconds == 30.0
    assert cfg.paper.outlier_j_per_token == {"llama-3.2-1b": 0.30, "llama-3.2-3b": 1.00}
    assert set(cfg.paper.outlier_j_per_token) <= set(models.paper_models())
    # an energy window never shorter than NVML's counter period
    assert cfg.energy.min_window_s >= 10 * cfg.energy.counter_period_s


def test_widths_and_energy_windows_are_checked(tmp_path):
    raw = yaml.safe_load(FILE.read_text())
    raw["widths"]["paper"] = ["align64"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match="widths.paper must include unaligned"):
        load_config(bad)
    raw = yaml.safe_load(FILE.read_text())
    raw["energy"]["min_window_s"] = 0.05
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match="counter's update period"):
        load_config(bad)
    raw = yaml.safe_load(FILE.read_text())
    raw["widths"]["paper"] = ["unaligned", "align96"]
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match="key 'widths.paper\\[1\\]'"):
        load_config(bad)
