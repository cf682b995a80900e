"""Apply a cut: a pruned copy of the model that keeps the chosen neurons of every GLU MLP
(gate_proj/up_proj rows and down_proj columns), sharing every other tensor with the base.

    pruned, info = prune(model, rank(model, "maw"), Target(level=40))
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from repro.core.errors import ReproError
from repro.core.ties import PAPER_TIE_BREAK
from repro.prune.glu import glu_mlps
from repro.prune.ranking import Ranking
from repro.prune.widths import Target
from repro.runtime.nonuniform import PER_LAYER_KEY


def indices_sha256(kept: list[Tensor]) -> str:
    """Hash of the kept indices: int64 little-endian, layer after layer."""
    h = hashlib.sha256()
    for idx in kept:
        h.update(idx.to(torch.int64).numpy().astype("<i8").tobytes())
    return h.hexdigest()


def _set_weight(lin: nn.Linear, name: str, value: Tensor) -> None:
    old = getattr(lin, name)
    setattr(lin, name, nn.Parameter(value, requires_grad=old.requires_grad))


@torch.no_grad()
def apply_kept(model: nn.Module, kept: list[Tensor]) -> nn.Module:
    """A pruned copy of `model` keeping neurons `kept[layer]`; the base is left untouched.

    Every tensor that pruning does not touch (attention, norms, embeddings) is shared with the
    base, so the base plus one pruned copy costs the base plus the pruned MLPs only.
    """
    shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    pruned = copy.deepcopy(model, shared)
    mlps = glu_mlps(pruned)
    if len(kept) != len(mlps):
        raise ValueError(f"{len(kept)} index sets for {len(mlps)} layers")
    for m, idx in zip(mlps, kept, strict=True):
        k = len(idx)
        if k == m.width:  # nothing removed: keep sharing the base's tensors
            continue
        idx = idx.to(m.gate.weight.device)
        for lin in (m.gate, m.up):
            _set_weight(lin, "weight", lin.weight.index_select(0, idx))
            if lin.bias is not None:
                _set_weight(lin, "bias", lin.bias.index_select(0, idx))
            lin.out_features = k
        _set_weight(m.down, "weight", m.down.weight[:, idx])  # faster than index_select(1, .)
        m.down.in_features = k
        if isinstance(getattr(m.mlp, "intermediate_size", None), int):
            m.mlp.intermediate_size = k
    ks = [len(i) for i in kept]
    cfg = pruned.config
    if isinstance(getattr(cfg, "intermediate_size", None), list):
        cfg.intermediate_size = ks
    elif len(set(ks)) == 1:
        cfg.intermediate_size = ks[0]
        if hasattr(cfg, PER_LAYER_KEY):
            delattr(cfg, PER_LAYER_KEY)
    else:  # stock configs hold one width: the kit's loader rebuilds from this list
        setattr(cfg, PER_LAYER_KEY, ks)
    return pruned


def num_parameters(model: nn.Module) -> int:
    """Unique parameters (tied embeddings counted once), as the paper's counts."""
    return sum(p.numel() for p in model.parameters())


@dataclass
class PruneInfo:
    criterion: str
    level: float | None
    expansion_requested: float | None
    align: int | None
    original_width: int
    kept_width: int
    hidden_size: int
    num_layers: int
    expansion_ratio: float
    params_before: int
    params_after: int
    kept_indices_sha256: str
    seed: int | None
    tie_break: str  # topk (the paper's, optipfair 0.2.0) | stable (corrected, nested)
    allocation: str = "uniform"  # uniform | spareK | owl (repro/prune/allocation.py)
    kept_widths: list[int] | None = None  # per layer, when an allocation makes them differ
    allocation_record: dict | None = None  # the rule's inputs (sensitivity, outlier ratios...)

    def to_dict(self) -> dict:
        return asdict(self)


def prune(model: nn.Module, ranking: Ranking, target: Target, tie_break: str = PAPER_TIE_BREAK,
          *, widths: list[int] | None = None, allocation: str = "uniform",
          allocation_record: dict | None = None) -> tuple[nn.Module, PruneInfo]:
    """Cut `ranking` at `target` and return the pruned copy with its record. `widths`: kept
    neurons per layer from an allocation (repro/prune/allocation.py) of the target's budget."""
    sizes = set(ranking.widths)
    if len(sizes) != 1:
        raise ReproError(f"layers have different MLP widths {sorted(sizes)}; not supported")
    width = sizes.pop()
    k = target.width(width, ranking.hidden)
    ks = list(widths) if widths is not None else [k] * len(ranking.widths)
    if sum(ks) != k * len(ks):
        raise ValueError(f"allocation keeps {sum(ks)} neurons, the target {k * len(ks)}")
    kept = ranking.kept(ks, tie_break)
    pruned = apply_kept(model, kept)
    info = PruneInfo(
        criterion=ranking.criterion, level=target.level, expansion_requested=target.expansion,
        align=target.align, original_width=width, kept_width=k, hidden_size=ranking.hidden,
        num_layers=len(kept), expansion_ratio=k / ranking.hidden,
        params_before=num_parameters(model), params_after=num_parameters(pruned),
        kept_indices_sha256=indices_sha256(kept), seed=ranking.seed, tie_break=tie_break,
        allocation=allocation, kept_widths=ks if len(set(ks)) > 1 else None,
        allocation_record=allocation_record,
    )
    return pruned, info
