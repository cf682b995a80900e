"""CPU seconds per evaluation cell with and without the level-free reuse (requests and tokens
built once per model: repro/evaluate/level_free.py), on the smoke or the rehearsal profile's
evaluate stage.

    python benchmarks/level_free.py --profile smoke        # SmolLM2, the 4 local tasks, levels 0 40
    python benchmarks/level_free.py --profile rehearsal    # tiny Llama-3.2-1B, the 13 paper tasks'
                                                           # real configs on stand-in data, 7 levels

Each run is `python -m repro evaluate ...` in its own process (one thread, offline) into its own
results folder; "before" patches the grid stage to hand lm-eval no LevelFree (the kit as it was).
Prints the cells, the process's CPU seconds (user + system) and CPU seconds per cell for both,
and checks that both runs wrote the same scores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BEFORE = ("import sys; from repro.evaluate import runner; real = runner.run_task\n"
          "def plain(*a, level_free=None, **k): return real(*a, **k)\n"
          "runner.run_task = plain\n")
RUN = "from repro.cli import main; sys.exit(main(sys.argv[1:]))"


def _run(code: str, argv: list[str], env: dict, cwd: Path) -> float:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "import sys\n" + code + RUN, *argv], env=env, cwd=cwd,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime


def _scores(results: Path) -> dict:
    out = {}
    for path in sorted(results.rglob("*.json")):
        rec = json.loads(path.read_text())
        if "payload" in rec:
            out[str(path.relative_to(results))] = rec["payload"].get("results")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", choices=["smoke", "rehearsal"], default="smoke")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="repro-levelfree-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cwd = tmp
    if args.profile == "rehearsal":
        from repro.rehearsal import sandbox

        box = tmp / "sandbox"
        sandbox.build(box, ["llama-3.2-1b"])
        sandbox.prefetch(box, sandbox.tasks_of(["llama-3.2-1b"]))
        env, cwd = {**sandbox.environment(box), "OMP_NUM_THREADS": "1"}, box / "data"
        argv = ["evaluate", "--models", "llama-3.2-1b", "--device", "cpu"]
    else:
        argv = ["evaluate", "--models", "smollm2-135m-instruct", "--levels", "0", "40", "--device", "cpu"]
    got = {}
    for name, code in (("before", BEFORE), ("after", "")):
        results = tmp / name
        got[name] = (_run(code, [*argv, "--results", str(results)], env, cwd), _scores(results))
    cells = len(got["after"][1])
    print(f"level-free reuse, {args.profile} profile's evaluate stage: {cells} cells")
    for name, (cpu, _) in got.items():
        print(f"  {name:<7} {cpu:8.1f} CPU s   {cpu / cells:6.2f} CPU s per cell")
    print(f"  saved   {got['before'][0] - got['after'][0]:8.1f} CPU s "
          f"({1 - got['after'][0] / got['before'][0]:.0%})")
    same = got["before"][1] == got["after"][1]
    print(f"  scores identical in every cell: {same}")
    return 0 if same and cells else 1


if __name__ == "__main__":
    sys.exit(main())
