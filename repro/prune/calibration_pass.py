"""One forward pass over the calibration batches with hooks attached: the loop that the
data-driven criteria (activation, hybrid) and OWL's outlier ratios share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from repro.core.errors import ReproError

NO_TOKENS = "the calibration text produced no tokens; give a non-empty --calibration file"


def feed(model: torch.nn.Module, batches: Iterable[tuple[Tensor, Tensor]], handles: Sequence,
         before: Callable[[Tensor], None] | None = None) -> int:
    """Run every (input_ids, attention_mask) batch through `model` without gradients, then
    remove the forward-hook `handles`, also on error. `before(mask)` runs ahead of each batch
    (hooks that need the batch's padding mask read it there). Returns the real tokens seen;
    none is a user error."""
    device = next(model.parameters()).device
    tokens = 0
    try:
        with torch.no_grad():
            for input_ids, mask in batches:
                if before is not None:
                    before(mask)
                tokens += int(mask.sum())
                model(input_ids=input_ids.to(device), attention_mask=mask.to(device))
    finally:
        for h in handles:
            h.remove()
    if tokens == 0:
        raise ReproError(NO_TOKENS)
    return tokens
