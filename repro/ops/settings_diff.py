"""`python -m repro settings-diff`: what choosing the fast setting changes, per task, in numbers.

    python -m repro settings-diff --models llama-3.2-1b --limit 20           # the paper's tasks
    python -m repro settings-diff --models llama-3.2-1b --tasks gsm8k ifeval --levels 0 40

The same cells in the paper setting (batch 1, what the paper's code ran) and in the fast one
(batched: repro/config/evaluation.yaml `fast:`), on the first --limit documents of each task,
then compared request by request: the change of each metric suites.yaml keeps (fast - paper),
the largest loglikelihood difference (nats) and how many fell outside selftest.yaml's tolerance
for the dtype, and how many greedy generations differ. Nothing is judged: the fast setting is
allowed to differ; a reviewer reads by how much before choosing it (README "Evaluation
settings"). The self-test runs it on a GPU (`repro selftest`); the cells stay under --out and
resume like any grid's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from repro.core import options
from repro.core.atomicio import check_destination, write_text

OUT = Path("build/settings-diff")


def configure(p: argparse.ArgumentParser) -> None:
    options.add_models(p, "llama-3.2-1b")
    options.add_levels(p, "0")
    options.add_device(p)
    options.add_dtype(p)
    p.add_argument("--suite", help="suite from suites.yaml (default: each model's own)")
    p.add_argument("--tasks", nargs="+", help="only these tasks of the suite")
    p.add_argument("--limit", type=options.positive_int, default=20,
                   help="documents per task (per subtask of a group such as mmlu); default 20")
    p.add_argument("--out", type=Path, default=OUT, help="cells and settings-diff.json (default: %(default)s)")


def diff(models: list[str], levels: list[float], *, limit: int, out: Path, device: str = "auto",
         dtype: str | None = None, suite: str | None = None, tasks: list[str] | None = None) -> dict:
    """Run both settings' cells under out/results and compare them (the record written to
    out/settings-diff.json)."""
    from repro.config import models as model_specs
    from repro.config import suites
    from repro.config.evaluation import SETTINGS, evaluation
    from repro.config.selftest import selftest
    from repro.evaluate.plan import LmEvalOptions
    from repro.evaluate.stage import evaluate
    from repro.grid.options import GridOptions
    from repro.ops import selftest_compare as compare

    results = out / "results"
    for setting in SETTINGS:
        grid = GridOptions(models=models, levels=levels, device=device, dtype=dtype, results=results)
        evaluate(grid, LmEvalOptions(suite=suite, tasks=tasks, limit=limit, bootstrap_iters=0,
                                     setting=setting))
    rec: dict = {"limit": limit, "fast": evaluation().fast.record(), "models": {}}
    for name in models:
        spec = model_specs.get(name)
        used = dtype or spec.dtype
        tol = selftest().tolerance[used]
        rec["models"][spec.name] = per_level = {"dtype": used, "atol": tol.atol, "rtol": tol.rtol,
                                                "levels": {}}
        for level in levels:
            per_level["levels"][f"{level:g}"] = {
                t.name: compare.settings(results, results, spec.name, level, t.name, tol)
                for t in suites.resolve(suite or spec.suite, tasks)}
    return rec


def table(rec: dict) -> str:
    f = rec["fast"]
    lines = [f"== settings-diff: fast (loglikelihood batches within {f['token_budget']} tokens, at "
             f"most {f['max_batch_size']}; generation batches within {f['generate_kv_budget_mib']} "
             f"MiB of KV cache, at most {f['generate_batch_size']}) minus paper (batch 1), first "
             f"{rec['limit']} documents per task"]
    for model, m in rec["models"].items():
        for level, tasks in m["levels"].items():
            lines.append(f"{model} at {level}% ({m['dtype']}; tolerance |d| <= {m['atol']:g} + "
                         f"{m['rtol']:g}|x| nats)")
            for task, c in tasks.items():
                if c["kind"] == "generation":
                    what = f"{c['outputs_differing']}/{c['requests']} generations differ"
                else:
                    what = (f"{c['requests']} loglikelihoods, max |d| {c['max_abs_diff']:.2e} nats, "
                            f"{c['outside_tolerance']} outside tolerance")
                lines.append(f"  {task:<18} {what}; metric change {c['metric_diff']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    out = args.out.absolute()
    check_destination(out, "--out")
    levels = list(args.levels or [0.0])
    rec = diff(list(args.models or ["llama-3.2-1b"]), levels, limit=args.limit, out=out,
               device=args.device, dtype=args.dtype, suite=args.suite, tasks=args.tasks)
    write_text(out / "settings-diff.json", json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(table(rec), flush=True)
    return 0
