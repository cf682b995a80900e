"""Non-uniform widths: one neuron budget, shared between layers by a named rule (no torch).

A level p keeps k = keep_count(I, p) neurons in every layer (widths.py). An allocation prunes
the same total, N = sum over layers of (I - k), but shares it out between layers by a rule:

  uniform  every layer alike: exactly the uniform cut.
  spareK   the K layers the sensitivity scan found most sensitive (`repro sensitivity`: highest
           calibration perplexity with that layer alone cut, geometric mean over the scanned
           levels) keep every neuron; the other layers share N equally.
  owl      Outlier Weighed Layerwise sparsity (OWL): Yin et al., ICML 2024, arXiv:2310.05175;
           reference code github.com/luuyin/OWL, lib/prune_all.py (prune_wanda_outlier, lines
           924-966 and 1054-1058; check_outlier_mean, 139-154). A layer's outlier ratio D_l is
           the share (%) of its Wanda scores |W_ij| * ||X_j||_2, pooled over every Linear of the
           decoder layer, above M times their mean (repro/prune/owl.py computes it). Then
               r_l = (D_l - min D) * (1 / (max D - min D) * 2 lambda)
               sparsity_l = 1 - (r_l - mean(r) + (1 - S)),  clipped to 0.01 where <= 0
           with S = p / 100: layers with more outliers are pruned less. Defaults M = 5,
           lambda = 0.08 (the reference README's setting for unstructured OWL; its argparse
           default M is 3), from repro/config/extensions.yaml. Here the sparsity is a share of
           each layer's MLP neurons (structured), where OWL prunes single weights.

Shares become whole counts by the largest-remainder method (ties to the lower layer index),
each layer capped at I - 1 pruned (a layer keeps one neuron at least, as optipfair's rule), so
the total pruned is exactly the uniform cut's N, and the mean kept width is the uniform width.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from repro.core.errors import ReproError
from repro.core.pruning import Allocation  # noqa: F401  (the name lives in core: no torch)
from repro.core.pruning import allocation as parse  # noqa: F401


def budget(widths: Sequence[int], kept: int) -> int:
    """Neurons the uniform cut to `kept` per layer prunes in all layers together."""
    return sum(w - kept for w in widths)


def apportion(shares: Sequence[float], total: int, caps: Sequence[int]) -> list[int]:
    """Whole counts proportional to `shares` summing to `total`, each at most its cap: layers
    whose quota passes their cap get the cap and the rest is shared again; then floors, and the
    remainder one by one to the largest fractional parts (lower index first on ties). Exact
    arithmetic (fractions), so the result does not depend on float rounding."""
    w = [Fraction(s) for s in shares]
    if any(x < 0 for x in w) or sum(w) == 0:
        raise ValueError("shares must be non-negative with a positive sum")
    if total > sum(c for c, x in zip(caps, w, strict=True) if x > 0):
        raise ReproError(f"cannot prune {total} neurons from the layers this allocation may cut "
                         "(each keeps one neuron at least); choose a lower level or spare fewer layers")
    out = [0] * len(w)
    free = [i for i, x in enumerate(w) if x > 0]
    left = total
    while True:
        weight = sum(w[i] for i in free)
        quota = {i: left * w[i] / weight for i in free}
        over = [i for i in free if quota[i] > caps[i]]
        if not over:
            break
        for i in over:
            out[i] = caps[i]
            left -= caps[i]
        free = [i for i in free if i not in over]
    floors = {i: int(quota[i]) for i in free}
    rest = left - sum(floors.values())
    for i in free:
        out[i] = floors[i]
    for i in sorted(free, key=lambda i: (-(quota[i] - floors[i]), i))[:rest]:
        out[i] += 1
    return out


def spared_layers(sensitivity: Sequence[float], k: int) -> list[int]:
    """The k most sensitive layers (highest score; lower index first on ties), ascending."""
    if not 1 <= k < len(sensitivity):
        raise ReproError(f"spare{k}: choose K between 1 and {len(sensitivity) - 1} "
                         f"(the model has {len(sensitivity)} layers)")
    order = sorted(range(len(sensitivity)), key=lambda i: (-sensitivity[i], i))
    return sorted(order[:k])


def owl_sparsity(outlier_ratios: Sequence[float], target: float, lam: float) -> list[float]:
    """OWL's per-layer sparsity for target sparsity `target` in [0, 1) (lib/prune_all.py
    lines 962-966 and 1058), in float64 with numpy as the reference code."""
    import numpy as np

    d = np.array(outlier_ratios, dtype=np.float64)
    if d.max() == d.min():  # the reference would divide by zero; every layer is alike
        return [float(target)] * len(d)
    r = (d - d.min()) * (1 / (d.max() - d.min()) * lam * 2)
    density = r - np.mean(r) + (1 - target)
    sparsity = 1 - density
    return [0.01 if s <= 0 else float(s) for s in sparsity]


def kept_widths(widths: Sequence[int], kept: int, shares: Sequence[float]) -> list[int]:
    """Per-layer kept widths: the budget of the uniform cut to `kept` neurons per layer,
    shared out by `shares`."""
    pruned = apportion(shares, budget(widths, kept), [w - 1 for w in widths])
    return [w - n for w, n in zip(widths, pruned, strict=True)]
