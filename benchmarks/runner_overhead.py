"""Runner overhead: in-memory pruning + lm-eval's Python API vs save + the `lm_eval` CLI.

    python benchmarks/runner_overhead.py [--levels 0 10 ...] [--tasks smoke_ppl smoke_mc]

Both sides evaluate the smoke model (SmolLM2-135M-Instruct, float32, CPU) at the same levels on
the same local tasks with the same max_length and batch size:
  A  in-memory: `repro evaluate` (repro.evaluate.stage.evaluate): load the base once, rank once, prune each level in
     memory, evaluate the object with simple_evaluate (one call per task);
  B  files + CLI: per level, load the base, prune, save the pruned model (save_pretrained), then
     one `lm_eval --model hf --model_args pretrained=DIR ...` process per level.
Prints wall seconds for each, the ratio B / A, and checks that the scores agree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levels", nargs="+", default=["0", "10", "20", "30", "40", "50", "60"])
    p.add_argument("--tasks", nargs="+", default=["smoke_ppl", "smoke_mc"])
    p.add_argument("--batch-size", default="8")
    p.add_argument("--out", type=Path, help="keep the work folder here (default: a temp folder)")
    args = p.parse_args()
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(k, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from repro.config import models, suites
    from repro.evaluate.plan import LmEvalOptions
    from repro.evaluate.stage import evaluate
    from repro.evaluate.tasks.build import build
    from repro.grid.options import GridOptions
    from repro.prune.apply import prune
    from repro.prune.ranking import rank
    from repro.prune.save import save
    from repro.prune.widths import Target
    from repro.results import cells as cellio
    from repro.runtime.hf import load
    from repro.runtime.pypi import ensure_model

    spec = models.get("smollm2-135m-instruct")
    folder = ensure_model(spec)
    include = build()
    work = args.out or Path(tempfile.mkdtemp(prefix="repro-overhead-"))
    work.mkdir(parents=True, exist_ok=True)
    levels = spec.check_levels(args.levels)
    tasks = suites.resolve("smoke", args.tasks)

    # A: in memory
    t0 = time.monotonic()
    evaluate(GridOptions(models=[spec.name], levels=levels, device="cpu", results=work / "a"),
             LmEvalOptions(suite="smoke", tasks=[t.name for t in tasks], batch_size=args.batch_size))
    a = time.monotonic() - t0
    print(f"A in-memory runner:      {a:7.1f} s", flush=True)

    # B: save every pruned model, then the lm_eval CLI on each folder
    t0 = time.monotonic()
    for lv in levels:
        model, tok, source = load(str(folder), dtype=spec.dtype)
        pruned, info = prune(model, rank(model, "maw"), Target(level=lv))
        out = work / "b" / f"level-{lv:g}"
        save(pruned, tok, info, out / "model", source)
        del model, pruned
        cmd = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
               f"pretrained={out / 'model'},dtype={spec.dtype},max_length={spec.max_length}",
               "--tasks", ",".join(args.tasks), "--include_path", str(include), "--device", "cpu",
               "--batch_size", args.batch_size, "--output_path", str(out / "lm_eval"),
               "--seed", "0,1234,1234,1234"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            sys.exit(f"lm_eval CLI failed:\n{res.stderr[-3000:]}")
    b = time.monotonic() - t0

    # same numbers?
    worst = 0.0
    for lv in levels:
        files = sorted((work / "b" / f"level-{lv:g}" / "lm_eval").rglob("results_*.json"))
        cli = json.loads(files[-1].read_text())["results"]
        for t in args.tasks:
            mem = cellio.read(work / "a", cellio.Cell("evaluate", spec.name, "maw", lv, t))
            for key, v in mem["payload"]["results"][t].items():
                if isinstance(v, float) and isinstance(cli[t].get(key), float) and "stderr" not in key:
                    worst = max(worst, abs(v - cli[t][key]) / max(abs(v), 1e-12))
    print(f"levels {' '.join(args.levels)}; tasks {' '.join(args.tasks)}; {spec.name} {spec.dtype} cpu")
    print(f"B save + lm_eval CLI:    {b:7.1f} s")
    print(f"ratio B / A:             {b / a:7.2f}")
    print(f"largest relative score difference A vs B: {worst:.2e}")
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
