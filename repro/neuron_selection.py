"""Stage 00, neuron selection: which criterion keeps the model best at 10% pruning.

    python -m repro neuron-selection                                  # Llama-3.2-1B, bfloat16
    python -m repro neuron-selection --dtype float16                  # the paper's setting
    python -m repro neuron-selection --models smollm2-135m-instruct   # the CPU smoke model

Criteria: the paper's maw, vow, pon, plus random (a floor) and activation (calibration-based,
see repro/criteria.py), each at 10%, and the unpruned baseline (level 0, recorded as maw).
Tasks: the `neuron_selection` suite (wikitext, lambada_openai, boolq, piqa; 0-shot); the smoke
model uses `smoke_neuron_selection`.

dtype: the paper ran this stage in float16, in which WikiText perplexity overflowed to inf in a
rerun; its main runs used bfloat16. Default here: the model's dtype from models.yaml (bfloat16
for Llama); `--dtype float16` is the paper-compatible mode. The dtype is the cell's variant in
the tidy data (fp16, bf16, fp32), so runs in several dtypes sit side by side.
Calibration text for 'activation': --calibration FILE, else docstrings of Python standard-library
modules (ships with Python, offline; repro.tasks.CALIBRATION_MODULES), hashed into the record.
Cells are those of `repro evaluate` (same runner, resumable, shardable) under stage
neuron_selection; a summary table per model is printed and written beside the cells.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from repro import cells as cellio
from repro import models, suites
from repro.errors import ReproError
from repro.evaluate import ModelPlan, add_grid_arguments, execute

CRITERIA = ["maw", "vow", "pon", "random", "activation"]
LEVELS = [0.0, 10.0]
DTYPE_TAG = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}
DEFAULT_MODELS = ["llama-3.2-1b"]


def configure(p: argparse.ArgumentParser) -> None:
    add_grid_arguments(p, criteria_default=CRITERIA)
    p.add_argument("--dtype", choices=sorted(DTYPE_TAG),
                   help="default: the model's (bfloat16 for Llama); float16 = the paper's setting")


def make_plans(args: argparse.Namespace) -> list[ModelPlan]:
    from repro import criteria

    crits = [criteria.canonical(c) for c in args.criteria]
    plans = []
    for name in args.models or DEFAULT_MODELS:
        spec = models.get(name)
        suite = args.suite or ("smoke_neuron_selection" if spec.suite == "smoke" else "neuron_selection")
        tasks = suites.resolve(suite, args.tasks)
        levels = [float(x) for x in args.levels] if args.levels else LEVELS
        for lv in levels:
            if not 0 <= lv < 100:
                raise ReproError(f"level {lv:g} is outside [0, 100)")
        dtype = args.dtype or spec.dtype
        plans.append(ModelPlan(spec, tasks, levels, crits, [DTYPE_TAG[dtype]],
                               stage="neuron_selection", dtype=dtype))
    for p in plans:
        models.check_access(p.spec)
    if args.calibration is not None and not args.calibration.is_file():
        raise ReproError(f"--calibration {args.calibration} is not a file; give a UTF-8 text file")
    return plans


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


def run(args: argparse.Namespace) -> int:
    from repro.atomicio import write_text

    cellio.parse_shard(args.shard)
    plans = make_plans(args)
    rc = execute(args, plans)
    if args.dry_run:
        return rc
    for p in plans:
        table = summary(p, args.results)
        write_text(Path(args.results) / p.stage / p.spec.name / f"summary-{p.variants[0]}.md", table)
        print(table)
    return 0
