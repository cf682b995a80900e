"""nltk's `punkt_tab`, which lm-eval's IFEval scoring needs, and its offline stand-in.

`punkt_tab` is on neither PyPI nor Debian and cannot be downloaded offline. For the local smoke
tasks only, `use_stub()` writes an EMPTY stand-in (no abbreviations, no collocations) under the
kit's cache and points nltk at it: sentence splitting then falls back to punctuation alone,
enough for the pipeline to run end to end, NOT valid for real IFEval scores. The real `ifeval`
task refuses to run without the real data (`prepare`), except in a rehearsal (stand-in data
throughout: repro/core/rehearsal.py), and every cell records whether the stand-in was active.
The stand-in never shadows a real `punkt_tab`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from repro.core import rehearsal
from repro.core.cache import cache_root
from repro.core.errors import ReproError

log = logging.getLogger("repro.nltk")

STUB_MARKER = "REPRO_STUB_NOT_REAL_PUNKT_TAB.txt"
PUNKT = "tokenizers/punkt_tab/english/"


def write_stub(root: Path | None = None) -> Path:
    """An NLTK_DATA folder holding the empty stand-in `punkt_tab` (see the module docstring)."""
    root = root or cache_root() / "nltk_stub"
    eng = root / "tokenizers" / "punkt_tab" / "english"
    eng.mkdir(parents=True, exist_ok=True)
    for name in ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab"):
        (eng / name).touch()
    (root / STUB_MARKER).write_text(
        "Empty stand-in for nltk's punkt_tab, written by the repro kit for offline smoke runs.\n"
        "IFEval scores computed with it are NOT valid: install the real punkt_tab for real runs.\n")
    return root


def _found() -> Path | None:
    """The punkt_tab folder nltk would use now, or None."""
    try:
        import nltk

        ptr = nltk.data.find(PUNKT)
    except (LookupError, ImportError):
        return None
    return Path(getattr(ptr, "path", str(ptr)))


def _is_stub(found: Path) -> bool:
    return any((d / STUB_MARKER).exists() for d in found.parents)


def use_stub() -> Path | None:
    """Point nltk at the stand-in unless a real punkt_tab is already findable."""
    found = _found()
    if found is not None and not _is_stub(found):
        return None
    stub = write_stub()
    os.environ["NLTK_DATA"] = str(stub)
    try:  # nltk reads NLTK_DATA at import; make an already imported nltk see it too
        import nltk

        if str(stub) in nltk.data.path:
            nltk.data.path.remove(str(stub))
        nltk.data.path.insert(0, str(stub))
    except ImportError:
        pass
    log.warning("IFEval uses an EMPTY stand-in punkt_tab (%s): fine for the smoke run, "
                "not valid for real scores", stub)
    return stub


def stub_active() -> bool:
    """True when the punkt_tab nltk would use is the stand-in (judged by what nltk finds, not
    by NLTK_DATA alone: nltk's search path outlives changes to the variable)."""
    found = _found()
    return found is not None and _is_stub(found)


def prepare(task_names: set[str], any_local: bool) -> None:
    """The real data for the real ifeval, checked before any weights load; the stand-in for the
    local smoke tasks alone."""
    if "ifeval" in task_names:
        found = _found()
        if (found is None or _is_stub(found)) and rehearsal.active():
            use_stub()  # a rehearsal's stand-in data (repro/core/rehearsal.py), recorded per cell
        elif found is None or _is_stub(found):
            raise ReproError("ifeval needs nltk's punkt_tab data (not the smoke stand-in): run "
                             "`python -m nltk.downloader punkt_tab` or set NLTK_DATA to a folder holding it")
    elif any_local:
        use_stub()
