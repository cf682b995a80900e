"""The one strict loader: every problem is one line naming the file, the key and the fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from repro.config.loader import build, load, require
from repro.core.errors import ReproError

pytestmark = pytest.mark.light


@dataclass(frozen=True)
class Inner:
    size: int
    kind: Literal["a", "b"] = "a"

    def __post_init__(self) -> None:
        require(self.size > 0, "size must be positive")


@dataclass(frozen=True)
class Outer:
    name: str
    ratio: float
    items: tuple[Inner, ...]
    by_name: dict[str, Inner] = field(default_factory=dict)
    stated: float | tuple[float, ...] = 0.0
    note: str | None = None
    on: bool = False


GOOD = {"name": "x", "ratio": 2, "items": [{"size": 1}, {"size": 2, "kind": "b"}],
        "by_name": {"p": {"size": 3}}, "stated": [1, 2.5], "on": True}


def test_builds_typed_frozen_values():
    o = build(Outer, GOOD, "f.yaml")
    assert o.ratio == 2.0 and isinstance(o.ratio, float)   # an int where a float is asked
    assert o.items == (Inner(1), Inner(2, "b")) and isinstance(o.items, tuple)
    assert o.by_name == {"p": Inner(3)} and o.stated == (1.0, 2.5) and o.note is None
    assert build(Outer, {**GOOD, "stated": 3}, "f.yaml").stated == 3.0


@pytest.mark.parametrize("change, message", [
    ({"colour": 1}, "f.yaml: key 'colour': unknown key (known here: name, ratio, items"),
    ({"name": None}, "f.yaml: key 'name': expected a string, got None"),
    ({"ratio": "fast"}, "f.yaml: key 'ratio': expected a number, got 'fast'"),
    ({"ratio": True}, "f.yaml: key 'ratio': expected a number, got True"),
    ({"on": "yes"}, "f.yaml: key 'on': expected true or false, got 'yes'"),
    ({"items": {"size": 1}}, "f.yaml: key 'items': expected a list"),
    ({"items": [{"size": 1}, {"size": "2"}]}, "f.yaml: key 'items[1].size': expected a whole number"),
    ({"items": [{"size": 1, "kind": "c"}]}, "f.yaml: key 'items[0].kind': expected one of 'a', 'b'"),
    ({"items": [{"size": 0}]}, "f.yaml: key 'items[0]': size must be positive"),
    ({"items": [{}]}, "f.yaml: key 'items[0].size': missing (this key is required)"),
    ({"by_name": {"p": {"sise": 3}}}, "f.yaml: key 'by_name.p.sise': unknown key"),
    ({"stated": "many"}, "f.yaml: key 'stated': expected a number or a list"),
])
def test_every_problem_is_one_line_with_file_and_key(change, message):
    with pytest.raises(ReproError) as e:
        build(Outer, {**GOOD, **change}, "f.yaml")
    text = str(e.value)
    assert text.startswith(message) and "\n" not in text, text
    assert text.endswith("fix it (the file's comments say what each key means)")


def test_missing_top_level_key_and_wrong_top_level_type():
    with pytest.raises(ReproError, match="key 'ratio': missing"):
        build(Outer, {"name": "x", "items": []}, "f.yaml")
    with pytest.raises(ReproError, match="f.yaml: top level: expected a mapping"):
        build(Outer, ["not", "a", "mapping"], "f.yaml")


def test_unreadable_files(tmp_path):
    with pytest.raises(ReproError, match="cannot read it .*restore it from git"):
        load(Outer, tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ReproError, match=f"{bad}: cannot read it"):
        load(Outer, bad)
    good = tmp_path / "good.yaml"
    good.write_text("name: x\nratio: 1.5\nitems: []\n")
    assert load(Outer, good) == Outer("x", 1.5, ())


def test_every_shipped_file_loads():
    from repro.config import (
        claims,
        efficiency,
        metrics,
        models,
        neuron_selection,
        pipeline,
        report,
        suites,
    )

    assert len(claims.load_claims()) >= 60
    assert efficiency.load_config().corrected.repetitions.min >= 5
    assert "paper13" in suites.load_suites()
    assert metrics.metrics().columns["ifeval"].metric == "prompt_level_strict_acc"
    assert models.paper_models()
    assert neuron_selection.neuron_selection().levels == (0.0, 10.0)
    assert set(pipeline.pipeline().profiles) >= {"paper", "smoke"}
    assert report.report().figures.fragile[0] == "mmlu"
