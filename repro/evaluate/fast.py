"""The fast setting's batching on an lm-eval HFLM (`--setting fast`; its numbers:
evaluation.yaml `fast:`). Not the paper's setting, so its cells are other cells (variant `fast`).

- loglikelihood: lm-eval sorts requests longest first; each batch takes as many as fit
  `token_budget` padded tokens (the first request's length times the batch size), at most
  `max_batch_size`; a request longer than the budget runs alone. Sizes come from token counts,
  never from probing memory ("auto"), so the same requests give the same batches on any device.
- greedy generation: `generate_batch_size` prompts per batch (lm-eval pads them on the left);
- rolling loglikelihood: `rolling_batch_size` windows per batch.

lm-eval 0.4.9.1's HFLM reads its batch size per request type in `loglikelihood`,
`loglikelihood_rolling` and `generate_until`, and, where the size is "auto", asks
`_batch_scheduler(pos, requests)` for each batch: `FastBatches` wraps the three methods on one
HFLM (instance attributes, removed by `remove`) and answers the scheduler from the budget.
"""

from __future__ import annotations

from typing import Any

from repro.config.evaluation import Fast

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


class FastBatches:
    """The fast setting on one HFLM while installed; `record()` says what it ran."""

    def __init__(self, lm, fast: Fast):
        self.lm, self.fast = lm, fast
        self.batches: list[int] = []                # loglikelihood: each batch's size
        self.fixed: dict[str, dict[str, int]] = {}  # the others: their size and requests
        self._plan: tuple[Any, list[int]] | None = None  # (the requests, each one's batch size)

    def install(self) -> None:
        lm = self.lm
        fixed = {"loglikelihood": "auto", "loglikelihood_rolling": self.fast.rolling_batch_size,
                 "generate_until": self.fast.generate_batch_size}
        for name in REQUEST_TYPES:
            lm.__dict__[name] = self._wrapped(name, getattr(type(lm), name), fixed[name])
        lm.__dict__["_batch_scheduler"] = self._scheduler

    def remove(self) -> None:
        for name in (*REQUEST_TYPES, "_batch_scheduler"):
            self.lm.__dict__.pop(name, None)

    def _wrapped(self, name: str, method, batch):
        def run(requests, *args, **kwargs):
            lm, before = self.lm, self.lm.batch_size_per_gpu
            lm.batch_size_per_gpu = batch
            if batch != "auto":
                seen = self.fixed.setdefault(name, {"batch_size": int(batch), "requests": 0})
                seen["requests"] += len(requests)
            try:
                return method(lm, requests, *args, **kwargs)
            finally:
                lm.batch_size_per_gpu = before
        return run

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
        """What a fast cell ran: the setting, and per request type what it used (loglikelihood:
        its batches' count and smallest and largest size; the others: size and requests)."""
        used: dict[str, dict] = {k: dict(v) for k, v in self.fixed.items()}
        if self.batches:
            b = self.batches
            used["loglikelihood"] = {"batches": len(b), "min": min(b), "max": max(b), "requests": sum(b)}
        return {"requested": "fast", "fast": self.fast.record(), "used": used}
