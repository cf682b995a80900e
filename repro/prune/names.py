"""The command line's check of a criterion name, without importing torch until one is given
(the names and their aliases live in criteria.py)."""

from __future__ import annotations

import argparse

from repro.core.errors import ReproError


def criterion(text: str) -> str:
    """argparse type: the canonical criterion name, or `error: argument --criteria: ...`."""
    from repro.prune.criteria import canonical

    try:
        return canonical(text)
    except ReproError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
