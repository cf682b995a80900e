"""`python -m repro rehearsal`: the whole paper profile on a CPU, offline, in minutes.

    python -m repro rehearsal                       # nox -s rehearsal; results under build/rehearsal
    python -m repro rehearsal --models llama-3.2-1b --levels 0 40 --stages evaluate aggregate
    python -m repro rehearsal --dry-run             # its stages and estimated time on this host

Every stage of the paper profile, in order, as `nox -s full` runs it (`repro pipeline`, profile
`rehearsal` in repro/config/pipeline.yaml, which a test holds equal to `paper`), with two
substitutions only: the gated weights are tiny random models under the paper's model names
(models.py) and the data are stand-in documents in each dataset's real schema and splits
(standins.py) behind each of the 13 tasks' real lm-eval configuration. Then every result is
checked (check.py): each task reported each metric suites.yaml keeps, every table, figure and
the claims report's reproduction column filled for every model at every level, every artifact
marked REHEARSAL. Nothing is written outside --out (never into data/reproduction).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from repro.config import models
from repro.config.pipeline import pipeline
from repro.core import options, rehearsal
from repro.core.atomicio import check_destination, write_text
from repro.core.errors import ReproError
from repro.pipeline import _die_with
from repro.rehearsal import check, sandbox

PROFILE = "rehearsal"


def configure(p: argparse.ArgumentParser) -> None:
    options.add_models(p, "the paper's three (models.yaml)")
    options.add_levels(p, "every level of each model")
    p.add_argument("--stages", nargs="+", choices=list(pipeline().stages),
                   help="a subset of the paper profile's stages (default: all of them)")
    p.add_argument("--out", type=Path, default=Path(pipeline().profiles[PROFILE].out),
                   help="everything goes here (default: build/rehearsal)")
    p.add_argument("--published", type=Path, default=sandbox.KIT / "data" / "published",
                   help="the published figures, beside the rehearsal's in tables and claims")
    p.add_argument("--dry-run", action="store_true",
                   help="print the stages and the rehearsal's estimated time on this host (its "
                        "tiny models and stand-in sizes: repro/config/rehearsal.yaml); build nothing")
    p.add_argument("--estimate-json", type=Path, help="with --dry-run: also write the estimate here")


def pipeline_argv(args: argparse.Namespace, names: list[str], out: Path) -> list[str]:
    argv = [sys.executable, "-m", "repro", "pipeline", "--profile", PROFILE, "--out", str(out),
            "--models", *names, "--published", str(args.published.absolute())]
    if args.levels:
        argv += ["--levels", *(f"{x:g}" for x in args.levels)]
    if args.stages:
        argv += ["--stages", *args.stages]
    return argv


def dry_run(args: argparse.Namespace, names: list[str], out: Path) -> int:
    """The pipeline's dry run as a rehearsal (REPRO_REHEARSAL=1): the estimate prices the
    stand-ins and the sandbox's setup; nothing is built or written but --estimate-json."""
    argv = pipeline_argv(args, names, out) + ["--dry-run"]
    if args.estimate_json:
        argv += ["--estimate-json", str(args.estimate_json.absolute())]
    env = {**os.environ, rehearsal.ENV: "1"}
    return subprocess.run(argv, env=env, preexec_fn=_die_with(os.getpid())).returncode


def run(args: argparse.Namespace) -> int:
    names = list(args.models or models.paper_models())
    out = args.out.absolute()
    check_destination(out, "--out")
    if args.dry_run:
        return dry_run(args, names, out)
    t0 = time.monotonic()
    box = out / "sandbox"
    built = sandbox.build(box, names)
    tasks = sandbox.tasks_of(names)
    sandbox.prefetch(box, tasks)
    setup = round(time.monotonic() - t0, 1)
    print(f"== rehearsal: {len(names)} tiny models, {len(built['datasets'])} stand-in datasets, "
          f"{len(tasks)} tasks built by lm-eval ({setup} s)", flush=True)
    rc = subprocess.run(pipeline_argv(args, names, out), env=sandbox.environment(box), cwd=box / "data",
                        preexec_fn=_die_with(os.getpid())).returncode  # never an orphaned run
    if rc != 0:
        raise ReproError(f"rehearsal: the pipeline failed (exit {rc}); see the stage's messages "
                         "above: a real run would have failed the same way")
    report = check.check(out, names, levels=args.levels, stages=args.stages)
    report.update(setup_seconds=setup, seconds=round(time.monotonic() - t0, 1))
    write_text(out / "rehearsal.json", json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(check.summary(report), flush=True)
    return 0
