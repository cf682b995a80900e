"""The per-layer sensitivity scan's cells (`python -m repro sensitivity`), read without torch.

A scan cell is Cell(stage "sensitivity", model, criterion, level, task, variant "layerNN", or
"layerNN-stable" when the cut broke ties with the corrected rule, repro/core/ties.py):
only decoder layer NN's MLP cut to `level` percent by `criterion`, every other layer whole;
level 0 is the unpruned model (criterion maw by the kit's convention), recorded once per layer
so that every layer's series has its baseline. Task "calibration" is the kit's own perplexity
of the calibration text; the other task is an lm-eval (or local) task.

`layer_sensitivity` turns a scan into one number per layer, as the spareK allocation ranks
layers: the geometric mean, over the scanned levels, of the calibration perplexity with that
layer alone cut.
"""

from __future__ import annotations

import math
from pathlib import Path

from repro.core.canonical import sha256_json
from repro.core.errors import ReproError
from repro.core.pruning import PAPER_TIE_BREAK
from repro.core.variant import Variant
from repro.results.cells import scan

STAGE = "sensitivity"
CALIBRATION = "calibration"        # the task name of the kit's own perplexity
METRIC = "perplexity,none"


def layer_variant(layer: int, tie_break: str = PAPER_TIE_BREAK) -> str:
    """'layer07', with the tie-break's token when it is not the paper's ('layer07-stable')."""
    return str(Variant(layer=layer, tie_break=tie_break))


def layer_of(variant: str) -> int | None:
    """The one layer a scan cell's variant cut (None: not a scan cell's variant)."""
    try:
        return Variant.parse(variant).layer
    except ValueError:
        return None


def calibration_perplexity(root: str | Path, model: str, criterion: str,
                           tie_break: str = PAPER_TIE_BREAK) -> dict[float, dict[int, float]]:
    """level -> layer -> calibration perplexity with that layer alone cut (levels > 0)."""
    out: dict[float, dict[int, float]] = {}
    for cell, rec in scan(root, [STAGE]):
        layer = cell.dims.layer
        if (cell.model, cell.criterion, cell.task) != (model, criterion, CALIBRATION) or layer is None \
                or cell.level == 0 or cell.dims.tie_break != tie_break:
            continue
        value = rec["payload"]["results"][CALIBRATION][METRIC]
        out.setdefault(cell.level, {})[layer] = float(value)
    return out


def layer_sensitivity(root: str | Path, model: str, criterion: str, num_layers: int,
                      tie_break: str = PAPER_TIE_BREAK) -> tuple[list[float], dict]:
    """Per layer, the geometric mean over scanned levels of the calibration perplexity with that
    layer alone cut (by `criterion` with `tie_break`); and a record (levels, values, their SHA-256)."""
    by_level = calibration_perplexity(root, model, criterion, tie_break)
    complete = {lv: v for lv, v in by_level.items() if len(v) == num_layers}
    if not complete:
        raise ReproError(f"no complete sensitivity scan of {model} with criterion {criterion} "
                         f"(tie-break {tie_break}) under {root}; run `python -m repro sensitivity "
                         f"--models {model} --criteria {criterion} --results {root}` first")
    levels = sorted(complete)
    scores = [math.exp(sum(math.log(complete[lv][i]) for lv in levels) / len(levels))
              for i in range(num_layers)]
    record = {"criterion": criterion, "tie_break": tie_break, "task": CALIBRATION, "metric": METRIC,
              "levels": levels, "scores": scores}
    record["sha256"] = sha256_json(record, compact=False)
    return scores, record
