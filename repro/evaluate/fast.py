"""The fast setting's batching on an lm-eval HFLM (`--setting fast`; its numbers:
evaluation.yaml `fast:`). Not the paper's setting, so its cells are other cells (variant `fast`).

- loglikelihood: lm-eval sorts requests longest first; each batch takes as many as fit
  `token_budget` padded tokens (the first request's length times the batch size), at most
  `max_batch_size`; a request longer than the budget runs alone. Sizes come from token counts,
  never from probing memory ("auto"), so the same requests give the same batches on any device.
- greedy generation (lm-eval pads prompts on the left): per call, as many prompts per batch as
  the KV cache of its longest prompt plus max_gen_toks fits in `generate_kv_budget_mib` (bytes a
  token from the model's config: kv_bytes_per_token), at most `generate_batch_size`;
- rolling loglikelihood: `rolling_batch_size` windows per batch.

lm-eval 0.4.9.1's HFLM reads its batch size per request type in `loglikelihood`,
`loglikelihood_rolling` and `generate_until`, and, where the size is "auto", asks
`_batch_scheduler(pos, requests)` for each batch: `FastBatches` wraps the three methods on one
HFLM (instance attributes, removed by `remove`) and answers the scheduler from the budget.
"""

from __future__ import annotations

from typing import Any

from repro.config.evaluation import Fast
from repro.config.evaluation import kv_bytes_per_token as kv_cache_bytes

REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling", "generate_until")


def budget_sizes(lengths: list[int], token_budget: int, max_batch_size: int) -> list[int]:
    """Batch sizes over requests sorted longest first: each batch's padded tokens (its first
    request's length times its size) within the budget, 1 <= size <= max_batch_size."""
    sizes, i = [], 0
    while i < len(lengths):
        size = max(1, min(max_batch_size, token_budget // max(1, lengths[i]), len(lengths) - i))
        sizes.append(size)
        i += size
    return sizes


def kv_bytes_per_token(model) -> int:
    """Bytes of KV cache a token takes: keys and values in every layer, from the model's config
    (Llama-like: key/value heads x head dim) at its parameters' dtype."""
    c = model.config
    heads = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return kv_cache_bytes(c.num_hidden_layers, heads * head_dim, next(model.parameters()).element_size())


class FastBatches:
    """The fast setting on one HFLM while installed; `record()` says what it ran."""

    def __init__(self, lm, fast: Fast):
        self.lm, self.fast = lm, fast
        self.batches: list[int] = []                # loglikelihood: each batch's size
        self.generated: list[int] = []              # generation: each batch's size
        self.fixed: dict[str, dict[str, int]] = {}  # rolling: its size and requests
        self._plan: tuple[Any, list[int]] | None = None  # (the requests, each one's batch size)

    def install(self) -> None:
        lm = self.lm
        fixed = {"loglikelihood": "auto", "loglikelihood_rolling": self.fast.rolling_batch_size,
                 "generate_until": self._generate_size}
        for name in REQUEST_TYPES:
            lm.__dict__[name] = self._wrapped(name, getattr(type(lm), name), fixed[name])
        lm.__dict__["_batch_scheduler"] = self._scheduler

    def remove(self) -> None:
        for name in (*REQUEST_TYPES, "_batch_scheduler"):
            self.lm.__dict__.pop(name, None)

    def _wrapped(self, name: str, method, size):
        def run(requests, *args, **kwargs):
            lm, before = self.lm, self.lm.batch_size_per_gpu
            batch = size(requests) if callable(size) else size
            lm.batch_size_per_gpu = batch
            if callable(size):
                n = len(requests)
                self.generated += [batch] * (n // batch) + ([n % batch] if n % batch else [])
            elif batch != "auto":
                seen = self.fixed.setdefault(name, {"batch_size": int(batch), "requests": 0})
                seen["requests"] += len(requests)
            try:
                return method(lm, requests, *args, **kwargs)
            finally:
                lm.batch_size_per_gpu = before
        return run

    def _generate_size(self, requests) -> int:
        """One generate_until call's batch size: its longest prompt (as HFLM encodes it) plus
        its max_gen_toks, at the model's KV bytes a token, within the budget."""
        lm = self.lm
        longest = max((len(lm.tok_encode(r.args[0]))
                       + int(r.args[1].get("max_gen_toks", lm.max_gen_toks)) for r in requests), default=1)
        return self.fast.generate_size(kv_bytes_per_token(lm.model), longest)

    def _scheduler(self, pos: int, requests) -> int:
        """lm-eval's batch_fn: the size of the batch that holds request `pos`."""
        if self._plan is None or self._plan[0] is not requests:
            max_len = self.lm.max_length
            lengths = [min(len(r[1]) + len(r[2]), max_len + 1) - 1 for r in requests]
            sizes = budget_sizes(lengths, self.fast.token_budget, self.fast.max_batch_size)
            self.batches.extend(sizes)
            at = [s for s in sizes for _ in range(s)]
            self._plan = (requests, at)
        return self._plan[1][pos]

    def record(self) -> dict:
        """What a fast cell ran: the setting, and per request type what it used (loglikelihood
        and generation: their batches' count, smallest and largest size and requests; rolling:
        its size and requests)."""
        used: dict[str, dict] = {k: dict(v) for k, v in self.fixed.items()}
        for name, b in (("loglikelihood", self.batches), ("generate_until", self.generated)):
            if b:
                used[name] = {"batches": len(b), "min": min(b), "max": max(b), "requests": sum(b)}
        return {"requested": "fast", "fast": self.fast.record(), "used": used}
