"""Differential test against optipfair 0.2.0, the library the paper pruned with.

A random model with Llama-3.2-1B's MLP shape (hidden 2048, intermediate 8192; two layers to
stay fast): for maw, vow and pon at every paper level, optipfair's pruned weights must equal
ours exactly, which means the same kept indices in the same order.
"""

import copy

import pytest
import torch

from repro.glu import glu_mlps
from repro.prune import Target, prune, rank
from repro.toy import toy_model

optipfair = pytest.importorskip("optipfair")

LEVELS = [10, 20, 30, 40, 50, 60]


@pytest.fixture(scope="module")
def llama_shaped():
    return toy_model("llama", hidden=2048, intermediate=8192, layers=2, seed=7)


@pytest.mark.slow
@pytest.mark.parametrize("criterion", ["maw", "vow", "pon"])
def test_same_kept_neurons_as_optipfair(llama_shaped, criterion):
    ranking = rank(llama_shaped, criterion)
    for level in LEVELS:
        ours, info = prune(llama_shaped, ranking, Target(level=level))
        theirs = optipfair.prune_model(
            copy.deepcopy(llama_shaped), pruning_type="MLP_GLU",
            neuron_selection_method=criterion.upper(), pruning_percentage=level, show_progress=False)
        assert theirs.config.intermediate_size == info.kept_width
        for a, b in zip(glu_mlps(ours), glu_mlps(theirs), strict=True):
            assert torch.equal(a.gate.weight, b.gate.weight), (criterion, level, a.layer)
            assert torch.equal(a.up.weight, b.up.weight)
            assert torch.equal(a.down.weight, b.down.weight)
