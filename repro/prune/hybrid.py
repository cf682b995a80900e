"""optipfair 0.2.0's data-driven criterion ("hybrid MAW", CFSP-style), bit for bit.

Source: optipfair 0.2.0 (the paper's version), optipfair/pruning/mlp_glu.py. optipfair runs it
only when `prune_model` gets a `dataloader` and `neuron_selection_method="MAW"` (other methods
raise); the kit calls it `hybrid`. Versions 0.2.0-0.2.2 share this form; 0.2.3 replaced it.

Activation term (setup_mlp_hooks_for_importance, lines 29-108, and
run_calibration_forward_passes, 131-188): a forward hook on every down_proj reads its input
X_d = act(gate(x)) * up(x), [B, S, I], and adds torch.norm(X_d.float(), p=2, dim=(0, 1)),
computed on the model's device and moved to the CPU, into a float32 CPU buffer, batch after
batch. So x[i] = sum over batches of the within-batch L2 norm, not the norm over the whole
calibration set (it depends on how the text is cut into batches), and padded positions count
(the hook never sees the attention mask). Both are kept here on purpose: this criterion
reproduces optipfair. The exact norm over non-padding tokens is the `activation` criterion.

Score (compute_neuron_pair_importance_maw_hybrid, lines 242-326), float32 on the weights'
device, with A = |Wd^T| of shape [I, H]:
    down[i] = sum_j A[i,j] * x[i] / (sum_i' A[i',j] * sum_i' x[i'] + 1e-8)
    up[i]   = sum_j |Wu[i,j]| / (sum_j' |Wu[i,j']| + 1e-8)        (= 1 up to rounding)
    gate[i] = sum_j |Wg[i,j]| / (sum_j' |Wg[i,j']| + 1e-8)        (= 1 up to rounding)
    score   = (down + up) + gate
The "norms" are L1 sums. Since up and gate are ~1, only the down term ranks neurons and the
float32 scores near 2.0 tie often: reproducing optipfair's kept set needs these exact ops in
this order and its selection, `torch.topk` on the same device (tie_break="topk", ranking.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from repro.prune.calibration_pass import feed
from repro.prune.glu import GLUMLP


def optipfair_activation_norms(
    model: torch.nn.Module,
    mlps: Sequence[GLUMLP],
    batches: Iterable[tuple[Tensor, Tensor]],
) -> list[Tensor]:
    """optipfair 0.2.0's X_d_norm per layer: per-batch L2 norms of down_proj's input, padding
    included, summed over batches in float32 on the CPU (see the module docstring)."""
    sums = [torch.zeros(m.down.in_features, dtype=torch.float32, device="cpu") for m in mlps]

    def hook_for(i: int):
        def hook(module, inputs, output):
            x_d = inputs[0].detach()
            sums[i] += torch.norm(x_d.to(torch.float32), p=2, dim=(0, 1)).cpu()
        return hook

    handles = [m.down.register_forward_hook(hook_for(k)) for k, m in enumerate(mlps)]
    feed(model, batches, handles)
    return sums


def hybrid_scores(gate_weight: Tensor, up_weight: Tensor, down_weight: Tensor,
                  x_d_norm: Tensor) -> Tensor:
    """compute_neuron_pair_importance_maw_hybrid of optipfair 0.2.0, the same ops in order."""
    device = gate_weight.device
    x_d_norm = x_d_norm.to(device).to(torch.float32)
    gate_weight = gate_weight.float()
    up_weight = up_weight.float()
    down_weight = down_weight.float()
    w_d_abs = torch.abs(down_weight.t())                               # [I, H]
    numerator = w_d_abs * x_d_norm.unsqueeze(1)                        # [I, H]
    denominator = w_d_abs.sum(dim=0, keepdim=True) * x_d_norm.sum()    # [1, H]
    normalized_down = (numerator / (denominator + 1e-8)).sum(dim=1)    # [I]
    up_abs = torch.abs(up_weight)
    normalized_up = (up_abs / (up_abs.sum(dim=1, keepdim=True) + 1e-8)).sum(dim=1)
    gate_abs = torch.abs(gate_weight)
    normalized_gate = (gate_abs / (gate_abs.sum(dim=1, keepdim=True) + 1e-8)).sum(dim=1)
    return normalized_down + normalized_up + normalized_gate


def layer_scores(mlps: Sequence[GLUMLP], norms: Sequence[Tensor]) -> list[Tensor]:
    """Hybrid scores of every layer; weights cast as optipfair's prune_neuron_pairs does."""
    with torch.no_grad():
        return [hybrid_scores(m.gate.weight.data.float(), m.up.weight.data.float(),
                              m.down.weight.data.float(), x) for m, x in zip(mlps, norms, strict=True)]
