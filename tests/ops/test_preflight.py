"""Preflight's messages, each from a simulated world: no GPU, an old driver, no HF_TOKEN, a
token without access, a rejected token, too little disk, no datasets and no network."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import requests
from huggingface_hub import errors as hf

from repro.cli import main
from repro.config import models
from repro.ops import prefetch
from repro.ops import preflight as pf
from repro.ops import probes as outside

pytestmark = pytest.mark.usefixtures("online")  # tests/ops/conftest.py

SECRET = "hf_SECRETdoNotPrint0123456789"
L4 = pf.Gpu("NVIDIA L4", "535.183.01", 22.5)  # R535: older than CUDA 12.8's own 570


def _response(status: int) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    return r


def probes(**over) -> pf.Probes:
    """A world where everything is fine; keyword arguments change one thing."""
    good = dict(
        gpus=lambda: [L4],
        torch_cuda=lambda: ("2.8.0+cu128", "12.8"),  # the image's torch
        disk_free=lambda path: int(500e9),
        same_disk=lambda a, b: True,
        token=lambda: SECRET,
        auth_check=lambda repo, token: None,
        weights_cached=lambda repo, rev: False,
        hub_reachable=lambda: True,
        datasets_marker=lambda: {"tasks": prefetch.paper_tasks()},
        punkt_present=lambda: True,
    )
    good.update(over)
    return pf.Probes(**good)


def run(capsys, world: pf.Probes, models_=None, **kw) -> tuple[int, list[str]]:
    checks = pf.run_checks(list(models_ or models.paper_models()), Path("/results"), world, **kw)
    rc = pf.report(checks)
    out = capsys.readouterr()
    text = out.out + out.err
    assert SECRET not in text
    return rc, [ln for ln in text.splitlines() if "FAIL" in ln]


def test_all_good(capsys):
    rc, failed = run(capsys, probes())
    assert rc == 0 and failed == []


def test_no_gpu(capsys):
    rc, failed = run(capsys, probes(gpus=lambda: []))
    assert rc == 2
    assert failed == ["preflight: FAIL gpu: no NVIDIA GPU visible: install the NVIDIA driver "
                      "(>= 525.60.13) and the NVIDIA Container Toolkit on the host, and start the "
                      "image with `docker run --gpus all`"]


def test_old_driver(capsys):
    old = pf.Gpu("NVIDIA T4", "525.60.11", 15.0)
    rc, failed = run(capsys, probes(gpus=lambda: [old]))
    assert rc == 2 and len(failed) == 1
    assert "driver 525.60.11 is too old for torch 2.8.0+cu128 (CUDA 12.8): it needs >= 525.60.13" in failed[0]
    ok = pf.Gpu("NVIDIA T4", "525.60.13", 15.0)  # the exact floor passes
    assert run(capsys, probes(gpus=lambda: [ok]))[0] == 0
    # a CUDA 13 build of torch would need R580: the rule follows torch's build
    rc, failed = run(capsys, probes(torch_cuda=lambda: ("2.13.0+cu130", "13.0")))
    assert rc == 2 and "driver 535.183.01 is too old for torch 2.13.0+cu130 (CUDA 13.0): it needs >= 580" in failed[0]


def test_minimum_driver_follows_the_image_torch():
    import tomllib

    run_extra = tomllib.loads((KIT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["run"]
    assert "torch==2.8.0" in [r.split("#")[0].strip() for r in run_extra]  # PyPI's 2.8.0: CUDA 12.8
    assert pf.IMAGE_CUDA == "12.8" and pf.min_driver(None) == pf.min_driver("12.8") == "525.60.13"
    assert pf.min_driver("13.0") == "580" and pf.min_driver("11.8") == "450.80.02"
    readme = (KIT / "README.md").read_text()
    assert "NVIDIA driver >= 525.60.13" in readme and "driver >= 580" not in readme


def test_cpu_torch(capsys):
    rc, failed = run(capsys, probes(torch_cuda=lambda: ("2.13.0+cpu", None)))
    assert rc == 2 and "CPU-only build" in failed[0]


def test_no_token(capsys):
    rc, failed = run(capsys, probes(token=lambda: None))
    assert rc == 2 and len(failed) == 1
    assert failed[0].startswith("preflight: FAIL hf-token: HF_TOKEN is not set and "
                                "meta-llama/Llama-3.2-1B, meta-llama/Llama-3.2-3B, "
                                "meta-llama/Llama-3.2-1B-Instruct are gated")
    assert "https://huggingface.co/settings/tokens" in failed[0]


def test_token_without_access(capsys):
    def auth(repo, token):
        assert token == SECRET  # the token goes to the Hub, and nowhere else
        if repo == "meta-llama/Llama-3.2-3B":
            raise hf.GatedRepoError(f"403 Access restricted ({token})", response=_response(403))

    rc, failed = run(capsys, probes(auth_check=auth))
    assert rc == 2
    assert failed == ["preflight: FAIL hf-access meta-llama/Llama-3.2-3B: token has no access to "
                      "meta-llama/Llama-3.2-3B: accept the licence at "
                      "https://huggingface.co/meta-llama/Llama-3.2-3B with the token's account"]


def test_rejected_token(capsys):
    def auth(repo, token):
        raise hf.RepositoryNotFoundError("401 Invalid credentials", response=_response(401))

    rc, failed = run(capsys, probes(auth_check=auth), models_=["llama-3.2-1b"])
    assert rc == 2 and "refused HF_TOKEN for meta-llama/Llama-3.2-1B" in failed[0]


def test_fine_grained_token_403(capsys):
    def auth(repo, token):
        raise hf.HfHubHTTPError("403 Forbidden", response=_response(403))

    rc, failed = run(capsys, probes(auth_check=auth), models_=["llama-3.2-1b"])
    assert rc == 2 and "token has no access to meta-llama/Llama-3.2-1B (HTTP 403)" in failed[0]


def test_hub_unreachable_but_weights_cached(capsys):
    def auth(repo, token):
        raise requests.ConnectionError("no route")

    rc, _ = run(capsys, probes(auth_check=auth, weights_cached=lambda r, v: True))
    assert rc == 0
    rc, failed = run(capsys, probes(auth_check=auth), models_=["llama-3.2-1b"])
    assert rc == 2 and "cannot reach the Hugging Face Hub" in failed[0]


def test_too_little_disk(capsys):
    rc, failed = run(capsys, probes(disk_free=lambda path: int(20e9)))
    assert rc == 2 and len(failed) == 1
    assert failed[0].startswith("preflight: FAIL disk: only 20 GB free at /results, the run needs "
                                "about 63 GB")


def test_disk_on_two_filesystems(capsys):
    free = {"/results": int(100e9)}
    world = probes(same_disk=lambda a, b: False,
                   disk_free=lambda path: free.get(str(path), int(5e9)))
    rc, failed = run(capsys, world)
    assert rc == 2 and "GB free at" in failed[0] and "/hub" in failed[0]  # the model cache


def test_min_free_gb_overrides(capsys):
    rc, _ = run(capsys, probes(disk_free=lambda path: int(20e9)), min_free_gb=10)
    assert rc == 0


def test_no_datasets_no_network(capsys):
    rc, failed = run(capsys, probes(datasets_marker=lambda: None, hub_reachable=lambda: False))
    assert rc == 2 and "PREFETCH_DATASETS=1" in failed[0]
    rc, failed = run(capsys, probes(punkt_present=lambda: False, hub_reachable=lambda: False))
    assert rc == 2 and "punkt_tab" in failed[0]
    rc, _ = run(capsys, probes(datasets_marker=lambda: None))  # the Hub is reachable: fine
    assert rc == 0


def test_every_failure_is_one_line(capsys):
    world = probes(gpus=lambda: [], token=lambda: None, disk_free=lambda p: 0,
                   datasets_marker=lambda: None, hub_reachable=lambda: False)
    rc, failed = run(capsys, world)
    assert rc == 2 and len(failed) == 4  # gpu, disk, token, data; the driver needs a GPU first


def test_parameter_estimate_matches_the_paper():
    assert pf.params(models.get("llama-3.2-1b"), 0) / 1e6 == pytest.approx(1235.81, rel=1e-3)
    assert pf.params(models.get("llama-3.2-1b"), 60) / 1e6 == pytest.approx(752.65, rel=1e-3)
    assert pf.params(models.get("llama-3.2-3b"), 0) / 1e6 == pytest.approx(3212.75, rel=1e-3)


def test_parse_nvidia_smi():
    out = "NVIDIA L4, 580.65.06, 23034\nNVIDIA L4, 580.65.06, 23034\n"
    assert outside.parse_smi(out) == [pf.Gpu("NVIDIA L4", "580.65.06", 23034 / 1024)] * 2
    assert outside.parse_smi("") == []


def test_prefetch_covers_the_papers_13_tasks():
    from repro.config import suites
    from repro.config.metrics import metrics
    from repro.evaluate.nltk_data import PUNKT

    tasks = prefetch.paper_tasks()
    local = {t.name for s in suites.load_suites() for t in suites.resolve(s) if t.local}
    assert sorted(tasks) == sorted(set(metrics().columns) - local) and len(tasks) == 13
    assert prefetch.PUNKT == PUNKT  # the standalone script keeps its own copy of the path


def test_cli_runs_with_every_check_skipped(capsys):
    # --no-estimate: without a selftest.json the estimate would probe the paper's models on
    # this CPU (minutes); tests/ops/test_estimate.py checks preflight's estimate from one
    assert main(["preflight", "--skip", "gpu", "disk", "hf", "data", "--no-estimate"]) == 0
    assert "all checks passed" in capsys.readouterr().out


def test_real_probes_without_a_gpu_say_so(capsys, monkeypatch):
    monkeypatch.setattr(outside.shutil, "which", lambda name: None)
    world = dataclasses.replace(pf.real_probes(), torch_cuda=lambda: ("x", "13.0"))
    import importlib.util

    if importlib.util.find_spec("pynvml"):
        import pynvml

        try:
            pynvml.nvmlInit()
            pynvml.nvmlShutdown()
            pytest.skip("this machine has an NVIDIA driver")
        except pynvml.NVMLError:
            pass
    rc, failed = run(capsys, world, skip=("disk", "hf", "data"))
    assert rc == 2 and "no NVIDIA GPU visible" in failed[0]


# ---------------------------------------------------------------- the image recipe (static)

KIT = Path(__file__).resolve().parents[2]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (KIT / "requirements" / "image-py311.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.split(" ")[0].partition("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_lock_pins_every_kit_dependency_at_pyprojects_version():
    import tomllib

    project = tomllib.loads((KIT / "pyproject.toml").read_text())["project"]
    lock = _lock()
    for req in project["dependencies"] + project["optional-dependencies"]["run"]:
        name, _, version = req.partition("==")
        name = name.split("[")[0].strip().lower().replace("_", "-")
        assert lock.get(name) == version.strip(), f"{name}: lock {lock.get(name)} vs pyproject {version}"
    assert "nox" in lock


def test_lock_has_hashes_for_every_package():
    text = (KIT / "requirements" / "image-py311.lock").read_text()
    blocks = [b for b in text.split("\n") if b and not b.startswith((" ", "#"))]
    assert blocks and all(b.rstrip().endswith("\\") for b in blocks)  # a --hash line follows each
    assert text.count("--hash=sha256:") >= len(blocks)


def test_dockerfile_essentials():
    text = (KIT / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=" in text and "FROM ${BASE_IMAGE}" in text
    assert "--require-hashes" in text and "image-py311.lock" in text
    assert "USER 1000:1000" in text and "REPRO_NO_VENV=1" in text
    assert "ARG PREFETCH_DATASETS=1" in text and 'VOLUME ["/cache/huggingface", "/results"]' in text
    for line in text.splitlines():  # the token is passed at run time only, never built in
        if line.startswith(("ARG", "ENV")) or line.startswith("    "):
            assert "HF_TOKEN" not in line


def test_slurm_script_shards_by_array_index():
    text = (KIT / "slurm" / "full-array.sbatch").read_text()
    assert '--shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}"' in text
    assert "--stages aggregate tables --out" in text


def test_prefetch_marker_satisfies_preflight(tmp_path, monkeypatch, capsys):
    """The build step's marker is what preflight's data check reads (the downloads themselves
    need the Hub, which this machine cannot reach: they are replaced here)."""
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # main() sets it otherwise
    fetched = []
    monkeypatch.setattr(prefetch, "fetch_datasets", lambda tasks: fetched.extend(tasks))
    monkeypatch.setattr(prefetch, "fetch_punkt", lambda: str(tmp_path / "punkt_tab"))
    assert prefetch.main() == 0
    assert fetched == prefetch.paper_tasks()
    assert prefetch.read_marker()["tasks"] == prefetch.paper_tasks()
    world = probes(datasets_marker=prefetch.read_marker, hub_reachable=lambda: False)
    rc, failed = run(capsys, world, skip=("gpu", "disk", "hf"))
    assert rc == 0 and failed == []


def test_offline_with_cached_weights_needs_no_token(capsys, monkeypatch):
    """As the stages (models.check_access): with HF_HUB_OFFLINE=1 the cached weights are all a
    run needs; a model missing from the cache fails, named (found by the rehearsal)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc, failed = run(capsys, probes(token=lambda: None, weights_cached=lambda r, v: True))
    assert rc == 0 and failed == []
    rc, failed = run(capsys, probes(token=lambda: None,
                                    weights_cached=lambda r, v: r != "meta-llama/Llama-3.2-3B"))
    assert rc == 2 and failed == [
        "preflight: FAIL hf-offline: HF_HUB_OFFLINE is set and meta-llama/Llama-3.2-3B not in the "
        "model cache: mount a cache that holds it (HF_HOME), or unset HF_HUB_OFFLINE"]
