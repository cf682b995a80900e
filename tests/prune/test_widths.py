"""Widths, targets and ranking rules of the prune stage."""

import pytest
import torch

from repro.core.errors import ReproError
from repro.prune.ranking import order_from_scores, rank
from repro.prune.widths import Target, align_width, keep_count, width_for_expansion
from repro.testing.toy import toy_model

# optipfair v0.2.0's k = I - min(int(p / 100 * I), I - 1) for Llama-3.2's I = 8192 (paper-notes)
PAPER_WIDTHS = {0: 8192, 10: 7373, 20: 6554, 30: 5735, 40: 4916, 50: 4096, 60: 3277}


@pytest.mark.parametrize(("level", "k"), PAPER_WIDTHS.items())
def test_keep_count_matches_the_paper(level, k):
    assert keep_count(8192, level) == k


def test_keep_count_float_order_and_floor():
    # int(p / 100 * I): 29 / 100 * 100 = 28.999999999999996 -> 28 pruned, 72 kept
    assert keep_count(100, 29) == 72
    assert keep_count(10, 99.99) == 1  # never below one neuron


@pytest.mark.parametrize("bad", [-1, 100, 150])
def test_levels_outside_0_100_are_refused(bad):
    from repro.core.pruning import level

    with pytest.raises(ReproError, match=r"outside \[0, 100\)"):
        level(bad)  # the one check, where a level enters (the command line, a stage, a Target)
    with pytest.raises(ReproError, match=r"outside \[0, 100\)"):
        Target(level=bad)


def test_expansion_ratio_targets():
    assert width_for_expansion(2048, 8192, 2.4) == 4915  # round(4915.2)
    assert Target(expansion=2.4).width(8192, 2048) == 4915
    with pytest.raises(ReproError, match="outside"):
        width_for_expansion(2048, 8192, 4.5)
    with pytest.raises(ReproError, match="exactly one"):
        Target(level=10, expansion=2.4)
    with pytest.raises(ReproError, match="exactly one"):
        Target()


def test_align_rounds_to_nearest_multiple_within_bounds():
    assert align_width(4916, 8192, 64) == 4928
    assert align_width(4916, 8192, 128) == 4864
    assert align_width(3277, 8192, 128) == 3328
    assert align_width(10, 8192, 64) == 64  # never 0
    assert align_width(95, 96, 64) == 64  # never above the original width
    assert Target(level=40, align=64).width(8192, 2048) == 4928
    for bad in (0, -64):
        with pytest.raises(ReproError, match="positive"):
            align_width(100, 8192, bad)
    with pytest.raises(ReproError, match="exceeds"):
        align_width(10, 96, 128)


def test_ties_go_to_the_lower_index():
    scores = torch.tensor([1.0, 3.0, 3.0, 2.0, 3.0])
    assert order_from_scores(scores).tolist() == [1, 2, 4, 3, 0]


@pytest.mark.parametrize("criterion", ["maw", "vow", "pon", "random"])
def test_stable_rule_keeps_subsets_of_lower_levels(criterion):
    r = rank(toy_model("llama"), criterion, seed=1)
    kept = [r.kept(keep_count(96, p), "stable") for p in range(0, 61, 10)]
    for lower, higher in zip(kept, kept[1:], strict=False):
        for a, b in zip(lower, higher, strict=True):
            assert set(b.tolist()) < set(a.tolist())
            assert b.tolist() == sorted(b.tolist())  # ascending index order


def test_ranking_is_deterministic_and_per_layer():
    m = toy_model("llama")
    a, b = rank(m, "maw"), rank(m, "maw")
    assert all(torch.equal(x, y) for x, y in zip(a.orders, b.orders, strict=True))
    assert not torch.equal(a.orders[0], a.orders[1])
