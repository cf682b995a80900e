"""The rehearsal's world: the two substitutions, and nothing else.

    <out>/sandbox/hf/hub/models--meta-llama--Llama-3.2-1B/snapshots/<sha>/   tiny models (models.py)
    <out>/sandbox/data/cais/mmlu/...                                        stand-in datasets (standins.py)
    <out>/sandbox/datasets-cache/                                           datasets' own cache
    <out>/sandbox/nltk/                                                     the empty punkt_tab stand-in

Every stage runs with this folder's `data/` as its working directory (datasets loads a local
folder named like a Hub id before the Hub) and these caches in its environment, offline. The
datasets are first built through lm-eval's own task loading, as the image's prefetch does
(repro/ops/prefetch.py), which also writes the marker preflight checks.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import repro
from repro.config import models, suites
from repro.core import rehearsal
from repro.core.errors import ReproError

KIT = Path(repro.__file__).resolve().parent.parent  # where the stages import the kit from


def environment(sandbox: Path) -> dict[str, str]:
    """The stages' environment: offline, the sandbox's caches, the kit that runs this."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, rehearsal.ENV: "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "HF_HOME": str(sandbox / "hf"),
            "HF_HUB_CACHE": str(sandbox / "hf" / "hub"),
            "HF_DATASETS_CACHE": str(sandbox / "datasets-cache"),
            "NLTK_DATA": str(sandbox / "nltk"), "REPRO_CACHE": str(sandbox / "repro-cache"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(KIT), path) if p)}


def tasks_of(names: list[str]) -> list[str]:
    """Every lm-eval task the paper profile runs on these models: their suites and neuron
    selection's, in suite order (each once)."""
    from repro.config.neuron_selection import neuron_selection

    wanted = [models.get(n).suite for n in names] + [neuron_selection().suite]
    out: list[str] = []
    for suite in wanted:
        out += [t.name for t in suites.resolve(suite) if t.name not in out]
    return out


def build(sandbox: Path, names: list[str]) -> dict:
    """Write the models, the datasets and the punkt_tab stand-in; load every task once."""
    from repro.evaluate.nltk_data import write_stub
    from repro.rehearsal import models as tiny
    from repro.rehearsal import standins

    if sandbox.exists():
        shutil.rmtree(sandbox)
    data = sandbox / "data"
    data.mkdir(parents=True)
    written = standins.write_all(data)
    specs = [models.get(n) for n in names]
    hub = [s for s in specs if s.source == "hub"]
    if len(hub) != len(specs):
        raise ReproError("the rehearsal stands in for Hub models only (the paper's); "
                         f"{', '.join(s.name for s in specs if s.source != 'hub')} is not one")
    tiny.write_hub_cache(sandbox / "hf" / "hub", hub, standins.corpus())
    write_stub(sandbox / "nltk")
    return {"datasets": written, "models": [s.name for s in specs]}


def prefetch(sandbox: Path, tasks: list[str]) -> None:
    """lm-eval builds every task from the stand-ins, as the image's prefetch does from the Hub,
    in a child process with the stages' environment; the marker preflight reads is written."""
    import subprocess

    code = ("import sys; from pathlib import Path; from repro.ops import prefetch as p; "
            "tasks = sys.argv[2:]; p.fetch_datasets(tasks); "
            "p.write_marker(p.datasets_cache(), tasks, sys.argv[1])")
    env = environment(sandbox)
    (sandbox / "datasets-cache").mkdir(parents=True, exist_ok=True)
    rc = subprocess.run([sys.executable, "-c", code, str(sandbox / "nltk"), *tasks], env=env,
                        cwd=sandbox / "data").returncode
    if rc != 0:
        raise ReproError(f"lm-eval could not build the tasks from the stand-in datasets (exit {rc}); "
                         "see above: a task's dataset, config or split is not in "
                         "repro/rehearsal/standins.py")
