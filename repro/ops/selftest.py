"""`python -m repro selftest` (`nox -s selftest`): every GPU code path of the kit at small scale,
in minutes, before a 10-15 hour run.

    python -m repro selftest                        # CUDA when visible, else the CPU
    docker run --gpus all --rm repro nox -s selftest

Steps, in order (what each checks and measures: selftest_steps.py; sizes: config/selftest.yaml):
  host        torch, its CUDA build, the GPU, its driver against preflight's minimum, a bf16 matmul
  prune       the smoke model scored and cut on the device with the paper's rule (topk)
  evaluate    the evaluate stage (lm-eval through the kit's runner) on the local tasks, in the
              fast setting (batched: evaluation.yaml `fast:`)
  batch       the prune level's cells in the paper setting (batch 1), request by request against
              the fast one: loglikelihoods within the stated tolerance, the metric's change and
              the generations that differ reported (what choosing the fast setting costs)
  paper_tasks on CUDA, the same comparison on the paper's own tasks for Llama-3.2-1B, a few
              documents each (`repro settings-diff`), when its weights and data are cached
  efficiency  the corrected protocol with NVML energy on random weights of Llama-3.2-1B's shape
  report      aggregate and tables over those cells, the published figures beside them
  rates       this host's rates for the run-time estimate (`pipeline --dry-run`: selftest_rates.py)
The stages run as `python -m repro <stage>` in their own processes, as `nox -s full` runs them;
their output goes to <out>/selftest.log. The first failure stops the run with one line; at the
end one summary of the measured figures is printed (and written to <out>/selftest.json).
Without CUDA every step runs on the CPU, smaller, and the output says CUDA was not tested.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
import traceback
from pathlib import Path

import repro
from repro.config.selftest import selftest
from repro.core import options
from repro.core.atomicio import write_text
from repro.core.cache import cache_root
from repro.core.errors import ReproError
from repro.core.options import is_cuda
from repro.core.outdir import check_replaceable
from repro.ops import selftest_paper_tasks, selftest_rates
from repro.ops import selftest_steps as steps

MARKER = "selftest.log"  # written first: a folder holding it is ours to clear


def configure(p: argparse.ArgumentParser) -> None:
    options.add_device(p)
    p.add_argument("--out", type=Path, default=Path("build/selftest"),
                   help="working folder, cleared at the start (default: build/selftest)")
    p.add_argument("--published", type=Path, default=Path("data/published"),
                   help="the published figures the report step puts beside the test's cells")


def _fresh(out: Path) -> None:
    """Start from an empty folder: finished cells would otherwise be skipped, not measured.
    Only a folder an earlier self-test wrote is cleared (its log, selftest.log, is written
    first), never one holding the kit, its cache (the smoke model) or the working folder."""
    keep = [(cache_root(), "the kit's cache"), (Path(repro.__file__).parent, "the kit itself"),
            (Path.cwd(), "the working folder")]
    check_replaceable(out, "--out", marker=MARKER, overwrite=True, keep=keep,
                      stage="selftest", subfolders=True)
    if out.exists() and any(out.iterdir()):
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def run(args: argparse.Namespace) -> int:
    from repro.runtime.device import resolve

    device = resolve(args.device)
    cfg = selftest()
    out = args.out.absolute()
    _fresh(out)
    ctx = steps.Context(device=device, cfg=cfg, scale=cfg.scale(device), out=out,
                        published=args.published)
    write_text(ctx.log, "")
    if not is_cuda(device):
        print(f"selftest: {steps.cuda_absence(args.device)}; every step runs on the CPU: "
              "CUDA is NOT tested", flush=True)
    kit = logging.getLogger("repro")  # in-process steps log to the file, as the stages do
    handlers, kit.handlers = kit.handlers, [logging.FileHandler(ctx.log, encoding="utf-8")]
    try:
        _run_steps(ctx)
    finally:
        kit.handlers[0].close()
        kit.handlers = handlers
    ctx.figures["cuda_tested"] = is_cuda(device)
    write_text(out / "selftest.json", json.dumps(ctx.figures, indent=1, sort_keys=True) + "\n")
    print(summary(ctx.figures), flush=True)
    return 0


def _run_steps(ctx: steps.Context) -> None:
    t_all = time.monotonic()
    for i, (name, step) in enumerate(steps.STEPS, 1):
        print(f"selftest: [{i}/{len(steps.STEPS)}] {name:<11} ", end="", flush=True)
        t0 = time.monotonic()
        try:
            figures = step(ctx)
        except steps.Failed as exc:
            print("FAIL", flush=True)
            raise ReproError(f"selftest failed at '{name}': {exc} (log: {ctx.log})") from None
        except Exception as exc:  # noqa: BLE001 - a kit or host fault: one line, traceback in the log
            with open(ctx.log, "a", encoding="utf-8") as log:
                log.write(traceback.format_exc())
            print("FAIL", flush=True)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ReproError(f"selftest failed at '{name}': {type(exc).__name__}: {first} "
                             f"(traceback: {ctx.log})") from None
        figures["seconds"] = round(time.monotonic() - t0, 1)
        ctx.figures[name] = figures
        print(f"ok ({figures['seconds']} s)", flush=True)
    ctx.figures["total_seconds"] = round(time.monotonic() - t_all, 1)


def _level_rows(eff: dict) -> list[str]:
    rows = []
    for level, figs in eff["levels"].items():
        shown = ", ".join(f"{label} {value:.4g} {unit}" for label, value, unit in figs)
        rows.append(f"    level {level:>2}%: {shown}")
    return rows


def summary(f: dict) -> str:
    """The measured figures, one block per step."""
    h, p, e, b, eff, r = (f[k] for k in ("host", "prune", "evaluate", "batch", "efficiency",
                                         "report"))
    lines = ["", "selftest summary" + ("" if f["cuda_tested"] else "  (CPU only: CUDA NOT TESTED)"),
             f"  host        {h['device_name']}; torch {h['torch']} (CUDA build {h['cuda_build']}); "
             f"driver {h['driver']}",
             f"              bf16 matmul {h['matmul_size']}^2: {h['matmul_tflops']:.2f} TFLOP/s, "
             f"relative error {h['matmul_rel_error']:.1e} against float32",
             f"  prune       {p['model']} ({p['dtype']}) maw at {p['level']:g}%, tie-break "
             f"{p['tie_break']}: kept {p['kept_width']}/{p['width']}; device topk = CPU topk in "
             f"{p['same_as_cpu_topk']}/{p['layers']} layers, = stable rule in "
             f"{p['same_as_stable']}/{p['layers']}; scored and cut in {p['prune_seconds']:.2f} s",
             f"  evaluate    {e['cells']} cells in the fast setting, largest batches "
             + ", ".join(f"{k} {v}" for k, v in sorted(e["largest_batches"].items()))
             + f"; loglikelihood {e['loglikelihood_requests_per_s']:.1f} requests/s "
             f"({e['loglikelihood_task']}, level 0, whole cell)",
             f"  batch       fast vs paper (batch 1) at level {b['level']:g}% ({b['dtype']}, "
             f"tolerance |d| <= {b['atol']:g} + {b['rtol']:g}|x| nats):"]
    for t, c in b["tasks"].items():
        if c["kind"] == "loglikelihood":
            lines.append(f"    {t:<13} {c['requests']} requests, max |d| {c['max_abs_diff']:.2e} "
                         f"nats, all within tolerance; metric d {c['metric_diff']}")
        else:
            lines.append(f"    {t:<13} {c['outputs_differing']}/{c['requests']} generations "
                         f"differ; metric d {c['metric_diff']}")
    if "paper_tasks" in f:
        lines += selftest_paper_tasks.summary_lines(f["paper_tasks"])
    lines += [f"  efficiency  {eff['model']} random weights ({eff['dtype']}), corrected protocol "
              f"(profile {eff['profile']}), "
              f"energy {'measured (NVML)' if eff['energy_measured'] else 'not measured: ' + eff['energy_reason']}",
              *_level_rows(eff),
              f"  report      {r['rows']} tidy rows from {r['cells']} cells; {r['tables']} tables, "
              f"{r['figures']} figures, claims report",
              *([selftest_rates.summary_line(f["rates"])] if "rates" in f else []),
              f"  total       {f['total_seconds']} s"
              + ("" if f["cuda_tested"] else "; CUDA was NOT tested: run on a GPU host for that")]
    return "\n".join(lines)
