"""The corrected and the paper's protocols on CPU with the 2-layer toy model: bookkeeping with a
fake clock, energy through a fake NVML, both token counts."""

import dataclasses
import types

import numpy as np
import pytest
import yaml

from repro.config.efficiency import FILE, load_config
from repro.efficiency.bench import Bench
from repro.efficiency.corrected import run_generation_workload
from repro.efficiency.energy import EnergyMeter, open_meter
from repro.efficiency.paper_protocol import run_paper_workload
from repro.efficiency.timing import Timer
from repro.efficiency.workloads import workloads
from repro.testing.toy import toy_model, toy_tokenizer
from tests.efficiency.test_generation import eos_forcing


def small_config(tmp_path, **corrected):
    """The shipped config with toy-sized workloads (the toy model has 256 positions)."""
    raw = yaml.safe_load(FILE.read_text())
    raw["corrected"].update(repetitions={"min": 5, "max": 5}, warmups=1)
    raw["energy"].update(counter_period_s=0.001, min_window_s=0.004)
    raw["corrected"]["prefill"]["prompt_tokens"] = [8, 16]
    raw["corrected"]["decode"].update(prompt_tokens=8, new_tokens=4)
    raw["corrected"]["throughput"].update(prompt_tokens=8, new_tokens=4, batch_sizes=[3])
    raw["corrected"].update(corrected)
    raw["paper"]["seeds"] = [42]
    raw["paper"]["batch_sizes"] = [1, 4]
    for w in raw["paper"]["workloads"].values():
        w.update(num_prompts=6, new_tokens=3, synthetic_prompt_tokens=[4, 12])
    path = tmp_path / "efficiency.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


class TickClock:
    """Every read advances 1 ms: each timed region lasts exactly one tick."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.001
        return self.now

    def sleep(self, s):
        self.now += s


def bench(cfg, model, *, meter=None, clock=None):
    clock = clock or TickClock()
    return Bench(model=model, tokenizer=toy_tokenizer(), device="cpu",
                     timer=Timer(clock=clock, sync=lambda: None),
                     meter=meter or EnergyMeter(reason="device is cpu: GPU energy not measured"),
                     cfg=cfg, clock=clock)


def rows_of(payload):
    return {r["metric"]: r for r in payload["rows"]}


def test_decode_bookkeeping_with_a_fake_clock_on_cpu(tmp_path):
    cfg = load_config(small_config(tmp_path))
    wl = next(w for w in workloads(cfg) if w.kind == "decode")
    out = run_generation_workload(bench(cfg, toy_model()), wl)
    r = rows_of(out)
    assert len(out["samples"]["prefill_s"]) == 5 and len(out["samples"]["warmup_s"]) == 1
    # one tick per region: prefill 1 ms; decode 1 ms over new_tokens - 1 = 3 steps
    assert r["prefill_latency_ms_median"]["value"] == pytest.approx(1.0)
    assert r["decode_latency_ms_per_token_median"]["value"] == pytest.approx(1 / 3)
    assert r["decode_latency_ms_per_token_median"]["unit"] == "ms"
    assert r["decode_latency_ms_per_token_cv"]["value"] == pytest.approx(0, abs=1e-9)
    # CPU: energy not measured -> no energy rows at all, never a zero
    assert not any(m.startswith("energy") for m in r) and out["energy"]["measured"] is False
    assert "idle_power_w" not in r and "peak_memory_gb" not in r


def fake_gpu(clock, model):
    """A fake NVML whose power is 250 W while the model runs and 50 W otherwise."""
    state = {"w": 50.0, "mj": 0.0, "t": clock.now}

    def advance():
        state["mj"] += state["w"] * (clock.now - state["t"]) * 1000
        state["t"] = clock.now

    def set_power(w):
        advance()
        state["w"] = w

    class Err(Exception):
        pass

    nvml = types.SimpleNamespace(
        NVMLError=Err, nvmlInit=lambda: None, nvmlDeviceGetHandleByIndex=lambda i: "h",
        nvmlDeviceGetTotalEnergyConsumption=lambda h: (advance(), state["mj"])[1],
        nvmlDeviceGetPowerUsage=lambda h: state["w"] * 1000,
        nvmlDeviceGetClockInfo=lambda h, k: 1500, nvmlDeviceGetTemperature=lambda h, k: 40)
    model.register_forward_pre_hook(lambda m, a: set_power(250.0))
    sleep = clock.sleep

    def idle_sleep(s):
        set_power(50.0)
        sleep(s)

    return nvml, idle_sleep


def test_throughput_energy_per_real_token_with_fake_nvml(tmp_path):
    cfg = load_config(small_config(tmp_path))
    wl = next(w for w in workloads(cfg) if w.kind == "throughput")
    clock, model = TickClock(), toy_model()
    nvml, sleep = fake_gpu(clock, model)
    meter = open_meter("cuda", nvml=nvml, clock=clock, sleep=sleep)
    b = bench(cfg, model, meter=meter, clock=clock)
    out = run_generation_workload(b, wl)
    r = rows_of(out)
    assert r["idle_power_w"]["value"] == pytest.approx(50.0, rel=1e-6)
    # tokens: batch 3 x 4 new tokens, all real
    assert out["tokens"]["new_tokens_per_rep"] == 12
    n = r["throughput_tokens_per_s_median"]["value"]
    assert n == pytest.approx(12 / 0.002)  # two one-tick regions per request
    # energy blocks: back-to-back calls until the window lasts >= min_window_s (4 ms)
    calls = out["energy"]["calls_per_block"]
    assert len(calls) == 5 and all(c >= 2 for c in calls)
    assert all(x["seconds"] >= 0.004 for x in out["energy"]["readings"])
    net = out["energy"]["net_j_per_block"]
    assert all(j > 0 for j in net)
    per_call = sorted(j / c for j, c in zip(net, calls, strict=True))
    assert r["energy_j_per_token_median"]["value"] == pytest.approx(per_call[2] / 12)
    assert r["energy_j_per_token_median"]["unit"] == "J/token"
    assert r["energy_j_per_request_median"]["value"] == pytest.approx(per_call[2] / 3)
    assert r["sm_clock_mhz_median"]["value"] == 1500


def test_paper_protocol_counts_both_ways(tmp_path):
    cfg = load_config(small_config(tmp_path))
    wl = next(w for w in workloads(cfg, ["paper"]) if w.name == "mmlu_throughput_b4")
    model = toy_model()
    out = run_paper_workload(bench(cfg, model), wl)
    (run,) = out["runs"]
    # 6 prompts in batches of 4 -> 2 calls, 1 warm-up (min(5, max(1, int(2 * 0.2))))
    assert run["warmup_calls"] == 1 and run["measured_calls"] == 1
    assert run["new_tokens_paper_count"] >= run["new_tokens_real"] > 0
    r = rows_of(out)
    assert "batch_time_mean" in r and "throughput_mean" in r and "throughput_real_tokens_mean" in r
    assert out["prompt_source"] == "synthetic"
    assert not any(m.startswith("energy") for m in r)


def test_paper_latency_counts_eos_as_the_paper_does(tmp_path):
    cfg = load_config(small_config(tmp_path))
    wl = next(w for w in workloads(cfg, ["paper"]) if w.name == "hellaswag_latency_b1")
    model = toy_model()
    eos_forcing(model, toy_tokenizer().eos_token_id)
    out = run_paper_workload(bench(cfg, model), wl)
    (run,) = out["runs"]
    assert run["warmup_calls"] == 1 and run["measured_calls"] == 5
    assert run["new_tokens_real"] == run["new_tokens_paper_count"] == 5  # 1 token (EOS) each


def paper_run_on_fake_gpu(cfg, wl, name="toy"):
    clock, model = TickClock(), toy_model()
    nvml, sleep = fake_gpu(clock, model)
    meter = open_meter("cuda", nvml=nvml, clock=clock, sleep=sleep)
    b = bench(cfg, model, meter=meter, clock=clock)
    b.model_name = name
    return run_paper_workload(b, wl), meter


def test_paper_protocol_idle_once_per_session_and_energy_windows_long_enough(tmp_path):
    cfg = load_config(small_config(tmp_path))
    cfg = dataclasses.replace(cfg, paper=dataclasses.replace(cfg.paper, seeds=(42, 123, 456)))
    wl = next(w for w in workloads(cfg, ["paper"]) if w.name == "mmlu_latency_b1")
    out, meter = paper_run_on_fake_gpu(cfg, wl)
    # one 30 s calibration for the three seeds (the paper's calibrate_idle_power, once)
    assert [e["event"] for e in meter.baseline.events] == ["calibration"]
    assert meter.baseline.slept_s == pytest.approx(cfg.idle.settle_seconds + cfg.idle.calibration_seconds,
                                                   abs=0.01)  # ticks of the fake clock
    for run in out["runs"]:
        assert run["idle"]["power_w"] == pytest.approx(50.0, rel=1e-6)
        # each measured call lasts a few ticks, so the calls are repeated whole until the
        # window reaches energy.min_window_s; the paper's figures come from the first pass
        assert run["reading"]["seconds"] >= cfg.energy.min_window_s
        assert run["energy_passes"] >= 1 and run["measured_calls"] == 5
        assert run["net_j"] > 0 and run["j_per_token_paper_count"] > 0


def test_paper_outlier_filter_leaves_runs_above_the_threshold_out_of_the_paper_means(tmp_path):
    from repro.efficiency.paper_protocol import outliers

    runs = [{"j_per_token_paper_count": v} for v in (0.28, 0.34, 0.33)]  # 1B ifeval, published
    assert outliers(runs, 0.30) == [1, 2] and outliers(runs, None) == []
    assert outliers([{"j_per_token_paper_count": None}], 0.30) == []  # not measured: kept

    cfg = load_config(small_config(tmp_path))
    cfg = dataclasses.replace(cfg, paper=dataclasses.replace(cfg.paper, seeds=(42, 123, 456)))
    wl = next(w for w in workloads(cfg, ["paper"]) if w.name == "hellaswag_latency_b1")
    plain, _ = paper_run_on_fake_gpu(cfg, wl)
    jpt = sorted(r["j_per_token_paper_count"] for r in plain["runs"])
    assert jpt[0] < jpt[-1]  # the seeds' prompts differ in length, so their J/token differ
    threshold = (jpt[0] + jpt[-1]) / 2
    cfg = dataclasses.replace(cfg, paper=dataclasses.replace(
        cfg.paper, outlier_j_per_token={"toy": threshold}))
    out, _ = paper_run_on_fake_gpu(cfg, wl)
    excluded = [r for r in out["runs"] if r["j_per_token_paper_count"] > threshold]
    kept = [r for r in out["runs"] if r["j_per_token_paper_count"] <= threshold]
    r = rows_of(out)
    assert r["runs_excluded_as_outliers"]["value"] == len(excluded) >= 1
    assert out["outlier_filter"]["excluded_runs"] == [x["seed"] for x in excluded]
    # the paper's means over the kept runs; the corrected readings over every run
    assert r["ttlt_mean"]["value"] == pytest.approx(np.mean([x["call_ms_mean"] for x in kept]))
    assert r["energy_j_per_token_nvml_paper_count_mean"]["value"] == pytest.approx(
        np.mean([x["j_per_token_paper_count"] for x in out["runs"]]))
    assert r["energy_j_per_token_nvml_paper_count_filtered_mean"]["value"] == pytest.approx(
        np.mean([x["j_per_token_paper_count"] for x in kept]))
    other, _ = paper_run_on_fake_gpu(cfg, wl, name="another-model")  # no threshold: all kept
    assert rows_of(other)["runs_excluded_as_outliers"]["value"] == 0
