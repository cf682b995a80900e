"""Criterion formulas against values computed by hand on a 2x3 layer."""

import pytest
import torch

from repro.core.errors import ReproError
from repro.prune import criteria
from repro.prune.glu import glu_mlps
from repro.testing.toy import toy_model, toy_tokenizer

GATE = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.5, -0.5]])
UP = torch.tensor([[2.0, 0.0, -1.0], [1.0, 1.0, 1.0]])


def test_maw_is_peak_to_peak_of_gate_plus_up():
    # row 0: (3 + |-2|) + (2 + |-1|) = 8 ; row 1: (0.5 + 0.5) + (1 + 1) = 3
    assert criteria.maw(GATE, UP).tolist() == [8.0, 3.0]


def test_vow_is_sum_of_unbiased_variances():
    # row 0: var(1,-2,3) = 57/9, var(2,0,-1) = 21/9 ; row 1: var(.5,.5,-.5) = 1/3, var(1,1,1) = 0
    torch.testing.assert_close(criteria.vow(GATE, UP), torch.tensor([78 / 9, 1 / 3]))


def test_pon_is_product_of_l1_norms():
    # row 0: 6 * 3 ; row 1: 1.5 * 3  (optipfair 0.2.0's product, not 0.2.4's sum)
    assert criteria.pon(GATE, UP).tolist() == [18.0, 4.5]


def test_ppm_is_an_alias_of_maw_and_unknown_names_fail():
    assert criteria.canonical("PPM") == "maw"
    with pytest.raises(ReproError, match="unknown pruning criterion 'magnitude'"):
        criteria.canonical("magnitude")


def test_weight_scores_are_float32_even_for_bf16_weights():
    m = toy_model("llama", dtype=torch.bfloat16)
    s = criteria.weight_scores(glu_mlps(m)[0], "maw")
    assert s.dtype == torch.float32 and s.shape == (96,)
    w = glu_mlps(m)[0]
    expected = criteria.maw(w.gate.weight.float(), w.up.weight.float())
    assert torch.equal(s, expected)


def test_random_scores_are_seeded():
    a, b = criteria.random_scores([5, 7], seed=3), criteria.random_scores([5, 7], seed=3)
    c = criteria.random_scores([5, 7], seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0]) and [len(x) for x in a] == [5, 7]


def _down_inputs(model, input_ids, mask):
    """Capture every layer's down_proj input by hand."""
    seen = []
    hooks = [m.down.register_forward_hook(lambda mod, i, o: seen.append(i[0].detach()))
             for m in glu_mlps(model)]
    with torch.no_grad():
        model(input_ids=input_ids, attention_mask=mask)
    for h in hooks:
        h.remove()
    return seen


def test_activation_norm_is_l2_over_real_tokens_and_ignores_padding():
    model = toy_model("llama")
    tok = toy_tokenizer()
    ids = torch.tensor([tok("Paris is the capital of France.")["input_ids"]])
    mask = torch.ones_like(ids)
    by_hand = [x[0].pow(2).sum(0).sqrt() for x in _down_inputs(model, ids, mask)]
    got = criteria.activation_norms(model, glu_mlps(model), [(ids, mask)])
    for g, h in zip(got, by_hand, strict=True):
        torch.testing.assert_close(g, h, rtol=1e-5, atol=1e-6)
    # the same sentence right-padded to 3 more positions: padding must not count
    pad = torch.full((1, 3), tok.pad_token_id)
    padded = criteria.activation_norms(
        model, glu_mlps(model),
        [(torch.cat([ids, pad], 1), torch.cat([mask, torch.zeros_like(pad)], 1))])
    for g, p in zip(got, padded, strict=True):
        torch.testing.assert_close(g, p, rtol=1e-5, atol=1e-6)


def test_calibration_batches_window_and_mask():
    tok = toy_tokenizer()
    text = "The quick brown fox jumps over the lazy dog. " * 10
    n = len(tok(text, add_special_tokens=False)["input_ids"])
    batches = criteria.calibration_batches(tok, text, seq_len=16, samples=100, batch_size=3)
    assert sum(int(m.sum()) for _, m in batches) == n
    assert all(ids.shape[1] <= 16 for ids, _ in batches)
    with pytest.raises(ReproError, match="no tokens"):
        criteria.calibration_batches(tok, "")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_native_maw_equals_float32_maw_bit_for_bit(dtype):
    w = torch.randn(64, 48, generator=torch.Generator().manual_seed(0)).to(dtype)
    u = torch.randn(64, 48, generator=torch.Generator().manual_seed(1)).to(dtype)
    assert torch.equal(criteria._maw_native(w, u), criteria.maw(w.float(), u.float()))


@pytest.mark.parametrize("consumer", ["activation", "hybrid", "owl"])
def test_calibration_passes_refuse_no_tokens_and_always_remove_their_hooks(consumer):
    from repro.prune import hybrid, owl

    model = toy_model("llama", layers=2)
    run = {"activation": lambda b: criteria.activation_norms(model, glu_mlps(model), b),
           "hybrid": lambda b: hybrid.optipfair_activation_norms(model, glu_mlps(model), b),
           "owl": lambda b: owl.outlier_ratios(model, b, 5.0)}[consumer]

    def hooks() -> int:
        return sum(len(m._forward_hooks) for m in model.modules())

    with pytest.raises(ReproError, match="produced no tokens"):
        run([])
    ids = torch.ones(1, 4, dtype=torch.long)
    with pytest.raises(ReproError, match="produced no tokens"):  # only padding: no real token
        run([(ids, torch.zeros_like(ids))])
    assert hooks() == 0
    assert len(run([(ids, torch.ones_like(ids))])) == 2 and hooks() == 0  # one value per layer
