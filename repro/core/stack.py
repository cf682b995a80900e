"""Whether the paper's lm-eval stack (the `run` extra) can serve the stages that need it.

The light install (`nox -s tables`) has no lm-eval; an environment with transformers 5 has
one that cannot import (lm-eval 0.4.9.1 imports AutoModelForVision2Seq, gone in 5.x). Either
way the stages that run lm-eval (evaluate, neuron-selection, sensitivity, extensions, and the
self-test, which runs evaluate) fail when the command line is read, in a dry run and in
preflight too, in one line that names the fix, instead of a traceback minutes later. Versions
are read from the installed packages' metadata: nothing is imported, so the check costs
milliseconds.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

from repro.core.errors import ReproError

NEEDS_LM_EVAL = ("evaluate", "neuron-selection", "sensitivity", "extensions", "selftest")
FIX = "pip install 'repro[run]' (the paper's pinned stack, in its own environment)"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_stack_problem() -> str | None:
    """What keeps lm-eval from running here (None: it can run)."""
    lm_eval = _version("lm_eval") if importlib.util.find_spec("lm_eval") else None
    if lm_eval is None:
        return f"lm-eval is not installed; {FIX}"
    transformers = _version("transformers")
    if transformers is None:
        return f"transformers is not installed; {FIX}"
    if lm_eval.startswith("0.4.") and int(transformers.split(".")[0]) >= 5:
        return (f"lm-eval {lm_eval} cannot import beside transformers {transformers} (it "
                f"needs 4.x); {FIX}")
    return None


def require_run_stack(command: str) -> None:
    """Refuse a stage that needs lm-eval where it cannot run, in one line."""
    if command in NEEDS_LM_EVAL and (problem := run_stack_problem()):
        raise ReproError(f"repro {command} needs the paper's lm-eval stack: {problem}")
