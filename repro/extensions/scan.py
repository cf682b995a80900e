"""One decoder layer cut at a time, and the kit's own perplexity of a text.

`layer_cut` keeps every layer whole but one, whose MLP keeps keep_count(I, level) neurons as
the criterion ranks them (the same ranking, widths rule and tie-break as every other cut);
the copy shares every other tensor with the base model. `perplexity` is exp(mean negative
log-likelihood) of every next token inside windows of the calibration text (non-padding
tokens only, the first token of a window unscored), computed in float32 logits and a float64
sum.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from repro.prune.apply import apply_kept, indices_sha256, num_parameters
from repro.prune.ranking import Ranking
from repro.prune.widths import keep_count


@torch.no_grad()
def perplexity(model: nn.Module, batches: list[tuple[Tensor, Tensor]]) -> tuple[float, int]:
    """(perplexity, tokens scored) of `batches` (input_ids, attention_mask), right-padded."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for ids, mask in batches:
        ids, mask = ids.to(device), mask.to(device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1].float()
        logp = torch.log_softmax(logits, dim=-1)
        nll = -logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        scored = mask[:, 1:].bool() & mask[:, :-1].bool()
        total += float(nll[scored].double().sum())
        count += int(scored.sum())
    if count == 0:
        raise ValueError("no token to score: windows of one token or an empty text")
    return math.exp(total / count), count


def layer_cut(model: nn.Module, ranking: Ranking, layer: int, level: float,
              tie_break: str) -> tuple[nn.Module, dict]:
    """A copy with only `layer`'s MLP cut to `level` percent, and its record."""
    widths = ranking.widths
    k = keep_count(widths[layer], level)
    ks = list(widths)
    ks[layer] = k
    kept = ranking.kept(ks, tie_break)
    pruned = apply_kept(model, kept)
    info = {"criterion": ranking.criterion, "level": level, "layer": layer,
            "original_width": widths[layer], "kept_width": k, "hidden_size": ranking.hidden,
            "num_layers": len(widths), "expansion_ratio": k / ranking.hidden,
            "params_before": num_parameters(model), "params_after": num_parameters(pruned),
            "kept_indices_sha256": indices_sha256([kept[layer]]), "seed": ranking.seed,
            "tie_break": tie_break, "allocation": f"layer {layer} only"}
    return pruned, info


def unpruned_copy(model: nn.Module, ranking: Ranking) -> nn.Module:
    """A copy sharing every tensor with `model` (so that replay wrappers never touch the base)."""
    return apply_kept(model, [torch.arange(w) for w in ranking.widths])


def baseline_info(model: nn.Module, ranking: Ranking, layer: int) -> dict:
    """The unpruned model's record, as layer `layer`'s level 0 (criterion maw by convention)."""
    width, params = ranking.widths[layer], num_parameters(model)
    return {"criterion": "maw", "level": 0.0, "layer": layer, "original_width": width,
            "kept_width": width, "hidden_size": ranking.hidden, "num_layers": len(ranking.widths),
            "expansion_ratio": width / ranking.hidden, "params_before": params,
            "params_after": params, "allocation": "unpruned"}
