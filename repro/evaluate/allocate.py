"""Allocations in the evaluate stage: `--allocations uniform spare3 owl`.

A non-uniform allocation (repro/prune/allocation.py) is a named variant of a cell: the cell's
variant is the allocation's tag ('owl', 'spare3'), after the paper variant where there is one
('chat-owl'); uniform adds nothing, so the paper's cells are untouched. Its settings (rule,
parameters, the sensitivity scan or calibration text it read, by hash) decide whether a cell is
up to date, and its per-layer widths and inputs are recorded in the cell's prune record.
"""

from __future__ import annotations

from pathlib import Path

from repro.config.extensions import extensions
from repro.core.errors import ReproError
from repro.evaluate.plan import ModelPlan, Settings, calibration_for
from repro.prune.allocation import Allocation, parse, spared_layers


def _is_tag(token: str) -> bool:
    try:
        return token not in ("", "uniform") and bool(parse(token).tag)
    except ReproError:  # any other token (chat, fp16, stable, ...) is not an allocation
        return False


def tag_of(variant: str) -> str:
    """The allocation token of a cell's variant ('' for uniform): 'owl' in 'chat-owl-stable'."""
    return next((t for t in variant.split("-") if _is_tag(t)), "")


def base_variant(variant: str) -> str:
    """The variant without its allocation token."""
    return "-".join(t for t in variant.split("-") if not _is_tag(t))


def is_chat(variant: str) -> bool:
    """Whether lm-eval applies the chat template: 'chat' leads the variant (chat, chat-stable)."""
    return variant.split("-")[0] == "chat"


def join(base: str, tag: str) -> str:
    """The allocation token placed before a tie-break token, as plan.py builds variants."""
    from repro.core.ties import paper_twin, rule_of, rule_variant

    return rule_variant("-".join(x for x in (paper_twin(base), tag) if x), rule_of(base))


class Allocator:
    """Per-layer widths of one model's allocations; the OWL outlier ratios are computed once."""

    def __init__(self, root: Path, plan: ModelPlan, settings: Settings):
        self.root, self.plan, self.settings = Path(root), plan, settings
        self._ratios: list[float] | None = None
        self._sensitivity: dict[str, tuple[list[float], dict]] = {}

    def sensitivity(self, criterion: str) -> tuple[list[float], dict]:
        from repro.results.sensitivity import layer_sensitivity

        if criterion not in self._sensitivity:
            self._sensitivity[criterion] = layer_sensitivity(
                self.root, self.plan.spec.name, criterion, self.plan.spec.num_layers or 0,
                self.settings.tie_break)
        return self._sensitivity[criterion]

    def settings_for(self, criterion: str, tag: str) -> dict | None:
        """What an allocation cell's numbers depend on (None for uniform)."""
        if not tag:
            return None
        a = parse(tag)
        if a.rule == "owl":
            owl = extensions().allocations.owl
            return {"rule": "owl", "m": owl.m, "lambda": owl.lam,
                    "calibration": {"sha256": self.settings.calibration_sha256(),
                                    "samples": self.settings.calibration_samples}}
        scores, record = self.sensitivity(criterion)
        spared_layers(scores, a.k)  # a K the model cannot take fails here, before any cell runs
        return {"rule": "spare", "k": a.k, "sensitivity_sha256": record["sha256"]}

    def widths(self, model, tokenizer, widths: list[int], kept: int, level: float, criterion: str,
               tag: str) -> tuple[list[int], dict]:
        """Kept neurons per layer and the record of how they were chosen."""
        from repro.prune import allocation

        a: Allocation = parse(tag)
        if a.rule == "owl":
            owl = extensions().allocations.owl
            if self._ratios is None:
                from repro.prune.owl import outlier_ratios

                batches, _ = calibration_for(tokenizer, self.settings)
                self._ratios = outlier_ratios(model, batches, owl.m)
            shares = allocation.owl_sparsity(self._ratios, level / 100, owl.lam)
            record = {"rule": "owl", "source": "Yin et al., ICML 2024, arXiv:2310.05175",
                      "m": owl.m, "lambda": owl.lam, "outlier_ratios": self._ratios,
                      "layer_sparsity": shares}
        else:
            scores, sens = self.sensitivity(criterion)
            spared = spared_layers(scores, a.k)
            shares = [0.0 if i in spared else 1.0 for i in range(len(widths))]
            record = {"rule": "spare", "k": a.k, "spared_layers": spared, "sensitivity": sens}
        out = allocation.kept_widths(widths, kept, shares)
        record["kept_widths"] = out
        return out, record
