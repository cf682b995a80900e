"""Significance and robustness numbers against scipy.stats and the research anchors
(/tmp/notes/stats.md: z-tests with Fieller intervals, correlations, leave-one-out)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from repro.config.task_sizes import task_sizes
from repro.report.claims import evaluate, rows
from repro.report.claims.paired import mcnemar
from repro.report.claims.significance import Estimate, compare, fieller, permutation_p
from repro.report.queries import current
from repro.results.schema import load_dir

pytestmark = pytest.mark.light

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def table():
    return {r["id"]: r for r in rows(evaluate(current(load_dir(DATA))))}


def test_task_sizes_are_lm_eval_0491s():
    sizes = task_sizes()
    assert sizes.lm_eval == "0.4.9.1"
    assert {t: s.items for t, s in sizes.tasks.items()} == {
        "wikitext": 62, "lambada_openai": 5153, "mmlu": 14042, "arc_challenge": 1172,
        "hellaswag": 10042, "winogrande": 1267, "piqa": 1838, "boolq": 3270,
        "truthfulqa_mc1": 817, "truthfulqa_mc2": 817, "gsm8k": 1319, "ifeval": 541,
        "leaderboard_musr": 756}
    assert sizes.size("ifeval", "inst_level_strict_acc").items == 834
    assert sizes.size("truthfulqa_mc2", "acc").score == "bounded"
    assert sizes.size("wikitext", "word_perplexity").score == "perplexity"


@pytest.mark.parametrize("claim,p,ci", [
    ("ifeval-1b-30", 0.00024, (29.9, 143.0)),    # published stderr, Fieller interval
    ("ifeval-1b-40", 0.017, (7.0, 105.1)),
    ("ifeval-3b-40", 0.00057, (27.3, 147.2)),
    ("ifeval-3b-10", 0.055, (-0.7, 99.4)),
    ("tqa-mc2-1b-60", 0.00026, (10.3, 38.8)),    # binomial upper bound, n = 817
    ("tqa-mc2-1b-10", 0.29, (-5.5, 20.6)),
    ("tqa-mc2-3b-10", 0.53, (-15.0, 8.7)),
    ("mmlu-3b-10", 1.9e-102, (-24.5, -20.8)),   # binomial, n = 14042
    ("boolq-1b-10", 0.49, (-4.9, 2.4)),
    ("musr-1b-40", 0.00024, (11.4, 43.1)),
])
def test_published_significance_matches_the_anchors(table, claim, p, ci):
    sig = table[claim]["significance"]
    assert sig["p_value"] == pytest.approx(p, rel=0.06)
    assert sig["ci95"][0] == pytest.approx(ci[0], abs=0.06)
    assert sig["ci95"][1] == pytest.approx(ci[1], abs=0.06)
    assert "unpaired" in sig["test"]


def test_two_sample_z_and_fieller_agree_with_scipy():
    from scipy import stats

    base, lev = Estimate(0.1035, 0.0131), Estimate(0.1811, 0.0166)
    t = compare(base, lev, "rel_change", 1.0)
    z = (0.1811 - 0.1035) / math.hypot(0.0131, 0.0166)
    assert t.p == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)
    # Fieller: the ends are the ratios rho with (p1 - rho p0)^2 = z^2 (se1^2 + rho^2 se0^2)
    lo, hi = fieller(lev, base, 1.959963984540054)
    for rho in (lo, hi):
        assert (0.1811 - rho * 0.1035) ** 2 == pytest.approx(
            1.959963984540054 ** 2 * (0.0166 ** 2 + rho ** 2 * 0.0131 ** 2), rel=1e-9)
    assert compare(base, Estimate(0.2, None, why="x"), "rel_change", 1.0).p is None


def test_welch_over_runs():
    from scipy import stats

    base, lev = Estimate(10.0, 1.0 / math.sqrt(3), 2, 3), Estimate(8.0, 0.5 / math.sqrt(3), 2, 3)
    t = compare(base, lev, "rel_change", 1.0)
    ref = stats.ttest_ind_from_stats(8.0, 0.5, 3, 10.0, 1.0, 3, equal_var=False)
    assert t.p == pytest.approx(ref.pvalue, rel=1e-9)


def test_correlation_anchors_and_robustness(table):
    sig = table["mmlu-tqa-r-3b"]["significance"]
    assert sig["p_value"] == pytest.approx(0.0121, abs=5e-5)
    assert sig["ci95"] == pytest.approx([-0.9797, -0.3190], abs=5e-4)
    assert "exact permutation p = 0.0635" in sig["test"]
    rob = {c["choice"]: c for c in table["mmlu-tqa-r-3b"]["robustness"]["choices"]}
    assert rob["Pearson, without the baseline"]["value"].startswith("r = -0.940")
    assert rob["Spearman, all levels"]["value"] == "r = -0.607, p = 0.1482, n = 7"
    assert rob["Spearman, all levels"]["holds"] is False
    # another model is context, never a choice; "without 0%" is "without the baseline": once
    context = {c["choice"]: c for c in table["mmlu-tqa-r-3b"]["robustness"]["context"]}
    assert context["Llama-3.2-1B (another model: context, not a choice)"]["value"] == "r = -0.676, p = 0.0955, n = 7"
    assert context["1B and 3B pooled (context, not a choice)"]["value"] == "r = -0.627, p = 0.0165, n = 14"
    assert "Pearson, without 0%" not in rob and not any("1B" in k for k in rob)
    loo = [float(c["value"].split()[2].rstrip(",")) for k, c in rob.items() if k.startswith("Pearson, without ") and "%" in k]
    assert len(loo) == 6
    assert min(loo) == pytest.approx(-0.922, abs=5e-4) and max(loo) == pytest.approx(-0.856, abs=5e-4)
    assert table["mmlu-tqa-r-3b"]["robustness"]["holds"] == 8
    assert table["mmlu-tqa-r-3b"]["robustness"]["of"] == 11


def test_permutation_p_is_scipys():
    from scipy import stats

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=6), rng.normal(size=6)
    ref = stats.permutation_test((x,), lambda a: stats.pearsonr(a, y).statistic,
                                 permutation_type="pairings", n_resamples=np.inf)
    assert permutation_p(list(x), list(y)) == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize("gained,lost", [(36, 10), (0, 0), (5, 5), (0, 7), (120, 101)])
def test_mcnemar_is_the_exact_binomial_test(gained, lost):
    from scipy import stats

    ref = 1.0 if gained + lost == 0 else stats.binomtest(gained, gained + lost, 0.5).pvalue
    assert mcnemar(gained, lost) == pytest.approx(ref, rel=1e-9)


def test_untestable_and_energy_significance(table):
    assert table["wikitext-1b-60"]["significance"]["test"].startswith("not testable")
    e = table["energy-readme-20"]["significance"]
    assert e["part"] == "Llama-3.2-3B 60%" and "Welch t" in e["test"] and e["n"] == 3
    assert e["p_value"] < 0.05 and e["ci95"][1] < 0
    parts = {p["part"]: p for p in e["parts"]}
    assert parts["Llama-3.2-1B 60%"]["test"] == "not testable: ifeval_latency_b1 at 0%: 1 run"
