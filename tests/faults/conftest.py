"""Shared, once-per-session material of the fault-injection suite: a tiny model folder, the
offline environment, and the uninterrupted reference run of each stage that a killed and
resumed run is compared with byte for byte."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.faults.harness import ok, repro
from tests.offline import offline_env

PUBLISHED = Path(__file__).resolve().parents[2] / "data" / "published"


@pytest.fixture(scope="session")
def fault_env(tmp_path_factory):
    """The offline environment, set for this process and the stages it starts."""
    root = tmp_path_factory.mktemp("faults")
    mp = offline_env(root, HF_HOME=str(root / "hf"))
    for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        mp.delenv(k, raising=False)
    yield root
    mp.undo()


@pytest.fixture(scope="session")
def toy(fault_env) -> Path:
    """A tiny Llama folder (float32, 2 layers, GLU width 96) as save_pretrained writes it."""
    from repro.testing.toy import save_toy

    return save_toy(fault_env / "models" / "toy")


def eval_argv(model: Path, results: Path, *extra: str) -> list[str]:
    return ["evaluate", "--models", str(model), "--suite", "smoke", "--tasks", "smoke_ppl",
            "smoke_mc", "--levels", "0", "10", "--limit", "2", "--bootstrap-iters", "0",
            "--dtype", "float32", "--results", str(results), *extra]


def prune_argv(model: Path, out: Path, *extra: str) -> list[str]:
    return ["prune", "--model", str(model), "--levels", "10", "40", "--dtype", "float32",
            "--out", str(out), *extra]


@pytest.fixture(scope="session")
def ref_eval(fault_env, toy):
    """(results folder, events counted, seconds) of one uninterrupted evaluate run."""
    results = fault_env / "ref" / "eval"
    run = ok(repro(eval_argv(toy, results), roots=[results], count=fault_env / "eval.count"))
    return results, run.events, run.seconds


@pytest.fixture(scope="session")
def ref_prune(fault_env, toy):
    out = fault_env / "ref-prune" / "pruned"
    out.parent.mkdir()  # as the killed runs' folders: the same file-system events, counted
    run = ok(repro(prune_argv(toy, out), roots=[out.parent], count=fault_env / "prune.count"))
    return out, run.events, run.seconds


@pytest.fixture(scope="session")
def ref_data(fault_env, ref_eval):
    """data/: the published figures and the toy run's tidy rows, as `tables` reads them."""
    data = fault_env / "ref" / "data"
    shutil.copytree(PUBLISHED, data / "published")
    ok(repro(["aggregate", "--results", str(ref_eval[0]), "--out", str(data / "reproduction"),
              "--run-id", "toy-run"]))
    return data


@pytest.fixture(scope="session")
def ref_tables(fault_env, ref_data):
    out = fault_env / "ref-tables" / "generated"
    out.parent.mkdir()  # tables stages its output set beside --out: its events are counted there
    run = ok(repro(["tables", "--data", str(ref_data), "--out", str(out)], roots=[out.parent],
                   count=fault_env / "tables.count"))
    return out, run.events, run.seconds


def points(name: str, events: int, n: int) -> list[int]:
    """n distinct random event indices in [1, events] (REPRO_FAULT_POINTS raises n)."""
    from tests.faults.harness import rng

    n = max(n, int(os.environ.get("REPRO_FAULT_POINTS") or 0))
    return sorted(rng(name).sample(range(1, events + 1), min(n, events)))
