"""The critical path of writing evaluation cells: before (samples gzipped at level 9 and the
cell written in the stage's own thread) and after (the JSON made in the stage's thread, then
gzipped at level 6, hashed and written by the executor's writer thread while the next cell is
measured: repro/grid/writer.py).

    python benchmarks/cell_writes.py                    # 4 MMLU-sized cells, 5 s of device time each
    python benchmarks/cell_writes.py --cells 6 --device-s 2 --docs 2000

Each cell runs through the real executor (repro.grid.executor.run_grid) with a stage whose
measure waits `--device-s` seconds, as a stage's thread waits on a GPU (the GIL released), then
hands over lm-eval-like samples of `--docs` MMLU rows (4 choices sharing a ~1,600-character
5-shot context: ~110 MB of JSON for MMLU's 14,042 documents) to the kit's own
runner.samples_attachment. Prints wall seconds per cell beyond the device time for both, and
checks that both wrote the same samples (decompressed).
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their its had has").split()


def samples(docs: int, seed: int) -> dict:
    rng = random.Random(seed)

    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    shots = text(300)
    rows = []
    for i in range(docs):
        q = shots + text(60)
        rows.append({"doc_id": i, "doc": {"question": text(40), "choices": [text(5) for _ in "ABCD"],
                                          "answer": i % 4, "subject": "x"},
                     "target": i % 4, "arguments": [[q, " " + c] for c in "ABCD"],
                     "resps": [[[-rng.random(), False]] for _ in "ABCD"],
                     "filtered_resps": [[-rng.random(), False] for _ in "ABCD"], "filter": "none",
                     "metrics": ["acc"], "doc_hash": "a" * 64, "prompt_hash": "b" * 64,
                     "target_hash": "c" * 64, "acc": 1.0})
    return {"mmlu": rows}


def run(root: Path, cells: int, device_s: float, docs: int, before: bool) -> float:
    from repro.evaluate import runner
    from repro.grid import executor
    from repro.grid.executor import GridStage, Group, Job, Measured, run_grid
    from repro.results.cells import Cell

    def level9(s):  # the kit before: gzip level 9, in the stage's thread
        return gzip.compress(runner.samples_attachment(s).args[0], mtime=0)

    data = [samples(docs, seed=i) for i in range(cells)]  # made before the clock starts

    class Stage(GridStage):
        name = "evaluate"

        def load(self, model):
            return model

        def rank(self, loaded, criterion):
            return criterion

        def group(self, cell):
            return Group(0.0, cell.criterion, "")

        def prune(self, loaded, ranking, group, cells):
            return ranking

        def measure(self, loaded, pruned, todo):
            for i, c in enumerate(todo):
                time.sleep(device_s)  # the device computes; this thread waits
                att = level9(data[i]) if before else runner.samples_attachment(data[i])
                yield Measured(c, {"value": i, "settings": {}}, {"model": {"identity": "content:x"}},
                               {runner.SAMPLES: att}, device_s)

    jobs = [Job(Cell("evaluate", "m", "maw", 0.0, f"t{i:02d}"), {}, "content:x") for i in range(cells)]
    real = executor.CellWriter
    executor.CellWriter = executor.InlineWriter if before else real
    try:
        t0 = time.perf_counter()
        run_grid(Stage(), jobs, root=root, out=lambda line: None)
        return time.perf_counter() - t0
    finally:
        executor.CellWriter = real


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=4)
    p.add_argument("--device-s", type=float, default=5.0)
    p.add_argument("--docs", type=int, default=14042)
    args = p.parse_args()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("before", "after"):
            wall = run(Path(tmp) / name, args.cells, args.device_s, args.docs, name == "before")
            out[name] = (wall - args.cells * args.device_s) / args.cells
            print(f"{name:<7} {wall:7.1f} s for {args.cells} cells: {out[name]:5.2f} s a cell beyond "
                  f"the device's {args.device_s:g} s", flush=True)
        a, b = (sorted(Path(tmp, n).rglob("*.samples.jsonl.gz")) for n in ("before", "after"))
        same = [gzip.decompress(x.read_bytes()) for x in a] == [gzip.decompress(y.read_bytes()) for y in b]
    print(f"samples identical once decompressed: {same}; saved {out['before'] - out['after']:.2f} s "
          f"a cell on the critical path")
    return 0 if same and len(a) == args.cells else 1


if __name__ == "__main__":
    raise SystemExit(main())
