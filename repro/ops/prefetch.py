"""Fetch the 13 paper tasks' datasets and nltk's `punkt_tab` into the caches, so that a run
needs the network only for gated model weights.

    python repro/ops/prefetch.py    # the Dockerfile runs this with PREFETCH_DATASETS=1

Self-contained (lm-eval, nltk and pyyaml only): the Dockerfile runs it, with suites.yaml beside
it, before the kit is copied in, so that a new commit does not fetch the datasets again. The
tasks are the paper's suite in suites.yaml (`paper13`). It leaves a marker,
<HF_DATASETS_CACHE>/repro-prefetch.json, which `repro preflight` reads.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SUITE = "paper13"   # the paper's 13 tasks (section 3)
MARKER = "repro-prefetch.json"
PUNKT = "tokenizers/punkt_tab/english/"  # as repro.evaluate.nltk_data.PUNKT (a test checks)


def paper_tasks() -> list[str]:
    """The paper suite's tasks, from suites.yaml beside this file (the image) or in the kit."""
    import yaml

    here = Path(__file__).resolve().parent
    for path in (here / "suites.yaml", here.parent / "config" / "suites.yaml"):
        if path.is_file():
            return list(yaml.safe_load(path.read_text(encoding="utf-8"))["suites"][SUITE])
    raise FileNotFoundError(f"suites.yaml is neither beside {__file__} nor in the kit's config")


def datasets_cache() -> Path:
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"])
    home = os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface"
    return Path(home) / "datasets"


def read_marker(cache: Path | None = None) -> dict | None:
    path = (cache or datasets_cache()) / MARKER
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def fetch_datasets(tasks: list[str]) -> None:
    from lm_eval.tasks import TaskManager, get_task_dict

    get_task_dict(list(tasks), TaskManager())  # building a task downloads its dataset


def fetch_punkt() -> str:
    import nltk

    target = os.environ.get("NLTK_DATA") or str(Path.home() / "nltk_data")
    nltk.download("punkt_tab", download_dir=target, quiet=True, raise_on_error=True)
    # nltk can report success on a failed download: look for the data itself
    return str(nltk.data.find(PUNKT))


def write_marker(cache: Path, tasks: list[str], punkt: str) -> Path:
    """The record `repro preflight` reads: these tasks' datasets and punkt_tab are cached."""
    import importlib.metadata as md

    marker = {"tasks": tasks, "punkt_tab": punkt,
              "lm_eval": md.version("lm_eval"), "datasets": md.version("datasets")}
    (cache / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    return cache / MARKER


def main() -> int:
    cache = datasets_cache()
    cache.mkdir(parents=True, exist_ok=True)
    # the datasets' raw files beside their prepared copies, not in HF_HOME (the model cache)
    os.environ.setdefault("HF_HUB_CACHE", str(cache / "hub"))
    tasks = paper_tasks()
    fetch_datasets(tasks)
    punkt = fetch_punkt()
    write_marker(cache, tasks, punkt)
    print(f"prefetched {len(tasks)} tasks' datasets into {cache} and punkt_tab into {punkt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
