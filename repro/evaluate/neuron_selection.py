"""Stage 00, neuron selection: which criterion keeps the model best at 10% pruning.

    python -m repro neuron-selection                                  # Llama-3.2-1B, float16 (the paper's)
    python -m repro neuron-selection --dtype bfloat16                 # the main runs' dtype
    python -m repro neuron-selection --models smollm2-135m-instruct   # the CPU smoke model

Defaults from repro/config/neuron_selection.yaml: the paper's maw, vow, pon, plus random (a
floor), activation (calibration-based, see repro/prune/criteria.py) and optipfair's later l2 and
hybrid (repro/prune/hybrid.py), each at 10%, and the
unpruned baseline (level 0, recorded as maw); the `neuron_selection` suite (wikitext,
lambada_openai, boolq, piqa; 0-shot), or the model's own `selection_suite` (models.yaml).

dtype: the paper ran this stage in float16 (notebook 00), its main runs in bfloat16; in float16
WikiText perplexity overflowed to inf in a later rerun. Default here: the model's
`selection_dtype` from models.yaml (float16 for the Llama models: the paper's), else its dtype;
`--dtype bfloat16` runs it as the main runs. The dtype is the cell's variant in the tidy data
(fp16, bf16, fp32), so runs in several dtypes sit side by side.
Calibration text for 'activation' and 'hybrid': --calibration FILE, else docstrings of Python standard-library
modules (ships with Python, offline; repro/evaluate/tasks/text.py), hashed into the record.
Cells are those of `repro evaluate` (same lm-eval stage on the grid executor, resumable,
shardable) under stage neuron_selection; a summary table per model is printed and written beside
the cells. `neuron_selection` is the stage as a Python function.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from repro.config.neuron_selection import neuron_selection as config
from repro.core.dtypes import TAGS
from repro.core.variant import Variant
from repro.evaluate.cli import add_run_options, lm_options
from repro.evaluate.plan import DEFAULT_LM, LmEvalOptions, ModelPlan, make_plans
from repro.grid.executor import GridReport
from repro.grid.options import DEFAULT, GridOptions
from repro.results import cells as cellio


def configure(p: argparse.ArgumentParser) -> None:
    ns = config()
    add_run_options(p, models_help=" ".join(ns.models),
                    levels_help=" ".join(f"{x:g}" for x in ns.levels), criteria=list(ns.criteria))


def run(args: argparse.Namespace) -> int:
    from repro.grid.options import from_cli

    neuron_selection(from_cli(args), lm_options(args))
    return 0


def neuron_selection(grid: GridOptions = DEFAULT, lm: LmEvalOptions = DEFAULT_LM) -> GridReport:
    """Each criterion at 10% beside the unpruned model, per model; a summary table per model.

    grid: models, levels and criteria default to repro/config/neuron_selection.yaml's; the dtype
    (default: each model's `selection_dtype`, else its dtype) names the cells' variant (fp16,
    bf16, fp32); lm: the lm-eval options (the suite: the model's `selection_suite`, else the
    stage's).
    """
    from repro.core.atomicio import write_text
    from repro.evaluate.stage import run_lm_eval

    ns = config()
    plans = make_plans(grid, lm, stage="neuron_selection", default_models=list(ns.models),
                       criteria=grid.criteria or ns.criteria,
                       suite_of=lambda spec: spec.selection_suite or ns.suite,
                       levels_of=lambda spec: list(grid.levels or ns.levels),
                       variants_of=lambda spec, dtype: [Variant(dtype=TAGS[dtype])],
                       dtype_of=lambda spec: spec.selection_dtype or spec.dtype)
    report = run_lm_eval(plans, grid, lm)
    if not grid.dry_run:
        for p in plans:
            table = summary(p, grid.results)
            write_text(Path(grid.results) / p.stage / p.spec.name / f"summary-{p.variants[0]}.md", table)
            print(table)
    return report


def summary(plan: ModelPlan, root: Path) -> str:
    """A Markdown table: one row per criterion (baseline first), one column per task metric."""
    cols = [(t.name, t.metrics[0]) for t in plan.tasks]
    head = "| criterion | level | " + " | ".join(f"{t} {m.split(',')[0]}" for t, m in cols) + " |"
    lines = [f"Neuron selection, {plan.spec.name}, {plan.dtype} (variant {plan.variants[0]})", "",
             head, "|" + "---|" * (len(cols) + 2)]
    rows = [("maw", 0.0, "baseline")] + [(c, lv, c) for lv in plan.levels if lv for c in plan.criteria]
    for crit, lv, label in rows:
        vals = []
        for task, key in cols:
            rec = cellio.read(root, cellio.Cell(plan.stage, plan.spec.name, crit, lv, task,
                                                plan.variants[0]))
            v = (rec or {}).get("payload", {}).get("results", {}).get(task, {}).get(key)
            vals.append("not run" if v is None else f"{v:.4g}")
        lines.append(f"| {label} | {lv:g} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"
