"""Efficiency stage: config as data, token counting, fixed-length generation, cells and tidy rows.

Everything runs on CPU with the 2-layer toy model; energy goes through a fake NVML."""

import types

import pandas as pd
import pytest
import torch
import yaml

from repro import efficiency as eff
from repro import workloads as wk
from repro.efficiency_rows import breakdown_rows
from repro.energy import EnergyMeter, open_meter
from repro.errors import ReproError
from repro.timing import Timer
from repro.toy import toy_model, toy_tokenizer


def small_config(tmp_path, **corrected):
    """The shipped config with toy-sized workloads (the toy model has 256 positions)."""
    raw = yaml.safe_load(eff.CONFIG.read_text())
    raw["corrected"].update(repetitions=5, warmups=1, energy_block_seconds=0.004)
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


# ---------------------------------------------------------------- config


def test_shipped_config_is_valid_and_has_the_papers_workloads():
    cfg = eff.load_config()
    p = cfg["paper"]
    assert p["seeds"] == [42, 123, 456] and p["batch_sizes"] == [1, 8] and p["truncation"] == 512
    assert {k: w["new_tokens"] for k, w in p["workloads"].items()} == {
        "hellaswag": 20, "mmlu": 50, "ifeval": 150}
    assert {k: w["num_prompts"] for k, w in p["workloads"].items()} == {
        "hellaswag": 100, "mmlu": 100, "ifeval": 30}
    assert cfg["corrected"]["repetitions"] >= 5
    names = [w.name for w in eff.workloads(cfg)]
    assert names[:3] == ["prefill_p128_b1", "prefill_p512_b1", "prefill_p2048_b1"]
    assert "decode_p128_n128_b1" in names and "throughput_p128_n128_b32" in names
    assert "hellaswag_latency_b1" in names and "ifeval_throughput_b8" in names  # published names
    quick = eff.load_config(profile="quick")
    assert quick["profile"] == "quick" and quick["corrected"]["repetitions"] >= 5
    assert quick["paper"]["workloads"]["ifeval"]["new_tokens"] == 150  # only what it overrides


def test_config_errors_are_one_line(tmp_path):
    raw = yaml.safe_load(eff.CONFIG.read_text())
    raw["corrected"]["repetitions"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match=">= 5"):
        eff.load_config(bad)
    raw = yaml.safe_load(eff.CONFIG.read_text())
    raw["corrected"]["repetitons"] = 5
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match="unknown key"):
        eff.load_config(bad)
    with pytest.raises(ReproError, match="unknown --profile"):
        eff.load_config(profile="nope")


def test_variant_names():
    assert eff.variant_name() == ""
    assert eff.variant_name(align=64, device_type="cpu", profile="quick") == "align64-cpu-quick"
    assert eff.variant_name(random_weights=True, synthetic=True) == "randinit-synthetic"
    assert eff.variant_name(device_type="cpu", dtype_token="float32") == "cpu-float32"


# ---------------------------------------------------------------- token counting


def test_real_tokens_stop_at_first_eos_and_ignore_padding_after_it():
    eos, pad = {2}, 2  # the paper pads with EOS
    new = torch.tensor([[5, 6, 2, pad, pad],     # EOS at step 3: 3 real tokens
                        [5, 6, 7, 8, 9],         # never stopped: 5
                        [2, pad, pad, pad, pad]])  # EOS first: 1
    assert eff.real_new_tokens(new, eos) == [3, 5, 1]
    # the paper's count: (output len - input len) x rows = 5 x 3
    assert eff.paper_new_tokens(output_len=12, input_len=7, rows=3) == 15
    assert eff.real_new_tokens(torch.tensor([[1, 3, 4]]), {2, 3}) == [2]  # several EOS ids


def test_left_pad_truncates_to_first_tokens_then_pads_left():
    ids, mask = eff.left_pad([[1, 2, 3], [4, 5, 6, 7, 8, 9]], pad_id=0, max_length=4)
    assert ids.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert mask.tolist() == [[0, 1, 1, 1], [1, 1, 1, 1]]


def test_synthetic_ids_avoid_special_tokens_and_are_seeded():
    a = eff.synthetic_ids(50, 4, 100, seed=3, exclude={0, 1, 2})
    assert a.shape == (4, 100) and not set(a.flatten().tolist()) & {0, 1, 2}
    assert torch.equal(a, eff.synthetic_ids(50, 4, 100, seed=3, exclude={0, 1, 2}))


def test_paper_selection_and_prompt_format():
    assert wk.select_indices(10, 3, 42) == wk.select_indices(10, 3, 42)
    assert wk.select_indices(10, 3, 42) != wk.select_indices(10, 3, 123)
    text = wk.format_prompt({"ctx": "A man", "endings": ["x", "y"]}, "hellaswag")
    assert text == "A man\n\nWhat happens next?\nA. x\nB. y\n\nAnswer:"


# ---------------------------------------------------------------- generation and workloads


def eos_forcing(model, eos):
    """Make the model emit EOS at every step (a fixed-length decode must not stop)."""
    def hook(module, args, out):
        out = out.clone()
        out[..., eos] += 1e4
        return out
    return model.lm_head.register_forward_hook(hook)


def test_generate_fixed_never_stops_early():
    model, tok = toy_model(), toy_tokenizer()
    eos_forcing(model, tok.eos_token_id)
    ids = eff.synthetic_ids(model.config.vocab_size, 2, 8, 0)
    t_pre, t_dec, toks = eff.generate_fixed(model, ids, 6, Timer("cpu"))
    assert toks.shape == (2, 6) and (toks == tok.eos_token_id).all()
    assert t_pre > 0 and t_dec > 0


def test_generate_fixed_matches_hf_greedy_generate():
    model = toy_model()
    ids = eff.synthetic_ids(model.config.vocab_size, 1, 10, 1)
    _, _, toks = eff.generate_fixed(model, ids, 5, Timer("cpu"))
    ref = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=5,
                         min_new_tokens=5, do_sample=False, pad_token_id=0)
    assert toks.tolist() == ref[:, 10:].tolist()


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
    return eff.Bench(model=model, tokenizer=toy_tokenizer(), device="cpu",
                     timer=Timer(clock=clock, sync=lambda: None),
                     meter=meter or EnergyMeter(reason="device is cpu: GPU energy not measured"),
                     cfg=cfg, clock=clock, sleep=clock.sleep)


def rows_of(payload):
    return {r["metric"]: r for r in payload["rows"]}


def test_decode_bookkeeping_with_a_fake_clock_on_cpu(tmp_path):
    cfg = eff.load_config(small_config(tmp_path))
    wl = next(w for w in eff.workloads(cfg) if w.kind == "decode")
    out = eff.run_generation_workload(bench(cfg, toy_model()), wl)
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
    cfg = eff.load_config(small_config(tmp_path))
    wl = next(w for w in eff.workloads(cfg) if w.kind == "throughput")
    clock, model = TickClock(), toy_model()
    nvml, sleep = fake_gpu(clock, model)
    meter = open_meter("cuda", nvml=nvml, clock=clock, sleep=sleep)
    b = bench(cfg, model, meter=meter, clock=clock)
    b.sleep = sleep
    out = eff.run_generation_workload(b, wl)
    r = rows_of(out)
    assert r["idle_power_w"]["value"] == pytest.approx(50.0, rel=1e-6)
    # tokens: batch 3 x 4 new tokens, all real
    assert out["tokens"]["new_tokens_per_rep"] == 12
    n = r["throughput_tokens_per_s_median"]["value"]
    assert n == pytest.approx(12 / 0.002)  # two one-tick regions per request
    # energy blocks: 4 ms / 2 ms per call = 2 back-to-back calls per reading
    assert out["energy"]["calls_per_block"] == 2
    net = out["energy"]["net_j_per_block"]
    assert len(net) == 5 and all(j > 0 for j in net)
    assert r["energy_j_per_token_median"]["value"] == pytest.approx(sorted(net)[2] / 2 / 12)
    assert r["energy_j_per_token_median"]["unit"] == "J/token"
    assert r["energy_j_per_request_median"]["value"] == pytest.approx(sorted(net)[2] / 2 / 3)
    assert r["sm_clock_mhz_median"]["value"] == 1500


def test_paper_protocol_counts_both_ways(tmp_path):
    cfg = eff.load_config(small_config(tmp_path))
    wl = next(w for w in eff.workloads(cfg, ["paper"]) if w.name == "mmlu_throughput_b4")
    model = toy_model()
    out = eff.run_paper_workload(bench(cfg, model), wl)
    (run,) = out["runs"]
    # 6 prompts in batches of 4 -> 2 calls, 1 warm-up (min(5, max(1, int(2 * 0.2))))
    assert run["warmup_calls"] == 1 and run["measured_calls"] == 1
    assert run["new_tokens_paper_count"] >= run["new_tokens_real"] > 0
    r = rows_of(out)
    assert "batch_time_mean" in r and "throughput_mean" in r and "throughput_real_tokens_mean" in r
    assert out["prompt_source"] == "synthetic"
    assert not any(m.startswith("energy") for m in r)


def test_paper_latency_counts_eos_as_the_paper_does(tmp_path):
    cfg = eff.load_config(small_config(tmp_path))
    wl = next(w for w in eff.workloads(cfg, ["paper"]) if w.name == "hellaswag_latency_b1")
    model = toy_model()
    eos_forcing(model, toy_tokenizer().eos_token_id)
    out = eff.run_paper_workload(bench(cfg, model), wl)
    (run,) = out["runs"]
    assert run["warmup_calls"] == 1 and run["measured_calls"] == 5
    assert run["new_tokens_real"] == run["new_tokens_paper_count"] == 5  # 1 token (EOS) each


# ---------------------------------------------------------------- breakdown


def test_output_length_breakdown():
    base = dict(model="m", criterion="maw", variant="", task="hellaswag_latency_b1", filter="none",
                stderr=None, unit="", kept_width=8, expansion_ratio=1.0, params=1,
                source="reproduction", run_id="r")
    df = pd.DataFrame([
        {**base, "level": 0.0, "metric": "ttlt_mean", "value": 100.0},
        {**base, "level": 0.0, "metric": "new_tokens_per_prompt_real_mean", "value": 5.0},
        {**base, "level": 40.0, "metric": "ttlt_mean", "value": 380.0},
        {**base, "level": 40.0, "metric": "new_tokens_per_prompt_real_mean", "value": 20.0},
    ])
    out = breakdown_rows(df).set_index("metric")["value"]
    # 20 ms/token at level 0, 19 at 40: +280 ms = +300 from length, -20 from per-token speed
    assert out["ttlt_change_vs_level0_ms"] == pytest.approx(280.0)
    assert out["ttlt_change_from_output_length_ms"] == pytest.approx(300.0)
    assert out["ttlt_change_from_per_token_time_ms"] == pytest.approx(-20.0)
    assert out["ttlt_change_share_from_output_length"] == pytest.approx(300 / 280)


def test_prompt_source_falls_back_to_synthetic_offline_and_says_so(monkeypatch):
    cfg = eff.load_config()

    def offline(w, seed):
        raise ConnectionError("Couldn't reach the Hub (offline)")

    monkeypatch.setattr(eff, "dataset_prompts", offline)
    assert eff.resolve_prompt_source("auto", cfg, toy_tokenizer()) == "synthetic"
    assert eff.resolve_prompt_source("synthetic", cfg, toy_tokenizer()) == "synthetic"
    with pytest.raises(ReproError, match="cannot be loaded"):
        eff.resolve_prompt_source("datasets", cfg, toy_tokenizer())
    monkeypatch.setattr(eff, "dataset_prompts", lambda w, seed: ["a prompt"])
    assert eff.resolve_prompt_source("auto", cfg, toy_tokenizer()) == "datasets"
    assert eff.resolve_prompt_source("auto", cfg, None) == "synthetic"  # random weights


def test_plan_skips_aligned_widths_equal_to_unaligned():
    cfg = eff.load_config()
    wls = [w for w in eff.workloads(cfg) if w.name == "prefill_p128_b1"]
    grid = eff.plan("llama-3.2-1b", "maw", [0, 40, 50], ["unaligned", "align64", "align128"], wls,
                    variant_kw={}, prompt_source="synthetic", width=8192)
    got = {(g.cell.level, g.cell.variant) for g in grid}
    # 8192 at 0% and 4096 at 50% are already multiples of 128: no aligned variant
    assert got == {(0.0, ""), (40.0, ""), (40.0, "align64"), (40.0, "align128"), (50.0, "")}
