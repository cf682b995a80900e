"""The offline setting the integration tests share: no Hub, no dataset downloads, the kit's cache
under the test's own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def offline_env(root: Path, **extra: str) -> pytest.MonkeyPatch:
    """Set for this process and the stages it starts, until the returned patch is undone."""
    mp = pytest.MonkeyPatch()
    for k, v in {**OFFLINE, "REPRO_CACHE": str(root / "cache"), **extra}.items():
        mp.setenv(k, v)
    return mp
