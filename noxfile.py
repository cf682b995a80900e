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
