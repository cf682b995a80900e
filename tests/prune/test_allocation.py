"""Allocations: the uniform budget shared between layers (spareK, OWL), checked by hand and
against the OWL reference code's own lines."""

import numpy as np
import pytest

from repro.core.errors import ReproError
from repro.prune import allocation

pytestmark = pytest.mark.light


def test_parse_names_and_tags():
    assert allocation.parse("uniform").tag == ""
    assert allocation.parse("owl").tag == "owl"
    a = allocation.parse("spare3")
    assert (a.rule, a.k, a.tag, a.name) == ("spare", 3, "spare3", "spare3")
    for bad in ("spare0", "spare", "OWL", "spare-2"):
        with pytest.raises(ReproError, match="unknown allocation"):
            allocation.parse(bad)


def test_equal_shares_give_exactly_the_uniform_cut():
    # 4 layers of 1536 neurons at 40%: keep 922 each (optipfair's rule), prune 614 x 4
    assert allocation.kept_widths([1536] * 4, 922, [1, 1, 1, 1]) == [922] * 4


def test_largest_remainder_keeps_the_total_and_breaks_ties_by_index():
    # 10 neurons over shares 1:1:1 -> 3.33 each: floors 3, 3, 3 and the extra to layer 0
    assert allocation.apportion([1, 1, 1], 10, [100] * 3) == [4, 3, 3]
    # 2:1 -> 6.67 / 3.33: floors 6, 3, the remainder to the larger fraction (layer 0)
    assert allocation.apportion([2, 1], 10, [100, 100]) == [7, 3]
    # a capped layer gives its excess to the others
    assert allocation.apportion([8, 1, 1], 10, [5, 9, 9]) == [5, 3, 2]
    assert sum(allocation.apportion([0.3, 0.1, 0.6], 1001, [999] * 3)) == 1001


def test_a_budget_no_layer_can_take_is_refused():
    with pytest.raises(ReproError, match="cannot prune 20 neurons"):
        allocation.apportion([0, 1, 1], 20, [9, 9, 9])


def test_spare_keeps_the_most_sensitive_layers_whole_and_spreads_the_budget():
    sens = [50.0, 10.0, 30.0, 10.0, 20.0]  # layers 0 and 2 are the most sensitive
    spared = allocation.spared_layers(sens, 2)
    assert spared == [0, 2]
    shares = [0 if i in spared else 1 for i in range(5)]
    widths = allocation.kept_widths([100] * 5, 60, shares)  # budget 5 x 40 = 200
    # 200 pruned over layers 1, 3, 4: 66.67 each -> 67, 67, 66 (the remainder by lower index)
    assert widths == [100, 33, 100, 33, 34]
    assert sum(100 - w for w in widths) == 200
    assert allocation.spared_layers([1.0, 1.0, 1.0], 1) == [0]  # ties: lower index
    with pytest.raises(ReproError, match="spare5: choose K between 1 and 4"):
        allocation.spared_layers(sens, 5)


def _owl_reference(ratios, sparsity_ratio, lamda):
    """luuyin/OWL lib/prune_all.py lines 962-966 and 1054-1058, as written there."""
    all_layer_ratio = np.array(ratios)
    all_layer_ratio = ((all_layer_ratio - all_layer_ratio.min()) * (1 / (all_layer_ratio.max() - all_layer_ratio.min()) * lamda * 2))
    all_layer_ratio = all_layer_ratio - np.mean(all_layer_ratio) + (1 - sparsity_ratio)
    out = []
    for i in range(len(ratios)):
        layer_sparsity_ratio = 1 - all_layer_ratio[i]
        if layer_sparsity_ratio <= 0:
            layer_sparsity_ratio = 0.01
        out.append(layer_sparsity_ratio)
    return out


def test_owl_sparsity_by_hand_and_as_the_reference_code():
    # D = 1, 2, 3; S = 0.5; lambda = 0.08: r = 0, .08, .16 (mean .08) -> sparsity .58, .5, .42
    np.testing.assert_allclose(allocation.owl_sparsity([1, 2, 3], 0.5, 0.08), [0.58, 0.5, 0.42])
    ratios = [3.1, 0.7, 1.9, 1.2, 5.5, 0.9]
    for s in (0.1, 0.4, 0.6):
        assert allocation.owl_sparsity(ratios, s, 0.08) == _owl_reference(ratios, s, 0.08)
    # low target: the reference clips layer sparsities <= 0 to 0.01
    assert 0.01 in allocation.owl_sparsity(ratios, 0.05, 0.08)
    # layers with more outliers are pruned less
    w = allocation.kept_widths([1536] * 6, 922, allocation.owl_sparsity(ratios, 0.4, 0.08))
    assert sorted(range(6), key=lambda i: w[i]) == sorted(range(6), key=lambda i: ratios[i])
    assert sum(w) == 922 * 6
    assert allocation.owl_sparsity([2.0, 2.0], 0.4, 0.08) == [0.4, 0.4]  # no spread: uniform
