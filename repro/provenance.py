"""What every result file records about where it came from.

Never put environment variables or tokens here: result files are shared.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import repro

KIT_ROOT = Path(__file__).resolve().parent.parent

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

    Falls back to REPRO_COMMIT baked into the container image, else 'unknown'.
    """
    import os

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
        return os.environ.get("REPRO_COMMIT", "unknown")


def device_info(device: Any = None) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
    }
    dev = torch.device(device) if device is not None else None
    if dev is not None and dev.type == "cuda" and torch.cuda.is_available():
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(idx)
        info.update(
            device="cuda",
            gpu_name=props.name,
            gpu_memory_bytes=props.total_memory,
            cuda_version=torch.version.cuda,
            gpu_capability=f"{props.major}.{props.minor}",
        )
    else:
        info["device"] = "cpu"
    return info


def provenance(device: Any = None, **extra: Any) -> dict[str, Any]:
    """The common provenance block; stage-specific fields come in through `extra`."""
    return {
        "kit_version": repro.__version__,
        "kit_commit": kit_commit(),
        "packages": package_versions(),
        "host": device_info(device),
        **extra,
    }
