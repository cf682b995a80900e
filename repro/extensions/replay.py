"""Skip recomputing unpruned layers in a per-layer scan, exactly.

With only layer l cut, layers 0..l-1 see the same inputs as in the unpruned model, so their
outputs are those of the unpruned model for the same call. `Replay` remembers the outputs of
unpruned layers per call (keyed by the call's input_ids, attention_mask and position_ids) and
hands them back instead of running the layer again; any call it has not seen, or one with a
KV cache (generation), runs the layer as usual. The result is the same tensors the layer would
compute (CPU kernels are deterministic for a fixed thread count; tests check equality), and a
scan costs about half the forward passes. The memory it may hold is capped (`budget_bytes`);
past the cap it stops remembering and the scan is merely slower.

    replay = Replay(budget_bytes=2 << 30)
    with replay.installed(pruned_copy, dense_below=l):   # layers < l replayed or remembered
        evaluate(pruned_copy)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from repro.prune.glu import decoder_layers

log = logging.getLogger("repro.sensitivity")


def _clone(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.detach().clone()
    if isinstance(out, tuple):
        return tuple(_clone(x) for x in out)
    return out


def _nbytes(out: Any) -> int:
    if isinstance(out, torch.Tensor):
        return out.numel() * out.element_size()
    if isinstance(out, tuple):
        return sum(_nbytes(x) for x in out)
    return 0


def _key(args: tuple, kwargs: dict) -> str | None:
    """Identity of a top-level forward call, or None where replaying is not safe."""
    if any(kwargs.get(k) is not None for k in ("past_key_values", "cache", "inputs_embeds")):
        return None  # a KV cache (past_key_values in transformers 4.x, cache in 5.x): not replayable
    ids = kwargs.get("input_ids", args[0] if args else None)
    if not isinstance(ids, torch.Tensor):
        return None
    h = hashlib.sha256()
    for name in ("input_ids", "attention_mask", "position_ids"):
        t = ids if name == "input_ids" else kwargs.get(name)
        if isinstance(t, torch.Tensor):
            h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class _ReplayedLayer(nn.Module):
    """Wraps an unpruned decoder layer: returns its remembered output for a known call."""

    def __init__(self, inner: nn.Module, index: int, replay: Replay):
        super().__init__()
        self.inner = inner
        self.index = index
        self._replay = [replay]  # in a list: not a submodule

    def __getattr__(self, name: str):  # attributes the model reads from its layers
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("inner"), name)

    def forward(self, *args, **kwargs):
        replay = self._replay[0]
        key = replay.current
        if key is not None and (key, self.index) in replay.store:
            replay.hits += 1
            return _clone(replay.store[(key, self.index)])
        out = self.inner(*args, **kwargs)
        if key is not None:
            replay.remember((key, self.index), out)
        return out


class Replay:
    def __init__(self, budget_bytes: int):
        self.budget = budget_bytes
        self.used = 0
        self.store: dict[tuple[str, int], Any] = {}
        self.current: str | None = None
        self.hits = 0
        self._full = False

    def remember(self, key: tuple[str, int], out: Any) -> None:
        size = _nbytes(out)
        if self.used + size > self.budget:
            if not self._full:
                log.info("replay cache full (%d MiB): later layers are recomputed", self.used >> 20)
                self._full = True
            return
        self.store[key] = _clone(out)
        self.used += size

    @contextmanager
    def installed(self, model: nn.Module, dense_below: int) -> Iterator[None]:
        """Layers 0..dense_below-1 of `model` (all unpruned) replay or remember their outputs."""
        layers = decoder_layers(model)
        originals = list(layers)

        def pre_hook(module, args, kwargs):
            self.current = _key(args, kwargs)

        handle = model.register_forward_pre_hook(pre_hook, with_kwargs=True)
        use_cache = getattr(model.config, "use_cache", None)
        model.config.use_cache = False  # no KV cache in a scoring call: every call is replayable
        try:
            for i in range(min(dense_below, len(layers))):
                layers[i] = _ReplayedLayer(originals[i], i, self)
            yield
        finally:
            for i, layer in enumerate(originals):
                layers[i] = layer
            handle.remove()
            model.config.use_cache = use_cache
            self.current = None
