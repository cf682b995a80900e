"""Preflight: what a GPU run needs, checked in seconds, before anything heavy starts.

    python -m repro preflight --models llama-3.2-1b llama-3.2-3b --results /results

Checks: the paper's lm-eval stack is installed where lm-eval can import (repro.core.stack); a
GPU is visible; its driver is new enough for the installed torch's CUDA build; there
is free disk for the run's weights, checkpoints and results; HF_TOKEN is set and the Hub
accepts it for every gated model (one cheap auth-check request each); the tasks' datasets and
nltk's punkt_tab are cached or the Hub is reachable. Each check is a small function that
returns None (fine) or one line saying what to do; every check runs, every failure is
printed, and the exit status is 2 if any failed.

The token is read from HF_TOKEN (or huggingface_hub's saved login) and is only ever sent to
the Hub: never printed, logged or written. The probes (NVML, disk, Hub, network) are
injectable (`Probes`), so tests simulate a missing GPU, a token without access or a full disk.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from repro.config import models as registry
from repro.core import hub, options
from repro.ops import prefetch
from repro.ops.probes import Gpu, Probes, real_probes
from repro.prune.widths import keep_count

# CUDA major of torch's build -> minimum Linux driver, through CUDA's minor-version
# compatibility (NVIDIA's CUDA Toolkit release notes, Table 2; the x.0 GA drivers): the image's
# torch 2.8.0 from PyPI is built with CUDA 12.8, so any driver >= 525.60.13 runs it (R525, R535,
# R550, R570, R580...); a CUDA 13 build would need >= 580.
MIN_DRIVER = {13: (580,), 12: (525, 60, 13), 11: (450, 80, 2)}
IMAGE_CUDA = "12.8"  # the CUDA build of the image's torch (pyproject: torch==2.8.0)


def min_driver(cuda: str | None) -> str:
    """The minimum driver for torch's CUDA build (a CPU build: the image's), e.g. '525.60.13'."""
    need = MIN_DRIVER.get(_version(cuda or IMAGE_CUDA)[0], MIN_DRIVER[_version(IMAGE_CUDA)[0]])
    return ".".join(f"{x:02d}" if i == 2 else str(x) for i, x in enumerate(need))

GB = 1e9
BYTES_PER_PARAM = 2      # bfloat16 weights
VOCAB = 128256           # Llama 3.2's vocabulary (tied embeddings)
MARGIN_GB = 5.0          # result cells, lm-eval samples, logs, temporary files


@dataclass(frozen=True)
class Check:
    name: str
    problem: str | None   # None: passed
    detail: str = ""      # what was seen, for a passing check


def check_gpu(gpus: list[Gpu], cuda: str | None) -> str | None:
    if not gpus:
        return (f"no NVIDIA GPU visible: install the NVIDIA driver (>= {min_driver(cuda)}) and "
                "the NVIDIA Container Toolkit on the host, and start the image with "
                "`docker run --gpus all`")
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(".") if x.isdigit())


def check_driver(gpus: list[Gpu], torch_version: str, cuda: str | None) -> str | None:
    if cuda is None:
        return (f"torch {torch_version} is a CPU-only build: run inside the image (torch's CUDA "
                "12.8 build) or install torch's CUDA wheel from PyPI")
    need = MIN_DRIVER.get(_version(cuda)[0])
    if need is None:
        return None
    have = _version(gpus[0].driver)
    if have < need:
        return (f"NVIDIA driver {gpus[0].driver} is too old for torch {torch_version} (CUDA "
                f"{cuda}): it needs >= {min_driver(cuda)}; update the host's driver")
    return None


def params(spec, level: float) -> float:
    """Llama-style parameter count at a pruning level (GQA with 8 KV heads, tied embeddings).

    Matches the paper's counts to 0.1%: 1B 1235.8M at 0%, 3B 3212.7M at 0%.
    """
    h, i, n = spec.hidden_size, spec.intermediate_size, spec.num_layers
    if not (h and i and n):
        return 0.0
    k = keep_count(i, level)
    kv = 8 * 128 if h >= 3072 else 8 * 64
    return n * (3 * h * k + 2 * h * h + 2 * h * kv) + VOCAB * h


def disk_need(specs) -> tuple[float, float]:
    """(GB in the model cache, GB in the results folder): the base weights once each; every
    pruned checkpoint, a conservative bound for stages that save them; a margin for results."""
    cache = sum(params(s, 0) for s in specs) * BYTES_PER_PARAM / GB
    results = sum(params(s, lv) for s in specs for lv in s.levels if lv) * BYTES_PER_PARAM / GB
    return cache, results + MARGIN_GB


def check_disk(results: Path, cache: Path, need_results: float, need_cache: float,
               free: Callable[[Path], int], same: Callable[[Path, Path], bool]) -> str | None:
    places = ([(results, need_results + need_cache)] if same(results, cache)
              else [(results, need_results), (cache, need_cache)])
    for path, need in places:
        have = free(path) / GB
        if have < need:
            return (f"only {have:.0f} GB free at {path}, the run needs about {need:.0f} GB "
                    "(weights, pruned checkpoints, results): free space or mount a larger "
                    "volume there (--min-free-gb overrides the estimate)")
    return None


def check_token(token: str | None, gated_ids: list[str]) -> str | None:
    if gated_ids and not token:
        verb = "is" if len(gated_ids) == 1 else "are"
        return (f"HF_TOKEN is not set and {', '.join(gated_ids)} {verb} gated: "
                f"{hub.licence_steps(gated_ids[0])}, and pass it at run time "
                "(`docker run -e HF_TOKEN ...`; never bake it into the image)")
    return None


def check_access(repo_id: str, token: str, auth_check, cached: bool) -> str | None:
    """One cheap request: is the token accepted for this gated model? The token never appears
    in the message (the Hub's own error text is not repeated, only its kind)."""
    import requests
    from huggingface_hub import errors as hf

    try:
        auth_check(repo_id, token)
        return None
    except hf.GatedRepoError:
        return (f"token has no access to {repo_id}: accept the licence at "
                f"https://huggingface.co/{repo_id} with the token's account")
    except hf.RepositoryNotFoundError:
        return (f"the Hub refused HF_TOKEN for {repo_id} (invalid, expired or revoked): create "
                "a new read token at https://huggingface.co/settings/tokens")
    except hf.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            return (f"token has no access to {repo_id} (HTTP {status}): accept the licence at "
                    f"https://huggingface.co/{repo_id}, and give a fine-grained token read "
                    "access to public gated repositories")
        return f"the Hub answered HTTP {status} for {repo_id}: retry later"
    except (requests.RequestException, OSError):
        if cached:
            return None
        return (f"cannot reach the Hugging Face Hub to check access to {repo_id}, and its "
                "weights are not cached: connect to the network, or mount a model cache "
                "that holds them at HF_HOME")


def check_data(marker: dict | None, punkt: bool, reachable: Callable[[], bool],
               tasks: tuple[str, ...]) -> str | None:
    missing = [t for t in tasks if t not in (marker or {}).get("tasks", [])]
    if not missing and punkt:
        return None
    if reachable():
        return None
    what = (f"the datasets of {len(missing)} task(s) ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''})" if missing else "nltk's punkt_tab")
    return (f"{what} are not cached and the Hub cannot be reached: build the image with "
            "--build-arg PREFETCH_DATASETS=1, or connect to the network")


def run_checks(models: list[str], results: Path, probes: Probes, *,
               skip: tuple[str, ...] = (), min_free_gb: float | None = None) -> list[Check]:
    specs = [registry.get(m) for m in models]
    tasks = prefetch.paper_tasks()
    out: list[Check] = []

    if "stack" not in skip:  # the stages that run lm-eval need it importable
        out.append(Check("lm-eval", probes.run_stack(), "lm-eval installed beside a transformers it supports"))

    if "gpu" not in skip:
        gpus = probes.gpus()
        version, cuda = probes.torch_cuda()
        problem = check_gpu(gpus, cuda)
        seen = ", ".join(f"{g.name} ({g.memory_gb:.0f} GiB)" for g in gpus)
        out.append(Check("gpu", problem, f"{len(gpus)} x {seen}" if gpus else ""))
        if not problem:
            out.append(Check("driver", check_driver(gpus, version, cuda),
                             f"driver {gpus[0].driver}, torch {version} (CUDA {cuda})"))

    if "disk" not in skip:
        cache = Path(os.environ.get("HF_HUB_CACHE") or Path(
            os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub")
        need_cache, need_results = disk_need(specs)
        if min_free_gb is not None:
            need_cache, need_results = 0.0, min_free_gb
        out.append(Check("disk", check_disk(results, cache, need_results, need_cache,
                                            probes.disk_free, probes.same_disk),
                         f"about {need_results + need_cache:.0f} GB needed"))

    if "hf" not in skip and hub.offline():  # as the stages: cached weights need no token
        gated = [s for s in specs if s.gated and s.hf_id]
        missing = [s.hf_id for s in gated if not probes.weights_cached(s.hf_id, s.revision)]
        out.append(Check("hf-offline", (f"HF_HUB_OFFLINE is set and {', '.join(missing)} "
                                        "not in the model cache: mount a cache that holds it "
                                        "(HF_HOME), or unset HF_HUB_OFFLINE") if missing else None,
                         "offline, every gated model's weights cached (no token needed)"))
    elif "hf" not in skip:
        gated = [s for s in specs if s.gated and s.hf_id]
        token = probes.token() if gated else None
        problem = check_token(token, [s.hf_id for s in gated])
        out.append(Check("hf-token", problem,
                         "set" if token else "not needed (no gated model selected)"))
        if token and not problem:
            for s in gated:
                cached = probes.weights_cached(s.hf_id, s.revision)
                out.append(Check(f"hf-access {s.hf_id}",
                                 check_access(s.hf_id, token, probes.auth_check, cached),
                                 "token accepted (or weights cached)"))

    if "data" not in skip:
        marker = probes.datasets_marker()
        out.append(Check("data", check_data(marker, probes.punkt_present(),
                                            probes.hub_reachable, tasks),
                         "cached in the image" if marker else "Hub reachable"))
    return out


SKIPPABLE = ("stack", "gpu", "disk", "hf", "data")


def configure(p: argparse.ArgumentParser) -> None:
    options.add_models(p, "the paper's three (models.yaml)")
    p.add_argument("--results", type=Path, default=Path(os.environ.get("REPRO_OUT", "results")),
                   help="where the run will write results and checkpoints")
    p.add_argument("--skip", nargs="+", default=[], choices=SKIPPABLE, help="checks to leave out")
    p.add_argument("--min-free-gb", type=options.non_negative_float,
                   help="require this much free disk instead of the estimate")
    p.add_argument("--no-estimate", action="store_true",
                   help="after the checks pass, do not print the run's estimated time")
    p.add_argument("--selftest", type=Path, default=Path("build/selftest/selftest.json"),
                   help="the self-test's figures for the estimate's rates (default: %(default)s)")


def report(checks: list[Check]) -> int:
    failed = [c for c in checks if c.problem]
    for c in checks:
        if c.problem:
            print(f"preflight: FAIL {c.name}: {c.problem}", flush=True)
        else:
            print(f"preflight: ok   {c.name}" + (f": {c.detail}" if c.detail else ""), flush=True)
    if failed:
        print(f"preflight: {len(failed)} check(s) failed; nothing was started", flush=True)
        return 2
    print("preflight: all checks passed", flush=True)
    return 0


def run(args: argparse.Namespace, probes: Probes | None = None) -> int:
    models = args.models or registry.paper_models()
    checks = run_checks(models, args.results, probes or real_probes(),
                        skip=tuple(args.skip), min_free_gb=args.min_free_gb)
    rc = report(checks)
    if rc == 0 and not args.no_estimate:  # the run's cost on this host, before it starts
        from repro.ops.estimate import for_preflight

        args.gpu, args.estimate_json = None, None
        for_preflight(args, list(models))
    return rc
