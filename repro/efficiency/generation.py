"""Greedy generation of an exact number of tokens, with the prefill and the decode steps timed
as separate synchronised regions (the corrected protocol's latency figures)."""

from __future__ import annotations

import inspect
from typing import Any


def cache_name(model) -> str:
    """The keyword (and output field) of the KV cache: `past_key_values` in transformers 4.x,
    `cache` in 5.x, where the old name is deprecated and goes in 5.40."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _last_logits(model, **kw):
    try:
        return model(**kw, use_cache=True, logits_to_keep=1)
    except TypeError:  # models without logits_to_keep compute every position
        return model(**kw, use_cache=True)


def generate_fixed(model, ids, new_tokens: int, timer) -> tuple[float, float, Any]:
    """Greedy generation of exactly `new_tokens` tokens with a KV cache, no early stop.

    Returns (prefill seconds, decode seconds, tokens (B, new_tokens)). Prefill is one forward
    pass over the prompt that yields the first token (TTFT); decode is the other new_tokens - 1
    single-token steps. Each phase is a synchronised timed region.
    """
    import torch

    cache = cache_name(model)
    with torch.inference_mode():
        def prefill():
            out = _last_logits(model, input_ids=ids)
            return out.logits[:, -1, :].argmax(-1), getattr(out, cache)

        t_pre, (tok, past) = timer.time(prefill)

        def decode():
            toks, t = [tok], tok
            for _ in range(new_tokens - 1):
                out = _last_logits(model, input_ids=t[:, None], **{cache: past})
                t = out.logits[:, -1, :].argmax(-1)
                toks.append(t)
            return torch.stack(toks, dim=1)

        if new_tokens > 1:
            t_dec, tokens = timer.time(decode)
        else:
            t_dec, tokens = 0.0, tok[:, None]
    return t_pre, t_dec, tokens
