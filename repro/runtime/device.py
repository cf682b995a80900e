"""One rule for devices in every stage, and what a result records about the host.

    device = resolve("auto")     # 'cuda' when torch sees a GPU, else 'cpu'
    host_info(device)            # platform, Python, torch threads; GPU name and memory on CUDA

The option's syntax is checked when the command line is parsed (repro.core.options.device);
`resolve` adds what needs torch, before any model loads: CUDA requested but not visible, or a
GPU index beyond those present, is one line naming the fix.
"""

from __future__ import annotations

import logging
import platform
from typing import Any

import torch

from repro.core.errors import ReproError

log = logging.getLogger("repro.device")


def resolve(name: str, *, cpu_warning: str | None = None) -> str:
    """The device a stage runs on; `cpu_warning` is logged when auto finds no GPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if cpu_warning:
            log.warning(cpu_warning)
        return "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ReproError(f"--device '{name}' is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ReproError(f"--device {name} requested but no CUDA GPU is visible to torch "
                             f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); run on "
                             "a GPU host with the NVIDIA driver, or pass --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ReproError(f"--device {name}: only {torch.cuda.device_count()} GPU(s) visible")
    elif dev.type != "cpu":
        raise ReproError(f"--device {name}: only cpu and cuda are supported")
    return name


def host_info(device: Any = None) -> dict[str, Any]:
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
