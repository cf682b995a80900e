"""Per-layer sensitivity scan of the smoke model, timed: `repro sensitivity` as a user runs it.

    python benchmarks/sensitivity_scan.py [--levels 10 40] [--compare-no-replay]

Runs `python -m repro sensitivity --models smollm2-135m-instruct` (30 layers, maw, the levels
given, the calibration text's perplexity and smoke_ppl through lm-eval) into a fresh results
folder and prints its wall time, the torch threads and the machine's load average before and
after (the scan is CPU-bound: a busy machine stretches it). With --compare-no-replay it runs
again with unpruned layers recomputed (--replay-cache-mib 0) and checks that every cell's
numbers are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def scan(results: Path, levels: list[str], replay_mib: int | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the scan's process: what an idle machine's wall would be
    with one torch thread)."""
    argv = [sys.executable, "-m", "repro", "-q", "sensitivity", "--models", "smollm2-135m-instruct",
            "--results", str(results), "--levels", *levels]
    if replay_mib is not None:
        argv += ["--replay-cache-mib", str(replay_mib)]
    t0, c0 = time.monotonic(), _child_cpu()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0, _child_cpu() - c0


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def numbers(results: Path) -> dict[str, dict]:
    return {str(p.relative_to(results)): json.loads(p.read_text())["payload"]["results"]
            for p in sorted((results / "sensitivity").rglob("*.json"))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levels", nargs="+", default=["10", "40"])
    p.add_argument("--compare-no-replay", action="store_true")
    args = p.parse_args()
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(k, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    work = Path(tempfile.mkdtemp(prefix="repro-sensitivity-"))
    print(f"load average before: {os.getloadavg()[0]:.2f}; OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; {os.cpu_count()} CPUs")
    t, cpu = scan(work / "replay", args.levels, None)
    cells = numbers(work / "replay")
    print(f"scan with replay: {t:.1f} s wall, {cpu:.1f} s CPU, {len(cells)} cells; load average "
          f"after: {os.getloadavg()[0]:.2f}")
    if args.compare_no_replay:
        t2, cpu2 = scan(work / "plain", args.levels, 0)
        same = numbers(work / "plain") == cells
        print(f"scan recomputing every layer: {t2:.1f} s wall, {cpu2:.1f} s CPU ({cpu2 / cpu:.2f}x "
              f"the CPU time); identical numbers: {same}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
