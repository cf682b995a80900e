"""What a pipeline run will cost, printed before it starts (`python -m repro pipeline --dry-run`,
and preflight): per stage, cells, lm-eval requests, prompt and generated tokens, and hours on
this host in the paper setting (batch 1, what the paper's code ran) and the fast one (batched).

    python -m repro pipeline --profile paper --dry-run                 # this host
    python -m repro pipeline --profile paper --dry-run --gpu h100      # a GPU it cannot see
    python -m repro pipeline --profile smoke --dry-run --selftest build/selftest/selftest.json
    python -m repro rehearsal --dry-run        # the rehearsal: its stand-ins (rehearsal.yaml)

Rates, first found: --gpu (costs.yaml's table, an estimate); the self-test's measurements on
this host (selftest.json `rates`, when it measured every model the run needs on this device);
a probe of this host in seconds (repro/ops/cost_probe.py, torch); none (light install: counts
only). The work per stage: repro/ops/cost_work.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from repro.config.costs import costs
from repro.config.efficiency import load_config as efficiency_config
from repro.config.evaluation import SETTINGS
from repro.config.rehearsal import rehearsal_config
from repro.core import rehearsal
from repro.ops import cost_work
from repro.ops.cost_rates import Rates, table_rates
from repro.ops.cost_work import Context, StageWork, shape_of

log = logging.getLogger("repro.estimate")
SELFTEST = Path("build/selftest/selftest.json")
SANDBOX = "sandbox"  # the rehearsal's setup: tiny models trained, stand-in datasets written


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true",
                   help="print the stages, their commands and the run's estimated cost; run nothing")
    p.add_argument("--gpu", type=gpu, help="estimate for this GPU (costs.yaml's table: h100, a100, "
                                           "l4, ...) instead of this host")
    p.add_argument("--selftest", type=Path, default=SELFTEST,
                   help="the self-test's figures for this host's rates (default: %(default)s)")
    p.add_argument("--estimate-json", type=Path, help="with --dry-run: also write the estimate here")


def gpu(text: str) -> str:
    """argparse type: a GPU of costs.yaml's table (its key, or a name its `match` knows)."""
    found = costs().device_for(text.strip()) if text.strip() else None
    if found is None:
        raise argparse.ArgumentTypeError(f"'{text}' is not in repro/config/costs.yaml's table of "
                                         f"GPUs ({', '.join(costs().devices)})")
    return found[0]


def extra_args(argv) -> dict:
    """The stage arguments the estimate reads from a profile's `extra` (pipeline.yaml)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--calibration-samples", type=int)
    p.add_argument("--perplexity-windows", type=int)
    p.add_argument("--limit", type=int)
    p.add_argument("--levels", type=float, nargs="+")
    p.add_argument("--profile")
    p.add_argument("--widths", nargs="+")
    p.add_argument("--tasks", nargs="+")
    p.add_argument("--criteria", nargs="+")
    p.add_argument("--workloads", nargs="+")
    p.add_argument("--protocols", nargs="+")
    known, _ = p.parse_known_args(list(argv))
    return {k: v for k, v in vars(known).items() if v is not None}


@dataclass
class StageCost:
    work: dict[str, StageWork]                 # per setting
    hours: dict[str, float | None] = field(default_factory=dict)


def price(work: StageWork, rates: Rates, eff) -> float:
    """Seconds of one stage's work at these rates."""
    t = work.starts * rates.stage_start_s + work.sleep_s + work.fixed_s * rates.host_factor
    t += sum(shape_of(m).weight_bytes() / 1e9 * rates.load_s_per_gb for m in work.loads)
    t += work.lm_eval_cells * rates.cell_s + work.lm_eval_requests * rates.request_ms / 1e3
    t += work.built_tokens * rates.build_us_per_token / 1e6
    h = costs().host
    t += (work.subtasks * h.subtask_s + work.written * h.kit_cell_s + work.written_gb * h.kit_cell_s_per_gb
          + work.ranked_gb * h.rank_s_per_gb) * rates.host_factor
    busy = 0.0
    for j in work.jobs:
        shape = shape_of(j.model)
        if j.kind == "forward":
            busy += j.count * rates.forward_s(shape, j.level, j.batch, j.tokens)
        elif j.kind == "decode":
            busy += j.count * rates.decode_s(shape, j.level, j.batch)
        elif j.kind == "request":
            busy += request_s(j, shape, rates, eff)
    if work.stage == "efficiency" and rates.device == "cuda" and work.cells:
        idle = eff.idle  # drift checks: one per recheck_every_s of measuring
        busy += math.floor(busy / idle.recheck_every_s) * (idle.settle_seconds + idle.check_seconds)
    return t + busy


def request_s(j, shape, rates: Rates, eff) -> float:
    """A corrected-protocol workload: warm-ups, adaptive repetitions, energy blocks (GPU)."""
    one = rates.forward_s(shape, j.level, j.batch, j.tokens) + (j.new - 1) * rates.decode_s(
        shape, j.level, j.batch)
    r = eff.corrected.repetitions
    n = max(r.min, math.ceil(r.min_seconds / one) if one else r.min)
    n = min(n, r.max, max(r.min, math.ceil(r.max_seconds / one) if one else r.min))
    energy = r.min * max(eff.energy.min_window_s, one) if j.metered else 0.0
    return (j.warmups + n) * one + energy


def context(profile, values: dict, levels, device: str, stages) -> Context:
    return Context(models=tuple(values["models"]), selection_models=tuple(values["selection_models"]),
                   efficiency_models=tuple(values["efficiency_models"]),
                   levels=tuple(levels) if levels else None,
                   extra={s: extra_args(a) for s, a in profile.extra.items()}, device=device,
                   stages=tuple(stages))


def host_rates(args, ctx_models: list[str], dtypes: dict[str, str], threads) -> Rates | None:
    """This host's rates: the self-test's if they cover the run, else a probe, else None."""
    if args.gpu:
        return table_rates(args.gpu)
    try:
        import torch
    except ImportError:
        return None
    from repro.ops.cost_probe import clock_for, measure, model_rate, shape_key

    device = "cuda" if torch.cuda.is_available() else "cpu"
    where = "cuda:0" if device == "cuda" else "cpu"
    rec = json.loads(args.selftest.read_text()).get("rates") if args.selftest.is_file() else None
    if rec and rec["device"] == device and (device == "cuda" or rec.get("threads") == threads):
        rates = Rates.from_record({**rec, "source": f"{args.selftest} ({rec['source']})"})
        for m in (m for m in ctx_models if m not in rates.models):  # measure what it lacks
            twin = next((k for k in rates.models if shape_key(k, dtypes.get(k)) == shape_key(m, dtypes[m])),
                        None)  # ... unless it has a model of the same shape
            rates.models[m] = rates.models[twin] if twin else model_rate(m, dtypes[m], where,
                                                                         clock_for(device, threads))
        return rates
    print(f"== estimate: measuring this host's rates ({device}; no selftest.json for it)", flush=True)
    return measure(ctx_models, device=where, threads=threads, dtypes=dtypes)


def estimate(stages: list[str], ctx: Context, rates: Rates | None) -> dict[str, StageCost]:
    out = {}
    eff = efficiency_config(profile=ctx.extra.get("efficiency", {}).get("profile"))
    for stage in stages:
        work = {}
        for name in SETTINGS:
            setting = costs().settings[name]
            fn = cost_work.WORK.get(stage)
            work[name] = fn(ctx, setting) if fn else light_stage(stage, ctx)
        sc = StageCost(work)
        for name, w in work.items():
            sc.hours[name] = None if rates is None else price(w, rates, eff) / 3600
        out[stage] = sc
    return out


def light_stage(stage: str, ctx: Context) -> StageWork:
    """Stages without model work: a process and the fixed work costs.yaml states for them (the
    rehearsal's sandbox: rehearsal.yaml)."""
    w = StageWork(stage, starts=0)
    w.fixed_s = costs().host.light_stage_s.get(stage, costs().host.light_stage_s["default"])
    if stage == SANDBOX:
        w.fixed_s = rehearsal_config().setup_s
    if stage == "tables":  # tables and figures grow with the models the run reproduces
        w.fixed_s *= max(1, len(ctx.models))
    if stage == "prepare" and not _cached(ctx.models):
        w.fixed_s += costs().host.download_s
    return w


def _cached(names) -> bool:
    from repro.core.cache import cache_root

    return all((cache_root() / "smollm2").is_dir() for n in names if n.startswith("smollm2"))


def corrected_only(got: dict[str, StageCost], ctx: Context, rates: Rates | None) -> float | None:
    """Hours of the fast setting's run with the efficiency stage's corrected protocol only, when
    the run has that stage with both protocols (None otherwise)."""
    if rates is None or "efficiency" not in got:
        return None
    extra = ctx.extra.get("efficiency", {})
    if extra.get("protocols") or not got["efficiency"].work["fast"].cells:
        return None
    lean = Context(**{**ctx.__dict__,
                      "extra": {**ctx.extra, "efficiency": {**extra, "protocols": ["corrected"]}}})
    w = cost_work.efficiency_work(lean, costs().settings["fast"])
    eff = efficiency_config(profile=extra.get("profile"))
    total = sum(c.hours["fast"] for s, c in got.items() if s != "efficiency")
    return total + price(w, rates, eff) / 3600


def render(costs_by_stage: dict[str, StageCost], rates: Rates | None, runs: str) -> str:
    head = (f"{'stage':<17}{'cells':>7}{'requests':>11}{'prompt tok':>12}{'generated':>11}"
            f"{'paper':>10}{'fast':>9}")
    lines = ["== estimate: what this run computes and how long it takes", head]

    def h(x):  # hours, shown in minutes below one
        return "?" if x is None else (f"{x * 60:.1f} min" if x < 1 else f"{x:.1f} h")

    tot = {s: 0.0 for s in SETTINGS}
    for stage, sc in costs_by_stage.items():
        w = sc.work["paper"]
        lines.append(f"{stage:<17}{w.cells:>7}{w.requests:>11.0f}{w.prompt_tokens:>12.3g}"
                     f"{w.generated_tokens:>11.3g}{h(sc.hours['paper']):>10}{h(sc.hours['fast']):>9}")
        for s in SETTINGS:
            tot[s] = None if tot[s] is None or sc.hours[s] is None else tot[s] + sc.hours[s]
    lines.append(f"{'total':<61}{h(tot['paper']):>10}{h(tot['fast']):>9}")
    b = costs().settings
    lines.append(f"   paper: {b['paper'].describe()} (the paper's effective setting); fast "
                 f"(--setting fast, cells of their own): {b['fast'].describe()}; this run uses the "
                 f"{runs} setting")
    if rates is None:
        lines.append("   hours: unknown (no torch to measure this host; run `nox -s selftest`, "
                     "or pass --gpu NAME for a table estimate)")
    else:
        lines.append(f"   rates: {rates.source}" + (" -- ESTIMATE, not measured" if rates.estimate else ""))
        if rates.contention > 1.2 and tot["fast"] is not None:
            lines.append(f"   this host is busy: a process gets 1/{rates.contention:.1f} of a core now; "
                         f"at this load the {runs} setting takes about "
                         f"{h(tot[runs] * rates.contention)} (the figures above: an idle host)")
    return "\n".join(lines)


def dry_run(args, pipe, profile, order: list[str], values: dict, levels, threads) -> int:
    """The pipeline's --dry-run: its stages and commands, then the estimate."""
    models_ = values["models"]
    need = sorted({*models_, *values["selection_models"], *values["efficiency_models"]})
    dtypes = {m: shape_of(m).dtype for m in need}
    rates = host_rates(args, need, dtypes, threads)
    device = rates.device if rates else "cuda"
    ctx = context(profile, values, levels, device, order)
    if rehearsal.active():  # `python -m repro rehearsal` builds its sandbox first
        order = [SANDBOX, *order]
    got, runs = estimate(order, ctx, rates), getattr(args, "setting", "paper")
    print(render(got, rates, runs))
    lean = corrected_only(got, ctx, rates)
    if lean is not None:
        print(f"   the fast setting with the efficiency stage's corrected protocol only (repro "
              f"efficiency --protocols corrected: the paper protocol's workloads left out): "
              f"{lean:.1f} h")
    if args.estimate_json:
        from repro.core.atomicio import write_text

        rec = {"runs": runs, "rates": None if rates is None else rates.record(),
               "fast_corrected_only_s": None if lean is None else lean * 3600,
               "contention": 1.0 if rates is None else rates.contention,
               "stages": {s: {"cells": c.work["paper"].cells, "requests": c.work["paper"].requests,
                              "prompt_tokens": c.work["paper"].prompt_tokens,
                              "generated_tokens": c.work["paper"].generated_tokens,
                              "seconds": {k: None if v is None else v * 3600
                                          for k, v in c.hours.items()}}
                          for s, c in got.items()}}
        write_text(args.estimate_json, json.dumps(rec, indent=1) + "\n")
    return 0


def for_preflight(args, models_: list[str]) -> None:
    """Preflight's closing lines: the paper profile's estimate for the checked models on this
    host (the stages `nox -s full` runs; the same figures as `pipeline --dry-run`)."""
    from repro.config.neuron_selection import neuron_selection
    from repro.config.pipeline import pipeline

    cfg = pipeline()
    profile = cfg.profiles["paper"]
    order = [s for s in cfg.stages if s in profile.stages and not cfg.stages[s].guard]
    values = {"models": models_,
              "selection_models": [m for m in neuron_selection().models if m in models_],
              "efficiency_models": efficiency_config().profiled(models_, profile.efficiency_models)}
    dry_run(args, cfg, profile, order, values, None, profile.threads)
