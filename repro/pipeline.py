"""`python -m repro pipeline`: every stage of the paper in order, resumable per cell.

    python -m repro pipeline --profile paper --out /results        # nox -s full (GPU host)
    python -m repro pipeline --profile paper --shard 2/4            # machine 2 of 4
    python -m repro pipeline --profile paper --stages aggregate tables   # after every shard
    python -m repro pipeline --profile smoke                         # nox -s smoke (CPU, offline)

The stage list, its order, which stages form the sharded GPU grid, and the profiles are data
(repro/config/pipeline.yaml); this module only expands them into commands. Each stage runs as
`python -m repro <stage> ...` in its own process (memory is returned between stages, and no
stage module is imported here). Wall seconds per stage, and its CPU seconds (`cpu_s`), go to <out>/timings.json.

A grid stage exits 3 when cells of its shard are still missing (held by another runner that did
not finish, say); the pipeline stops there with one line. Before aggregating the grid stages it
did not run itself (after every shard: `--stages aggregate tables`), it asks each of them
(`--check`) whether its whole grid is there, and says in one line what is missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from repro.config import models
from repro.config.efficiency import load_config as efficiency_config
from repro.config.evaluation import SETTINGS
from repro.config.neuron_selection import neuron_selection
from repro.config.pipeline import Pipeline, Profile, pipeline
from repro.core import options, rehearsal
from repro.core.atomicio import check_destination, write_text
from repro.core.errors import ReproError, Terminated
from repro.ops import estimate

log = logging.getLogger("repro.pipeline")


def configure(p: argparse.ArgumentParser) -> None:
    cfg = pipeline()
    p.add_argument("--profile", choices=list(cfg.profiles), default="paper",
                   help="what to run (repro/config/pipeline.yaml; default: paper)")
    options.add_models(p, "the profile's")
    p.add_argument("--stages", nargs="+", choices=list(cfg.stages),
                   help="a subset of the profile's stages, run in the pipeline's order")
    options.add_levels(p, "every level of each model")
    options.add_shard(p)
    p.add_argument("--setting", choices=SETTINGS, default="paper",
                   help="the lm-eval stages' setting: paper (batch 1, what the paper's code ran; "
                        "default) or fast (batched: repro/config/evaluation.yaml `fast:`; cells of "
                        "their own, labelled in every table and in the claims report)")
    p.add_argument("--skip-preflight", action="store_true", help="for a rerun on a checked host")
    p.add_argument("--out", type=Path, help="results/, data/ and generated/ go here "
                   "(default: $REPRO_OUT, else the profile's, e.g. build/full)")
    p.add_argument("--published", type=Path, default=Path("data/published"),
                   help="the published figures, copied beside the run's data for tables and claims")
    p.add_argument("--threads", type=options.positive_int,
                   help="torch CPU threads per stage (default: the profile's)")
    estimate.add_options(p)  # --dry-run, --gpu, --selftest: the run's cost before it starts


def plan(cfg: Pipeline, profile: Profile, *, stages: list[str] | None, shard: str | None,
         skip_preflight: bool) -> tuple[list[str], list[str]]:
    """(stages to run now, stages left for after every shard), in the pipeline's order."""
    chosen = set(stages or profile.stages)
    if stages and not skip_preflight:  # a guard of the profile guards a chosen subset too
        chosen |= {s for s in profile.stages if cfg.stages[s].guard}
    order = [s for s in cfg.stages if s in chosen]
    later = []
    if shard and options.parse_shard(shard)[1] > 1:
        later = [s for s in order if not (cfg.stages[s].sharded or cfg.stages[s].guard)]
        order = [s for s in order if s not in later]
    heavy = any(cfg.stages[s].heavy for s in order)
    order = [s for s in order if not cfg.stages[s].guard or (heavy and not skip_preflight)]
    return order, later


def selection_models(profile: Profile, models_: list[str]) -> list[str]:
    """Neuron selection's models (the profile's, else the stage's own), among those selected."""
    chosen = profile.selection_models or neuron_selection().models
    return [m for m in chosen if m in models_]


def command(cfg: Pipeline, profile: Profile, stage: str, values: dict[str, list[str]],
            *, levels: list[float] | None, shard: str | None, setting: str = "paper") -> list[str]:
    """`python -m repro <stage> ...` with the stage's argument template filled in."""
    spec = cfg.stages[stage]
    argv = []
    for arg in spec.args:
        key = arg[1:-1] if arg.startswith("{") and arg.endswith("}") else None
        if key in ("models", "selection_models", "efficiency_models"):
            argv += values[key]
        else:
            argv.append(arg.format(**{k: v[0] for k, v in values.items() if len(v) == 1}))
    if spec.levels and levels:
        argv += ["--levels", *(f"{x:g}" for x in levels)]
    if spec.sharded and shard:
        argv += ["--shard", shard]
    if spec.setting and setting != "paper":
        argv += ["--setting", setting]
    return [sys.executable, "-m", "repro", stage, *argv, *profile.extra.get(stage, ())]


def _die_with(parent: int):
    """Linux: the stage gets SIGTERM when the pipeline dies, even by kill -9, so a rerun never
    runs beside an orphaned stage (prctl PR_SET_PDEATHSIG); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return None

    def arm() -> None:
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the pipeline died before the request was made
            os._exit(1)

    return arm


STOP_GRACE_S = 20.0  # what a stopped stage gets to release its claims (docker stop waits 10 s)


def run_stage(argv: list[str], env: dict) -> int:
    """Run one stage and return its exit status. A stop of the pipeline is passed on and waited
    for, so the stage releases its claims and says what it kept: SIGTERM is forwarded (Ctrl-C
    already reached it through the terminal's process group); subprocess.run would SIGKILL it."""
    child = subprocess.Popen(argv, env=env, preexec_fn=_die_with(os.getpid()))
    try:
        return child.wait()
    except KeyboardInterrupt as exc:
        if isinstance(exc, Terminated) and child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


INCOMPLETE = 3  # a grid stage's exit status when cells of its shard are missing (IncompleteGrid)


def check_grid(cfg: Pipeline, profile: Profile, stages: list[str], values: dict[str, list[str]],
               *, levels: list[float] | None, env: dict, setting: str = "paper") -> None:
    """Ask each sharded stage of `stages` whether its whole grid is there (`--check`); one
    line naming what is missing before the aggregate goes on with what there is."""
    missing = []
    for stage in stages:
        if not cfg.stages[stage].sharded or (stage == "neuron-selection" and not values["selection_models"]) \
                or (stage == "efficiency" and not values["efficiency_models"]):
            continue  # a stage the run skips has no grid to ask about
        argv = [*command(cfg, profile, stage, values, levels=levels, shard=None, setting=setting), "--check", "-q"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        if done.returncode == INCOMPLETE:
            missing.append(done.stderr.strip().splitlines()[-1].removeprefix("error: "))
        elif done.returncode != 0:
            missing.append(f"{stage}: its grid could not be checked (exit {done.returncode})")
    if missing:
        print(f"== pipeline: aggregating an INCOMPLETE grid: {'; '.join(missing)}", flush=True)


def run(args: argparse.Namespace) -> int:
    cfg = pipeline()
    profile = cfg.profiles[args.profile]
    models_ = list(args.models or (models.paper_models() if profile.models == "paper"
                                   else profile.models))
    for m in models_:
        models.get(m)  # an unknown model fails here, before any stage starts
    out = (args.out or Path(os.environ.get("REPRO_OUT") or profile.out)).absolute()
    check_destination(out, "--out")  # before any stage starts
    values = {"models": models_, "selection_models": selection_models(profile, models_),
              "efficiency_models": efficiency_config().profiled(models_, profile.efficiency_models),
              "out": [str(out)], "results": [str(out / "results")], "data": [str(out / "data")],
              "generated": [str(out / "generated")], "run_id": [profile.run_id]}
    order, later = plan(cfg, profile, stages=args.stages, shard=args.shard,
                        skip_preflight=args.skip_preflight)
    env = {**os.environ, **{k: v for k, v in profile.env.items() if k not in os.environ}}
    threads = args.threads or profile.threads
    levels = args.levels or profile.levels  # the smoke profile's are its own (pipeline.yaml)
    if profile.run_id == rehearsal.MARK and not rehearsal.active():
        raise ReproError(f"profile {args.profile} runs tiny stand-ins in their sandbox: use "
                         "`python -m repro rehearsal` (with --dry-run for its estimate)")
    if args.dry_run:  # the stages' commands and the run's estimated cost (repro/ops/estimate.py)
        for stage in order:
            argv = command(cfg, profile, stage, values, levels=levels, shard=args.shard,
                           setting=args.setting)
            print(f"== pipeline: {stage}: repro {' '.join(argv[3:])}")
        return estimate.dry_run(args, cfg, profile, order, values, levels, threads)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds per stage (user + system): what other jobs don't stretch
    t_all = time.monotonic()
    for stage in order:
        if stage == "neuron-selection" and not values["selection_models"]:
            log.info("neuron-selection: skipped (it runs on %s, none selected)",
                     ", ".join(neuron_selection().models))
            continue
        if stage == "efficiency" and not values["efficiency_models"]:
            log.info("efficiency: skipped (it profiles %s, none selected)",
                     ", ".join(efficiency_config().models))
            continue
        argv = command(cfg, profile, stage, values, levels=levels, shard=args.shard,
                           setting=args.setting)
        print(f"== pipeline: {stage}: repro {' '.join(argv[3:])}", flush=True)
        t0 = time.monotonic()
        if cfg.stages[stage].copies_published:  # aggregate: is every grid stage's grid there?
            check_grid(cfg, profile, [s for s in profile.stages if s not in order], values,
                       levels=levels, env=env, setting=args.setting)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        rc = run_stage(argv, env)
        timings[stage] = round(time.monotonic() - t0, 1)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[stage] = round(ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime, 1)
        if rc == INCOMPLETE:
            raise ReproError(f"stage '{stage}' left cells of its grid missing (see its line above); "
                             "nothing after it was run: rerun the pipeline to finish them")
        if rc != 0:
            raise ReproError(f"stage '{stage}' failed (exit {rc}); see its messages above, "
                             f"then rerun: finished cells are kept")
        if cfg.stages[stage].copies_published and args.published.is_dir():
            shutil.copytree(args.published, out / "data" / "published", dirs_exist_ok=True)
    timings["total"] = round(time.monotonic() - t_all, 1)
    write_text(out / "timings.json", json.dumps({**timings, "torch_threads": threads, "cpu_s": cpu}, indent=1) + "\n")
    print("== pipeline: wall time per stage (s)")
    for k, v in timings.items():
        print(f"   {k:<40} {v}")
    if later:
        print(f"== pipeline: shard {args.shard}: {', '.join(later)} wait for every shard: then run "
              f"python -m repro pipeline --profile {args.profile} --stages {' '.join(later)} "
              f"--out {out}" + ("" if args.setting == "paper" else f" --setting {args.setting}"))
    print(f"== pipeline: results, data and regenerated tables are in {out}")
    return 0
