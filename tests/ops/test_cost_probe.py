"""The host probe behind `pipeline --dry-run` (repro/ops/cost_probe.py) on this CPU: random
weights of SmolLM2's exact shape, a child process for the stage start and lm-eval's cell work;
its figures survive selftest.json's round trip."""

from __future__ import annotations

import json

import pytest

from repro.ops.cost_probe import clock_for, measure
from repro.ops.cost_rates import Line, ModelRate, Rates
from repro.ops.cost_work import shape_of

MODEL = "smollm2-135m-instruct"


def test_lines_through_two_points_never_go_negative():
    assert Line.through(16, 0.2, 512, 1.2) == Line(a=pytest.approx(0.2 - 16 / 496), b=pytest.approx(1 / 496))
    assert Line.through(1, 0.5, 8, 0.4) == Line(a=0.5, b=0.0)  # noise: a flat line, not a negative slope
    assert clock_for("cpu", 1) == "cpu" and clock_for("cpu", 2) == "wall"
    assert clock_for("cuda:0", 1) == "wall"


@pytest.mark.slow
def test_probe_measures_this_cpu_and_round_trips_through_json():
    rates = measure([MODEL], device="cpu", threads=1, dtypes={MODEL: "float32"})
    assert rates.device == "cpu" and rates.threads == 1 and not rates.estimate
    assert rates.stage_start_s > 1.0 and rates.cell_s > 0 and rates.contention >= 1.0
    shape = shape_of(MODEL)
    long, short = rates.forward_s(shape, 0, 1, 512), rates.forward_s(shape, 0, 1, 16)
    assert long > short > 0
    assert rates.decode_s(shape, 0, 8) >= rates.decode_s(shape, 0, 1) > 0
    assert rates.forward_s(shape, 60, 1, 512) < long  # a pruned level is cheaper
    back = Rates.from_record(json.loads(json.dumps(rates.record())))
    assert back.forward_s(shape, 40, 8, 100) == pytest.approx(rates.forward_s(shape, 40, 8, 100))
    assert back.contention == rates.contention and back.threads == 1


def _fake_host(threads, clock):
    return {"stage_start_s": 8.0, "cell_s": 0.02, "request_ms": 3.0, "host_factor": 1.0,
            "contention": 1.0}


def test_one_probe_per_shape_1b_instruct_priced_by_1b(monkeypatch):
    pytest.importorskip("torch")
    from repro.ops import cost_probe

    calls = []

    def fake_rate(name, dtype, device, clock="wall", timer=None):
        calls.append(name)
        return ModelRate(Line(0.1, 0.01), Line(0.05, 0.002), shape_of(name, dtype).params())

    monkeypatch.setattr(cost_probe, "model_rate", fake_rate)
    monkeypatch.setattr(cost_probe, "host_figures", _fake_host)
    names = ["llama-3.2-1b", "llama-3.2-3b", "llama-3.2-1b-instruct"]
    rates = measure(names, device="cpu", threads=None, dtypes=dict.fromkeys(names, "bfloat16"))
    assert calls == ["llama-3.2-1b", "llama-3.2-3b"]  # no second probe of 1B's shape
    assert rates.models["llama-3.2-1b-instruct"] is rates.models["llama-3.2-1b"]
    assert rates.models["llama-3.2-3b"].params > rates.models["llama-3.2-1b"].params
    assert "an estimate from a" in rates.source and "2 model shape(s)" in rates.source
    # another dtype is another shape to probe
    calls.clear()
    measure(names[::2], device="cpu", threads=None,
            dtypes={"llama-3.2-1b": "bfloat16", "llama-3.2-1b-instruct": "float32"})
    assert calls == ["llama-3.2-1b", "llama-3.2-1b-instruct"]


def test_selftest_rates_of_1b_price_1b_instruct_without_a_probe(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import argparse

    import torch

    from repro.ops import cost_probe
    from repro.ops.estimate import host_rates

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: its own rates would be read")
    line = {"forward": {"a": 0.1, "b": 0.01}, "decode": {"a": 0.05, "b": 0.002}, "params": 1.2e9}
    rec = {"source": "a test", "device": "cpu", "device_name": "CPU", "stage_start_s": 8.0,
           "cell_s": 0.02, "request_ms": 3.0, "load_s_per_gb": 1.0, "host_factor": 1.0,
           "threads": 1, "contention": 1.0, "estimate": False, "models": {"llama-3.2-1b": line}}
    (tmp_path / "selftest.json").write_text(json.dumps({"rates": rec}))

    def no_probe(*a, **k):
        raise AssertionError("probed a shape selftest.json already has")

    monkeypatch.setattr(cost_probe, "model_rate", no_probe)
    args = argparse.Namespace(gpu=None, selftest=tmp_path / "selftest.json")
    names = ["llama-3.2-1b", "llama-3.2-1b-instruct"]
    rates = host_rates(args, names, dict.fromkeys(names, "bfloat16"), 1)
    assert rates.models["llama-3.2-1b-instruct"] == rates.models["llama-3.2-1b"]


def test_a_large_model_is_one_layer_extrapolated_by_its_layer_count(monkeypatch):
    from repro.ops import cost_probe

    built = []
    monkeypatch.setattr(cost_probe, "_model", lambda name, dtype, device, layers: built.append(layers))
    # per figure: (the one-layer model's call, its layer's share of it)
    fake = {"fwd_16": (1.0, 0.1), "fwd_256": (2.0, 0.5), "dec_1": (0.3, 0.01), "dec_8": (0.4, 0.02)}
    monkeypatch.setattr(cost_probe, "_times", lambda *a: fake)
    r = cost_probe.model_rate("llama-3.2-3b", "bfloat16", "cpu")
    assert built == [1]  # one decoder layer built, not the model's 28
    layers = shape_of("llama-3.2-3b").layers
    assert r.forward == Line.through(16, 1.0 + (layers - 1) * 0.1, 256, 2.0 + (layers - 1) * 0.5)
    assert r.decode == Line.through(1, 0.3 + (layers - 1) * 0.01, 8, 0.4 + (layers - 1) * 0.02)
    built.clear()
    r = cost_probe.model_rate(MODEL, "float32", "cpu")  # small: the whole model, as timed
    assert built == [None] and r.forward == Line.through(16, 1.0, 256, 2.0)


def test_past_the_cap_a_figure_is_one_call():
    from repro.ops.cost_probe import REPS, Timer

    calls = []
    capped = Timer("wall", cap_s=0.0)
    assert capped.best(lambda: calls.append(1) or (0.5,))[1] == 0.5 and len(calls) == 2
    assert capped.capped  # a warm-up and one timed call
    calls.clear()
    free = Timer("wall", cap_s=60.0)
    free.best(lambda: calls.append(1) or ())
    assert len(calls) == 1 + REPS and not free.capped  # a warm-up and REPS quick calls


@pytest.mark.slow
def test_one_layer_extrapolated_agrees_with_the_whole_model(monkeypatch):
    """SmolLM2 (30 layers) timed whole and as one layer times 30: the same rates within 3x (a
    shared machine makes single timings noisy; one layer not multiplied would be ~4x off)."""
    from repro.ops import cost_probe

    shape = shape_of(MODEL)
    whole = cost_probe.model_rate(MODEL, "float32", "cpu", "cpu")
    monkeypatch.setattr(cost_probe, "FULL_MODEL_PARAMS", 0)
    one = cost_probe.model_rate(MODEL, "float32", "cpu", "cpu")
    pairs = [(Rates.forward_s, (shape, 0, 1, 512)), (Rates.forward_s, (shape, 0, 4, 64)),
             (Rates.decode_s, (shape, 0, 1)), (Rates.decode_s, (shape, 0, 8))]
    r_whole, r_one = (Rates("t", "cpu", "CPU", 1, 1, 1, 1, models={MODEL: m}) for m in (whole, one))
    for fn, args in pairs:
        assert 1 / 3 < fn(r_one, *args) / fn(r_whole, *args) < 3.0, fn.__name__
