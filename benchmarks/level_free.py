"""CPU seconds per evaluation cell with and without the level-free reuse (requests and tokens
built once per model: repro/evaluate/level_free.py), on the smoke or the rehearsal profile's
evaluate stage.

    python benchmarks/level_free.py --profile smoke        # SmolLM2, the 4 local tasks, levels 0 40
    python benchmarks/level_free.py --profile rehearsal    # tiny Llama-3.2-1B, the 13 paper tasks'
                                                           # real configs on stand-in data, 7 levels
    python benchmarks/level_free.py --profile mmlu-tokens  # MMLU-sized tokenising: SmolLM2's real
                                                           # tokenizer, 650-token 5-shot prompts

The stand-in and local tasks are small, so the first two show little of what a real MMLU cell
spends; the third times what the reuse removes there: HFLM's encodings of MMLU-like requests
(4 choices sharing a context of about 650 tokens), per level without the memo, and with it at
the first level and at each later one, scaled to MMLU's 14,042 documents.

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


def mmlu_tokens(docs: int = 1000) -> None:
    import random
    import time

    from transformers import AutoTokenizer

    from repro.config import models
    from repro.evaluate import runner
    from repro.evaluate.level_free import LevelFree
    from repro.evaluate.plan import Settings
    from repro.runtime.weights import weights
    from repro.testing.toy import toy_model

    path, gguf, _ = weights(models.get("smollm2-135m-instruct"))
    tok = AutoTokenizer.from_pretrained(path, gguf_file=gguf)
    lm = runner._hflm(toy_model("llama"), tok, Settings(device="cpu", batch_size="1", limit=None,
                                                        bootstrap_iters=0), 2048)
    rnd = random.Random(0)
    words = [w for w in open(__file__, encoding="utf-8").read().split() if w.isalpha()]
    reqs = [(" ".join(rnd.choice(words) for _ in range(520)) + "\nAnswer:", f" {c}")
            for _ in range(docs) for c in "ABCD"]

    def level(memo) -> float:
        t0 = time.process_time()
        with memo.active(lm) if memo else __import__("contextlib").nullcontext():
            for ctx, cont in reqs:
                lm._encode_pair(ctx, cont)
        return (time.process_time() - t0) * 14042 / docs

    n = len(tok.encode(reqs[0][0]))
    plain, memo = level(None), LevelFree()
    first, later = level(memo), level(memo)
    print(f"MMLU-like tokenising ({n} context tokens, 4 choices), CPU s per MMLU cell (14,042 docs):")
    print(f"  without reuse, every level   {plain:7.1f}")
    print(f"  with reuse, first level      {first:7.1f}   (each context encoded once, not 4 times)")
    print(f"  with reuse, each later level {later:7.1f}")
    print(f"  7 levels: {7 * plain:.0f} CPU s -> {first + 6 * later:.0f} CPU s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", choices=["smoke", "rehearsal", "mmlu-tokens"], default="smoke")
    args = p.parse_args()
    if args.profile == "mmlu-tokens":
        mmlu_tokens()
        return 0
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
