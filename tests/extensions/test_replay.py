"""Replaying unpruned layers gives exactly what running them gives, and the scan's perplexity
is the textbook one."""

import math

import pytest
import torch

from repro.extensions import scan
from repro.extensions.replay import Replay
from repro.prune import criteria
from repro.prune.ranking import rank
from repro.testing.toy import TOY_TEXT, toy_model, toy_tokenizer


def _batches():
    return criteria.calibration_batches(toy_tokenizer(), TOY_TEXT, seq_len=20, samples=5, batch_size=2)


@pytest.mark.slow
def test_replayed_prefix_gives_the_same_logits_and_perplexity():
    model = toy_model("llama", layers=4)
    ranking = rank(model, "maw")
    batches = _batches()
    replay = Replay(budget_bytes=1 << 30)
    base = scan.unpruned_copy(model, ranking)
    with replay.installed(base, dense_below=4):  # the unpruned run remembers every layer
        scan.perplexity(base, batches)
    assert len(replay.store) == 4 * len(batches)
    for layer in range(4):
        pruned, info = scan.layer_cut(model, ranking, layer, 40.0, "stable")
        plain = scan.perplexity(pruned, batches)
        ids, mask = batches[0]
        with torch.no_grad():
            expected = pruned(input_ids=ids, attention_mask=mask).logits
        hits = replay.hits
        with replay.installed(pruned, dense_below=layer):
            replayed = scan.perplexity(pruned, batches)
            with torch.no_grad():
                got = pruned(input_ids=ids, attention_mask=mask).logits
        assert replay.hits - hits == 2 * layer * len(batches) - layer * (len(batches) - 1)
        assert replayed == plain and torch.equal(got, expected)
        assert info["kept_width"] == 58 and info["layer"] == layer
        # only that layer was cut, and the base model is untouched
        widths = [m.mlp.gate_proj.out_features for m in pruned.model.layers]
        assert widths == [58 if i == layer else 96 for i in range(4)]
    assert all(m.mlp.gate_proj.out_features == 96 for m in model.model.layers)
    assert all(type(m).__name__ == "LlamaDecoderLayer" for m in base.model.layers)  # restored


def test_a_full_cache_recomputes_instead_of_remembering():
    model = toy_model("llama", layers=3)
    ranking = rank(model, "maw")
    replay = Replay(budget_bytes=0)
    pruned, _ = scan.layer_cut(model, ranking, 2, 40.0, "stable")
    with replay.installed(pruned, dense_below=2):
        a = scan.perplexity(pruned, _batches())
        b = scan.perplexity(pruned, _batches())
    assert replay.store == {} and replay.hits == 0 and a == b


def test_perplexity_is_exp_of_mean_token_nll_over_real_tokens():
    model = toy_model("llama")
    ids = torch.tensor([[5, 9, 14, 3, 0, 0], [7, 7, 2, 8, 11, 4]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    ppl, n = scan.perplexity(model, [(ids, mask)])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.double(), -1)
    nll = [-float(logp[b, t, ids[b, t + 1]]) for b in range(2) for t in range(5) if mask[b, t + 1]]
    assert n == 3 + 5 and math.isclose(ppl, math.exp(sum(nll) / n), rel_tol=1e-5)


@pytest.mark.parametrize("name", ["past_key_values", "cache", "inputs_embeds"])
def test_a_call_with_a_kv_cache_is_never_replayed(name):
    """transformers 4.x passes the KV cache as past_key_values, 5.x as cache: neither replays."""
    from repro.extensions.replay import _key

    ids = torch.tensor([[1, 2, 3]])
    assert _key((ids,), {}) is not None
    assert _key((ids,), {name: object()}) is None
