"""The host probe behind `pipeline --dry-run` (repro/ops/cost_probe.py) on this CPU: random
weights of SmolLM2's exact shape, a child process for the stage start and lm-eval's cell work;
its figures survive selftest.json's round trip."""

from __future__ import annotations

import json

import pytest

from repro.ops.cost_probe import clock_for, measure
from repro.ops.cost_rates import Line, Rates
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
