"""Rank GLU neurons once per model and criterion; cut any width from the ranking.

Rules kept from optipfair v0.2.0 (the paper's code), bit for bit: the kept set is the k highest
float32 scores per layer, in ascending index order. Ties need a rule. bf16 weights give many
equal float32 scores (maw sums four bf16 values), so do 4-bit weights dequantised to float32
(the smoke model), and `torch.topk` leaves the choice among equal scores to the backend (CPU and
CUDA differ). The names live in repro/core/ties.py:
  tie_break="topk" (the paper's, the default in every stage): `torch.topk(scores, k)` per level
      on the weights' device, exactly optipfair's call, so on the paper's device it picks the
      paper's neurons; nesting then holds except among tied scores.
  tie_break="stable" (corrected): a stable descending sort, lower index wins; every level is a
      prefix of one order, so a higher level keeps a subset of a lower one, on any device.
Both agree whenever the k-th and (k+1)-th scores of every layer differ. The record says which,
and a result pruned with `stable` says so in its variant.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from repro.core.errors import ReproError
from repro.core.ties import PAPER_TIE_BREAK, TIE_BREAKS
from repro.prune import criteria, hybrid
from repro.prune.glu import glu_mlps

log = logging.getLogger("repro.prune")


@dataclass
class Ranking:
    """Per-layer scores and neuron order (most important first); computed once, cut at any width."""

    criterion: str
    scores: list[Tensor]  # float32 [I] per layer, on the weights' device
    orders: list[Tensor]  # int64 [I] per layer, on CPU
    hidden: int
    seed: int | None = None

    @property
    def widths(self) -> list[int]:
        return [len(o) for o in self.orders]

    def kept(self, k: int | Sequence[int], tie_break: str = PAPER_TIE_BREAK) -> list[Tensor]:
        """Kept indices per layer, ascending; k is one width for all layers or one per layer."""
        ks = [k] * len(self.orders) if isinstance(k, int) else list(k)
        if len(ks) != len(self.orders):
            raise ValueError(f"{len(ks)} widths for {len(self.orders)} layers")
        if tie_break == "stable":
            return [o[:n].sort().values for o, n in zip(self.orders, ks, strict=True)]
        if tie_break == "topk":  # optipfair 0.2.0: topk(score, k, largest=True), then sorted
            return [torch.topk(s, n, largest=True).indices.sort().values.cpu()
                    for s, n in zip(self.scores, ks, strict=True)]
        raise ReproError(f"unknown tie-break '{tie_break}'; choose one of {', '.join(TIE_BREAKS)}")


def order_from_scores(scores: Tensor) -> Tensor:
    """Indices by descending score; ties go to the lower index (stable sort)."""
    return torch.sort(scores.detach().float().cpu(), descending=True, stable=True).indices


def rank(
    model: nn.Module,
    criterion: str,
    *,
    seed: int = 0,
    calibration: list[tuple[Tensor, Tensor]] | None = None,
) -> Ranking:
    crit = criteria.canonical(criterion)  # the library's entry: a Python caller's name checked here
    mlps = glu_mlps(model)
    if crit in criteria.WEIGHT_CRITERIA:
        scores = []
        for m in mlps:
            log.info("scoring layer %d/%d (%s)", m.layer + 1, len(mlps), crit)
            scores.append(criteria.weight_scores(m, crit))
    elif crit == "random":
        scores = criteria.random_scores([m.width for m in mlps], seed)
    else:
        if not calibration:
            raise ReproError(f"criterion '{crit}' needs calibration text: pass --calibration FILE")
        log.info("running %d calibration batches (%s)", len(calibration), crit)
        if crit == "hybrid":
            norms = hybrid.optipfair_activation_norms(model, mlps, calibration)
            scores = hybrid.layer_scores(mlps, norms)
        else:
            scores = criteria.activation_norms(model, mlps, calibration)
    return Ranking(crit, scores, [order_from_scores(s) for s in scores],
                   hidden=mlps[0].gate.in_features, seed=seed if crit == "random" else None)
