"""Neuron-importance criteria for GLU width pruning: a registry of small scoring functions.

Weight criteria reproduce optipfair v0.2.0 (the version the paper used) bit for bit: weights
cast to float32, per intermediate neuron i of a layer, with Wg, Wu of shape [I, H]:

    maw (alias ppm): (max(Wg[i]) + |min(Wg[i])|) + (max(Wu[i]) + |min(Wu[i])|)
                     a peak-to-peak range, despite the name "maximum absolute weight"
    vow:             var(Wg[i]) + var(Wu[i])            (unbiased, torch's default)
    pon:             ||Wg[i]||_1 * ||Wu[i]||_1          (a product in v0.2.0; 0.2.4 made it a sum)

Criteria optipfair added after the paper, each bit for bit with the version that defines it:
    l2:      ||Wg[i]||_2 + ||Wu[i]||_2   optipfair 0.2.4 (first in it; unchanged to 0.4.2),
             compute_neuron_pair_importance_l2, optipfair/pruning/mlp_glu.py lines 266-280
    hybrid:  optipfair 0.2.0's data-driven "hybrid MAW" (CFSP-style down_proj x activation
             score, with optipfair's own activation hook): see repro/prune/hybrid.py

Two more, not in the paper:
    random:      uniform scores from a seeded generator (a floor any criterion should beat)
    activation:  ||X_d[:, i]||_2, the L2 norm over all non-padding calibration tokens of the
                 down_proj input (the GLU output act(Wg x) * (Wu x)). This is the activation
                 term of CFSP (Wang et al. 2024, arXiv:2409.13199, eq. 8) and Wanda's input
                 norm ||X_j||_2 (Sun et al. 2023, arXiv:2306.11695), used alone. Unlike
                 optipfair's hook it excludes padding and accumulates squares across batches,
                 so the result is the exact norm over the calibration set.
Down_proj weights are never scored (as in the paper).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from repro.core.errors import ReproError

# the names live in core (no torch); re-exported for the stages that already hold this module
from repro.core.pruning import ALIASES, CALIBRATED, CRITERIA, DATA_CRITERIA, WEIGHT_CRITERIA  # noqa: F401
from repro.core.pruning import criterion as canonical  # noqa: F401
from repro.prune.calibration_pass import feed
from repro.prune.glu import GLUMLP

WeightScore = Callable[[Tensor, Tensor], Tensor]


def maw(gate: Tensor, up: Tensor) -> Tensor:
    gate_range = torch.max(gate, dim=1).values + torch.abs(torch.min(gate, dim=1).values)
    up_range = torch.max(up, dim=1).values + torch.abs(torch.min(up, dim=1).values)
    return gate_range + up_range


def vow(gate: Tensor, up: Tensor) -> Tensor:
    return torch.var(gate, dim=1) + torch.var(up, dim=1)


def pon(gate: Tensor, up: Tensor) -> Tensor:
    return torch.norm(gate, p=1, dim=1) * torch.norm(up, p=1, dim=1)


def l2(gate: Tensor, up: Tensor) -> Tensor:
    gate_norms = torch.norm(gate, p=2, dim=1)
    up_norms = torch.norm(up, p=2, dim=1)
    return gate_norms + up_norms


WEIGHT_SCORES: dict[str, WeightScore] = {"maw": maw, "vow": vow, "pon": pon, "l2": l2}  # WEIGHT_CRITERIA


def _maw_native(gate: Tensor, up: Tensor) -> Tensor:
    """maw without casting whole matrices: max and min of bf16/fp16 values are exact in any
    dtype and the cast to float32 is exact and monotone, so this equals maw(gate.float(),
    up.float()) bit for bit, with the same float32 additions in the same order."""
    def rng(w: Tensor) -> Tensor:
        return torch.max(w, dim=1).values.float() + torch.abs(torch.min(w, dim=1).values.float())
    return rng(gate) + rng(up)


def weight_scores(mlp: GLUMLP, criterion: str) -> Tensor:
    """float32 scores [I] of one layer, computed on the weights' own device (`criterion`: a
    canonical name, as rank() passes it)."""
    with torch.no_grad():
        if criterion == "maw":
            return _maw_native(mlp.gate.weight, mlp.up.weight)
        return WEIGHT_SCORES[criterion](mlp.gate.weight.float(), mlp.up.weight.float())


def random_scores(widths: Sequence[int], seed: int) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(w, generator=gen, dtype=torch.float32) for w in widths]


def activation_norms(
    model: torch.nn.Module,
    mlps: Sequence[GLUMLP],
    batches: Iterable[tuple[Tensor, Tensor]],
) -> list[Tensor]:
    """||X_d[:, i]||_2 per layer over the non-padding tokens of `batches` (input_ids, mask)."""
    sums = [torch.zeros(m.width, dtype=torch.float64) for m in mlps]
    batch: dict[str, Tensor] = {}  # the padding mask of the batch in flight

    def hook_for(i: int):
        def hook(module, inputs, output):
            x = inputs[0].detach().float()  # (B, T, I)
            keep = batch["mask"].to(x.device, torch.bool)  # (B, T)
            sums[i] += (x[keep] ** 2).sum(dim=0).double().cpu()
        return hook

    handles = [m.down.register_forward_hook(hook_for(k)) for k, m in enumerate(mlps)]
    feed(model, batches, handles, before=lambda mask: batch.update(mask=mask))
    return [s.sqrt().float() for s in sums]


def _prefix_of(text):
    if isinstance(text, str):
        return lambda n: (text[:n], n >= len(text))
    return text.prefix  # repro.core.textio.TextFile: read from disk as far as asked


def calibration_tokens(tokenizer, text, need: int) -> list[int]:
    """The first `need` tokens of `text` (a str, or a TextFile read only as far as needed),
    equal to those of the whole text tokenised at once. Only a prefix is tokenised: one that
    the whole fits in, or one giving a margin of need/8 (at least 256) tokens beyond `need`,
    so that the words cut at its end never reach the tokens kept (pre-tokenizers split the
    text into words and tokens never cross them). A 50 MB file costs what its first ~150 kB
    cost (32 windows of 512 tokens)."""
    prefix = _prefix_of(text)
    margin = max(256, need // 8)
    chars = 8 * (need + margin)  # ~4 characters per token in English text; grown if not enough
    while True:
        part, whole = prefix(chars)
        ids = tokenizer(part, add_special_tokens=False)["input_ids"]
        if whole or len(ids) >= need + margin:
            return ids[:need]
        chars *= 4


def calibration_batches(
    tokenizer, text, *, seq_len: int = 512, samples: int = 32, batch_size: int = 4
) -> list[tuple[Tensor, Tensor]]:
    """Cut `text` (a str, or a repro.core.textio.TextFile) into up to `samples` windows of
    `seq_len` tokens (the last may be shorter and right-padded: the mask marks real tokens)."""
    ids = calibration_tokens(tokenizer, text, seq_len * samples)
    windows = [ids[i : i + seq_len] for i in range(0, len(ids), seq_len)][:samples]
    windows = [w for w in windows if w]
    if not windows:
        raise ReproError("the calibration text produced no tokens; give a non-empty --calibration file")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out = []
    for b in range(0, len(windows), batch_size):
        chunk = windows[b : b + batch_size]
        width = max(len(w) for w in chunk)
        input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, w in enumerate(chunk):
            input_ids[r, : len(w)] = torch.tensor(w)
            mask[r, : len(w)] = 1
        out.append((input_ids, mask))
    return out
