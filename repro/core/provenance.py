"""What every result file records about where it came from: the kit's version and commit, the
versions of every package that changes numbers, and the host (repro.runtime.device describes
the device; this module never imports torch).

Never put environment variables or tokens here: result files are shared.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
from pathlib import Path
from typing import Any

import repro

KIT_ROOT = Path(__file__).resolve().parents[2]  # the checkout (repro/core/ is two below)

# Distributions whose versions change numbers; recorded in every result.
TRACKED_PACKAGES = (
    "torch", "transformers", "lm_eval", "datasets", "huggingface-hub", "tokenizers",
    "accelerate", "numpy", "pandas", "scipy", "nvidia-ml-py", "gguf",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def kit_commit() -> str:
    """The kit's git commit, with `-dirty` when the checkout has uncommitted changes.

    Only a checkout of the kit counts (an installed wheel may sit inside some other git
    repository); otherwise REPRO_COMMIT baked into the container image, else 'unknown'.
    """
    fallback = os.environ.get("REPRO_COMMIT", "unknown")
    if not ((KIT_ROOT / "pyproject.toml").is_file() and (KIT_ROOT / ".git").exists()):
        return fallback
    try:
        sha = subprocess.run(
            ["git", "-C", str(KIT_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(KIT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return fallback


def provenance(host: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The common provenance block; `host` from repro.runtime.device.host_info, stage-specific
    fields through `extra`."""
    from repro.core import rehearsal

    mark = {"rehearsal": True} if rehearsal.active() else {}  # never a real result (core/rehearsal.py)
    return {
        "kit_version": repro.__version__,
        "kit_commit": kit_commit(),
        "packages": package_versions(),
        "host": host,
        **mark,
        **extra,
    }
