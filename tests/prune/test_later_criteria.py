"""l2 and hybrid (criteria optipfair added after the paper) against values computed by hand."""

import math

import pytest
import torch

from repro.core.errors import ReproError
from repro.prune import criteria, hybrid
from repro.prune.glu import glu_mlps
from repro.prune.ranking import rank
from repro.testing.toy import TOY_TEXT, toy_model, toy_tokenizer

GATE = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.5, -0.5]])
UP = torch.tensor([[2.0, 0.0, -1.0], [1.0, 1.0, 1.0]])


def test_l2_is_sum_of_row_l2_norms_of_gate_and_up():
    # row 0: sqrt(1+4+9) + sqrt(4+0+1) ; row 1: sqrt(0.75) + sqrt(3)
    expected = [math.sqrt(14) + math.sqrt(5), math.sqrt(0.75) + math.sqrt(3)]
    torch.testing.assert_close(criteria.l2(GATE, UP), torch.tensor(expected))
    assert criteria.canonical("L2") == "l2" and "l2" in criteria.WEIGHT_CRITERIA


def test_hybrid_score_is_normalised_down_times_activation_plus_two():
    # Wd [H=2, I=2] = [[1, 3], [2, 2]] -> A = |Wd^T| = [[1, 2], [3, 2]]; x = [1, 3]
    # column sums of A over i: [4, 4]; sum x = 4
    # down[0] = (1*1 + 2*1) / 16 = 3/16 ; down[1] = (3*3 + 2*3) / 16 = 15/16
    # up and gate rows are L1-normalised, then summed: 1 each (up to float32 rounding)
    down = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
    gate = torch.tensor([[1.0, -1.0], [0.25, 4.0]])
    up = torch.tensor([[-2.0, 2.0], [3.0, 0.5]])
    s = hybrid.hybrid_scores(gate, up, down, torch.tensor([1.0, 3.0]))
    assert s.dtype == torch.float32
    torch.testing.assert_close(s, torch.tensor([2 + 3 / 16, 2 + 15 / 16]), rtol=0, atol=4e-7)
    # a neuron that never fires scores (about) 2, whatever its weights
    zero = hybrid.hybrid_scores(gate, up, down, torch.tensor([0.0, 3.0]))
    torch.testing.assert_close(zero[0], torch.tensor(2.0), rtol=0, atol=4e-7)


def _batches(tok, seq_len=12):
    # 3 batches of 2 windows; the last window is 3 tokens, right-padded to 12
    return criteria.calibration_batches(tok, TOY_TEXT[:100], seq_len=seq_len, samples=8, batch_size=2)


def _down_inputs(model, batch):
    seen = []
    hooks = [m.down.register_forward_hook(lambda mod, i, o: seen.append(i[0].detach()))
             for m in glu_mlps(model)]
    with torch.no_grad():
        model(input_ids=batch[0], attention_mask=batch[1])
    for h in hooks:
        h.remove()
    return seen


def test_hybrid_norms_sum_per_batch_norms_padding_included_as_optipfair():
    model, tok = toy_model("llama"), toy_tokenizer()
    batches = _batches(tok)
    assert int(batches[-1][1].sum()) < batches[-1][1].numel()  # the last window is padded
    got = hybrid.optipfair_activation_norms(model, glu_mlps(model), batches)
    by_hand = [sum(_down_inputs(model, b)[layer].float().norm(p=2, dim=(0, 1)) for b in batches)
               for layer in range(2)]
    for g, h in zip(got, by_hand, strict=True):
        torch.testing.assert_close(g, h, rtol=1e-6, atol=1e-6)
    # the corrected criterion (exact norm over real tokens) is another quantity
    exact = criteria.activation_norms(model, glu_mlps(model), batches)
    assert all((g - e).abs().max() > 1e-3 for g, e in zip(got, exact, strict=True))


def test_hybrid_ranking_needs_calibration_and_differs_from_maw():
    model = toy_model("llama")
    with pytest.raises(ReproError, match="criterion 'hybrid' needs calibration text"):
        rank(model, "hybrid")
    r = rank(model, "hybrid", calibration=_batches(toy_tokenizer()))
    assert r.criterion == "hybrid" and r.widths == [96, 96]
    assert not torch.equal(r.orders[0], rank(model, "maw").orders[0])
