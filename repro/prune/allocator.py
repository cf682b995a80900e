"""Per-layer kept widths for a non-uniform allocation, computed one way for `repro prune` and
for the grid stages (repro/prune/allocation.py has the rules; this module feeds them their
inputs): OWL's outlier ratios from calibration text, once per model; spareK's layer scores from
a `repro sensitivity` scan, once per criterion. The record says how the widths were chosen and
goes into the pruned model's record (repro_prune.json, or a cell's prune record)."""

from __future__ import annotations

from collections.abc import Callable

from repro.config.extensions import extensions
from repro.core.pruning import Allocation
from repro.prune import allocation
from repro.prune.widths import Target

OWL_SOURCE = "Yin et al., ICML 2024, arXiv:2310.05175"


class Allocator:
    """`calibration()`: the calibration batches (OWL); `sensitivity(criterion)`: a scan's
    (scores, record), as repro.results.sensitivity.layer_sensitivity returns them (spareK)."""

    def __init__(self, *, calibration: Callable[[], list], sensitivity: Callable[[str], tuple[list[float], dict]]):
        self._calibration, self._scan = calibration, sensitivity
        self._ratios: list[float] | None = None
        self._scores: dict[str, tuple[list[float], dict]] = {}

    def sensitivity(self, criterion: str) -> tuple[list[float], dict]:
        if criterion not in self._scores:
            self._scores[criterion] = self._scan(criterion)
        return self._scores[criterion]

    def widths(self, model, a: Allocation, ranking, target: Target) -> tuple[list[int] | None, dict | None]:
        """Kept neurons per layer under `a` with the uniform cut's budget at `target`, and the
        record of how they were chosen; (None, None) for uniform."""
        if a.rule == "uniform":
            return None, None
        width = ranking.widths[0]
        kept = target.width(width, ranking.hidden)
        if a.rule == "owl":
            owl = extensions().allocations.owl
            if self._ratios is None:
                from repro.prune.owl import outlier_ratios

                self._ratios = outlier_ratios(model, self._calibration(), owl.m)
            level = target.level if target.level is not None else 100.0 * (1 - kept / width)
            shares = allocation.owl_sparsity(self._ratios, level / 100, owl.lam)
            record = {"rule": "owl", "source": OWL_SOURCE, "m": owl.m, "lambda": owl.lam,
                      "outlier_ratios": self._ratios, "layer_sparsity": shares}
        else:
            scores, scan = self.sensitivity(ranking.criterion)
            spared = allocation.spared_layers(scores, a.k)
            shares = [0.0 if i in spared else 1.0 for i in range(len(ranking.widths))]
            record = {"rule": "spare", "k": a.k, "spared_layers": spared, "sensitivity": scan}
        out = allocation.kept_widths(ranking.widths, kept, shares)
        record["kept_widths"] = out
        return out, record
