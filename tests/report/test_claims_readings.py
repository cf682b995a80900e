"""Verdicts that mean what they say: absence claims judged by equivalence (and reported as
underpowered when the data cannot tell), "consistently degrades" with its dose-response,
robustness choices counted once, failures split by kind, and operators as one registry."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from repro.config.claims import Claim, Quantity, claims_file, load_claims
from repro.core.errors import ReproError
from repro.report.claims import evaluate, rows, verdict_of
from repro.report.claims.digest import combine
from repro.report.claims.operators import REGISTRY, operator
from repro.report.claims.operators.base import HOLDS, Operator, Outcome, register
from repro.report.claims.operators.numeric import rounding_excess
from repro.report.queries import current
from repro.results.schema import load_dir

pytestmark = pytest.mark.light

DATA = Path(__file__).resolve().parents[2] / "data"
BY_ID = {c.id: c for c in load_claims()}


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return current(load_dir(DATA))


@pytest.fixture(scope="module")
def table(df):
    return {r["id"]: r for r in rows(evaluate(df))}


def _set(df, model, task, level, factor=None, value=None, stderr=None):
    """A copy of df with one score (every metric of the task at that level) changed."""
    out = df.copy()
    at = (out.model == model) & (out.task == task) & (out.level == level) & (out.source == "paper")
    if factor is not None:
        out.loc[at, "value"] *= factor
    if value is not None:
        out.loc[at, "value"] = value
    if stderr is not None:
        out.loc[(out.model == model) & (out.task == task) & (out.source == "paper"), "stderr"] = stderr
    return out


def test_stable_is_equivalence_not_a_failure_to_reject(df, table):
    # 3B MUSR is below its baseline at 5 of 6 levels, none significantly: once "holds", now
    # underpowered, with the change the data could detect (~6.7 points at 80% power)
    r = table["robust-musr-3b"]
    assert r["paper_verdict"] == "not contradicted"
    assert "detectable change 6.9 points" in r["paper_how"]
    assert "detectable change 6.2 points" in table["robust-tqa-mc1-3b"]["paper_how"]
    claim = BY_ID["robust-musr-3b"]
    # premise broken one way: flat and precise data show it within the margin
    flat = df.copy()
    musr = (flat.model == "llama-3.2-3b") & (flat.task == "leaderboard_musr") & (flat.source == "paper")
    base = flat.loc[musr & (flat.level == 0), "value"].iloc[0]
    flat.loc[musr, "value"] = base
    flat.loc[musr, "stderr"] = 0.001
    assert verdict_of(flat, claim)[0] == "holds"
    # the other way: a level 30% down, significantly, contradicts it
    assert verdict_of(_set(df, "llama-3.2-3b", "leaderboard_musr", 30.0, factor=0.7), claim)[0] == "fails"


def test_a_gain_shown_within_the_margin_holds_and_a_significant_drop_fails(table):
    assert table["robust-ifeval-1b"]["paper_verdict"] == "holds"
    assert table["boolq-1b-stable"]["paper_verdict"] == "holds"  # 3,270 items: precise enough
    assert table["robust-ifeval-1b-instruct"]["paper_verdict"] == "fails"


def test_consistently_degrades_needs_its_dose_response(df, table):
    # 1B MMLU is worst at 10% and at chance at every pruned level: no dose-response
    r = table["fragile-mmlu-1b"]
    assert r["paper_verdict"] == "fails" and "rho = +0.03" in r["paper_how"]
    assert "every level significantly worse" in r["paper_how"]
    assert table["fragile-wikitext-1b"]["paper_verdict"] == "holds"
    # premise restored: MMLU falling with every level (precisely) holds
    claim, out = BY_ID["fragile-mmlu-1b"], df.copy()
    mmlu = (out.model == "llama-3.2-1b") & (out.task == "mmlu") & (out.source == "paper")
    base = out.loc[mmlu & (out.level == 0), "value"].iloc[0]
    out.loc[mmlu & (out.level > 0), "value"] = base * (0.95 - out.loc[mmlu & (out.level > 0), "level"] / 200)
    assert verdict_of(out, claim)[0] == "holds"


def test_gains_every_level_must_be_significant(table):
    r = table["ifeval-gains-every-level"]
    assert r["paper_verdict"] == "fails"
    assert r["paper_how"].count("not significant") == 5
    points = {c["choice"]: c["holds"] for c in r["robustness"]["choices"]}
    assert points["a gain at every level (point estimates, no test)"] is True


def test_each_robustness_choice_is_counted_once_and_another_model_never(table):
    for r in table.values():
        for c in (r["robustness"] or {}).get("choices", []):
            assert "without 0%" not in c["choice"], r["id"]
            assert "another model" not in c["choice"], r["id"]
    context = table["mmlu-tqa-r-3b"]["robustness"]["context"]
    assert [c["choice"].split(" (")[0] for c in context] == ["Llama-3.2-1B", "1B and 3B pooled"]


def test_the_seeds_unchecked_statements_are_checked(table):
    expect = {"knowledge-3b-worse-than-1b": "fails", "lambada-3b-more-extreme": "fails",
              "perplexity-exponential": "holds", "pattern-recognition-proportional": "fails",
              "musr-1b-significant": "fails", "musr-3b-minimal": "not contradicted",
              "degradation-3b-beyond-10": "holds", "size-inverse": "holds",
              "gsm8k-most-fragile": "holds", "boolq-non-monotonic": "fails",
              "boolq-u-curve": "fails", "winogrande-improves": "fails", "tqa-mlp-sensitive": "fails"}
    assert {k: table[k]["paper_verdict"] for k in expect} == expect
    # the Lambada collapse is "more extreme" in 3B at 60% only
    choices = {c["choice"]: c["holds"] for c in table["lambada-3b-more-extreme"]["robustness"]["choices"]}
    assert choices["at 60% only (the figures the sentence quotes)"] is True
    # 3B's BoolQ recovers significantly (a U), 1B's does not
    assert "Llama-3.2-3B 50% from 20%" in table["boolq-u-curve"]["paper_how"]


def test_seed_conflicts_are_flagged(table):
    conflicts = {c.id: c for c in claims_file().conflicts}
    assert {"criterion-name", "truthfulqa-class", "lambada-class"} <= set(conflicts)
    assert "Maximum Absolute Weight" in conflicts["criterion-name"].says[0]
    assert "Peak-to-Peak Magnitude" in conflicts["criterion-name"].says[1]
    # both sides checked where the data can: TruthfulQA rises, so "MLP-sensitive" fails
    assert table["tqa-mlp-sensitive"]["paper_verdict"] == "fails"
    assert table["robust-tqa-mc2-1b"]["paper_verdict"] == "holds"


def test_the_efficiency_confound_is_on_every_1b_efficiency_claim(table):
    workloads = ("_latency_b1", "_throughput_b8", "prefill_")
    for r in table.values():
        if "llama-3.2-1b" in r["scope"].lower() or "Llama-3.2-1B (base)" in r["scope"]:
            if any(w in r["scope"] for w in workloads):
                assert "oopere/Llama-3.2-1B-I-pruned-40pct" in r["note"], r["id"]
                assert "tokens per call" in r["note"], r["id"]


def test_a_rounding_excess_is_told_from_a_real_miss():
    c = Claim("x", "", "000 x", Quantity(of="value"), stated=47.0, tolerance=0.5)
    assert rounding_excess(c, 46.47) is not None       # 46.47 -> 46.5 -> 47
    assert rounding_excess(c, 46.40) is None           # 46.40 -> 46.4 -> 46: a real miss
    about = dataclasses.replace(c, tolerance=1.0)      # "about": no printed digit to round to
    assert rounding_excess(about, 45.9) is None


def test_a_finding_adds_up_its_claims():
    assert combine(["holds", "holds"]) == "holds"
    assert combine(["holds", "fails"]) == "partly (1 of 2 hold)"
    assert combine(["fails", "not contradicted"]) == "partly (0 of 2 hold)"
    assert combine(["fails", "fails"]) == "fails"
    assert combine(["holds", "not contradicted"]) == "not contradicted"
    assert combine(["not run", "holds"]) == "holds" and combine(["not run"]) == "not run"
    assert combine(["no rule stated", "no rule stated"]) == "no rule stated"


def test_operators_are_one_registry_and_a_new_one_touches_one_place(df):
    used = {c.op for c in load_claims()} | {r.op for c in load_claims() for r in c.readings if r.op}
    assert used <= set(REGISTRY)
    assert all(op.summary for op in REGISTRY.values())
    with pytest.raises(ReproError, match=r"unknown op 'nope'; use one of"):
        operator("nope")

    @register
    class Positive(Operator):  # a new operator: one class, registered
        name = "test_positive"
        summary = "every part above zero"

        def judge(self, claim, comp, tests, spec):
            return Outcome(HOLDS if all(p.value > 0 for p in comp.parts) else "fails")

    try:
        claim = dataclasses.replace(BY_ID["ifeval-1b-30"], op="test_positive", stated=None)
        assert verdict_of(df, claim)[0] == "holds"
        assert verdict_of(_set(df, "llama-3.2-1b", "ifeval", 30.0, factor=0.5), claim)[0] == "fails"
    finally:
        REGISTRY.pop("test_positive")
