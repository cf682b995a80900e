"""OWL's layer outlier ratios (Yin et al., ICML 2024, arXiv:2310.05175), for the `owl` allocation.

As the reference code (github.com/luuyin/OWL, lib/prune_all.py, prune_wanda_outlier lines
924-951 and check_outlier_mean 139-154): for every decoder layer, the Wanda score
|W_ij| * ||X_j||_2 of each weight of each Linear in the layer (q, k, v, o, gate, up, down for
Llama), pooled, and the percentage of scores above M times their mean. ||X_j||_2 is the norm
of input feature j over the calibration tokens: here over non-padding tokens, in one forward
pass of the unpruned model (the reference feeds layers one after another, the same thing for
an unpruned model; its norm carries a constant 1/sqrt(samples) factor, which leaves the
mean-relative count unchanged). The pooled mean is accumulated in float64 (the reference:
float32 over the concatenated scores).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from repro.prune.calibration_pass import feed
from repro.prune.glu import decoder_layers


def _linears(layer: nn.Module) -> list[nn.Linear]:
    return [m for _, m in sorted(layer.named_modules()) if type(m) is nn.Linear]


def outlier_ratios(model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], m: float) -> list[float]:
    """Per decoder layer, the percentage of Wanda scores above m x their mean."""
    layers = [_linears(layer) for layer in decoder_layers(model)]
    sumsq = {id(lin): torch.zeros(lin.in_features, dtype=torch.float64) for ls in layers for lin in ls}
    batch: dict[str, Tensor] = {}  # the padding mask of the batch in flight

    def hook(module, inputs, output):
        x = inputs[0].detach().float()
        keep = batch["mask"].to(x.device, torch.bool)
        sumsq[id(module)] += (x[keep] ** 2).sum(dim=0).double().cpu()

    handles = [lin.register_forward_hook(hook) for ls in layers for lin in ls]
    feed(model, batches, handles, before=lambda mask: batch.update(mask=mask))
    ratios = []
    with torch.no_grad():
        for ls in layers:
            def wanda(lin: nn.Linear) -> Tensor:  # recomputed per pass: one matrix in memory
                return lin.weight.float().abs() * sumsq[id(lin)].sqrt().float().to(lin.weight.device)

            total = sum(float(wanda(lin).sum(dtype=torch.float64)) for lin in ls)
            count = sum(lin.weight.numel() for lin in ls)
            threshold = total / count * m
            above = sum(int((wanda(lin) > threshold).sum()) for lin in ls)
            ratios.append(above / count * 100)
    return ratios
