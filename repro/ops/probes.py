"""What preflight asks the outside world (GPUs, driver, disk, the Hub, caches), each behind one
function, so that tests replace any of them (`Probes`) to simulate a missing GPU, a token
without access or a full disk.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from repro.core import hub
from repro.core.stack import run_stack_problem
from repro.evaluate.nltk_data import PUNKT
from repro.ops import prefetch


@dataclass(frozen=True)
class Gpu:
    name: str
    driver: str
    memory_gb: float


@dataclass
class Probes:
    """Everything preflight asks the outside world; tests replace any of these."""
    gpus: Callable[[], list[Gpu]]
    torch_cuda: Callable[[], tuple[str, str | None]]          # (torch version, CUDA or None)
    disk_free: Callable[[Path], int]                           # bytes free where Path would be
    same_disk: Callable[[Path, Path], bool]
    token: Callable[[], str | None]
    auth_check: Callable[[str, str], None]                     # raises huggingface_hub errors
    weights_cached: Callable[[str, str | None], bool]
    hub_reachable: Callable[[], bool]
    datasets_marker: Callable[[], dict | None]
    punkt_present: Callable[[], bool]
    run_stack: Callable[[], str | None] = run_stack_problem  # None: lm-eval can run here


def _nvml_gpus() -> list[Gpu]:
    """GPUs through NVML; through nvidia-smi when NVML cannot load; [] when neither works."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            driver = pynvml.nvmlSystemGetDriverVersion()
            driver = driver.decode() if isinstance(driver, bytes) else driver
            out = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                h = pynvml.nvmlDeviceGetHandleByIndex(i)
                name = pynvml.nvmlDeviceGetName(h)
                name = name.decode() if isinstance(name, bytes) else name
                out.append(Gpu(name, driver, pynvml.nvmlDeviceGetMemoryInfo(h).total / 2**30))
            return out
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - no library, no driver, no device: try nvidia-smi
        pass
    return _smi_gpus()


def _smi_gpus() -> list[Gpu]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_smi(out)


def parse_smi(text: str) -> list[Gpu]:
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            try:
                gpus.append(Gpu(parts[0], parts[1], float(parts[2]) / 1024))
            except ValueError:
                continue
    return gpus


def _torch_cuda() -> tuple[str, str | None]:
    import torch

    return torch.__version__, torch.version.cuda


def _existing(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(_existing(path)).free


def _same_disk(a: Path, b: Path) -> bool:
    return _existing(a).stat().st_dev == _existing(b).stat().st_dev


def _auth_check(repo_id: str, token: str) -> None:
    """HfApi.auth_check's request, with a timeout (it has none of its own)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    r = get_session().get(f"{constants.ENDPOINT}/api/models/{repo_id}/auth-check",
                          headers=build_hf_headers(token=token), timeout=15)
    hf_raise_for_status(r)


def _weights_cached(repo_id: str, revision: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json", revision=revision), str)


def _hub_reachable() -> bool:
    if hub.offline():
        return False
    import requests
    from huggingface_hub import constants

    try:
        requests.head(constants.ENDPOINT, timeout=5)
        return True
    except requests.RequestException:
        return False


def _punkt_present() -> bool:
    try:
        import nltk

        nltk.data.find(PUNKT)
        return True
    except (ImportError, LookupError):
        return False


def real_probes() -> Probes:
    return Probes(gpus=_nvml_gpus, torch_cuda=_torch_cuda, disk_free=_disk_free,
                  same_disk=_same_disk, token=hub.token, auth_check=_auth_check,
                  weights_cached=_weights_cached, hub_reachable=_hub_reachable,
                  datasets_marker=prefetch.read_marker, punkt_present=_punkt_present)
