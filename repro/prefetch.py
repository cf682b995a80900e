"""Fetch the 13 paper tasks' datasets and nltk's `punkt_tab` into the caches, so that a run
needs the network only for gated model weights.

    python repro/prefetch.py        # the Dockerfile runs this with PREFETCH_DATASETS=1

Self-contained (lm-eval and nltk only): the Dockerfile runs it before the kit is copied in.
It leaves a marker, <HF_DATASETS_CACHE>/repro-prefetch.json, which `repro preflight` reads.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# The paper's 13 tasks (section 3); tests check this against repro/config/metrics.yaml.
TASKS = ("wikitext", "lambada_openai", "mmlu", "arc_challenge", "hellaswag", "piqa",
         "winogrande", "boolq", "truthfulqa_mc1", "truthfulqa_mc2", "gsm8k", "ifeval",
         "leaderboard_musr")
MARKER = "repro-prefetch.json"
PUNKT = "tokenizers/punkt_tab/english/"


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


def fetch_datasets(tasks=TASKS) -> None:
    from lm_eval.tasks import TaskManager, get_task_dict

    get_task_dict(list(tasks), TaskManager())  # building a task downloads its dataset


def fetch_punkt() -> str:
    import nltk

    target = os.environ.get("NLTK_DATA") or str(Path.home() / "nltk_data")
    nltk.download("punkt_tab", download_dir=target, quiet=True, raise_on_error=True)
    # nltk can report success on a failed download: look for the data itself
    return str(nltk.data.find(PUNKT))


def main() -> int:
    import importlib.metadata as md

    cache = datasets_cache()
    cache.mkdir(parents=True, exist_ok=True)
    # the datasets' raw files beside their prepared copies, not in HF_HOME (the model cache)
    os.environ.setdefault("HF_HUB_CACHE", str(cache / "hub"))
    fetch_datasets()
    punkt = fetch_punkt()
    marker = {"tasks": list(TASKS), "punkt_tab": punkt,
              "lm_eval": md.version("lm_eval"), "datasets": md.version("datasets")}
    (cache / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    print(f"prefetched {len(TASKS)} tasks' datasets into {cache} and punkt_tab into {punkt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
