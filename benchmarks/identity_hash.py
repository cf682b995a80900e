"""Benchmark: the content identity of a local model folder (repro.core.identity.content_id).

    python benchmarks/identity_hash.py                # Llama-3.2-3B's size in bf16: 6.43 GB, 2 shards
    python benchmarks/identity_hash.py --gb 0.5       # quick look

Writes a folder of random safetensors shards of the given total size (tensors of 64 MB, as a
3B model's largest are 0.79 GB and its MLP matrices 50 MB), then times content_id three ways:
  first   nothing cached by the kit (the files are in the OS page cache: just written)
  cold    the same, with the OS page cache dropped first (only with --drop-caches: needs root
          and flushes the whole machine's cache)
  cached  the kit's per-file cache hit: a stat per file, nothing read
The folder and the kit's cache live in a temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TENSOR = 64 << 20


def write_shard(path: Path, n_bytes: int, first: int) -> int:
    header, offset, i = {}, 0, first
    while offset < n_bytes:
        size = min(TENSOR, n_bytes - offset)
        header[f"model.layers.{i}.weight"] = {"dtype": "BF16", "shape": [size // 2],
                                              "data_offsets": [offset, offset + size]}
        offset, i = offset + size, i + 1
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    block = os.urandom(TENSOR)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        left = n_bytes
        while left:
            f.write(block[: min(TENSOR, left)])
            left -= min(TENSOR, left)
    return i


def timed(folder: Path) -> tuple[float, str]:
    code = ("import sys, time; from repro.core.identity import content_id; t = time.perf_counter(); "
            "i = content_id(sys.argv[1]); print(time.perf_counter() - t, i)")
    out = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True,
                         check=True, env=os.environ).stdout.split()
    return float(out[0]), out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=6.43, help="total weights size in GB (default: 3B bf16)")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--drop-caches", action="store_true", help="also time a read from disk (root)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        folder.mkdir()
        os.environ["REPRO_CACHE"] = str(Path(tmp) / "cache")
        (folder / "config.json").write_text('{"model_type": "llama", "hidden_size": 3072}')
        total = int(a.gb * 1e9)
        t0, first = time.perf_counter(), 0
        for s in range(a.shards):
            first = write_shard(folder / f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors",
                                total // a.shards, first)
        print(f"wrote {total / 1e9:.2f} GB in {a.shards} shards in {time.perf_counter() - t0:.1f} s")
        s1, ident = timed(folder)
        print(f"first  {s1:7.2f} s  {total / 1e9 / s1:.2f} GB/s  {ident}")
        try:
            import shutil

            if not a.drop_caches:
                raise OSError

            shutil.rmtree(Path(tmp) / "cache")
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            s2, ident2 = timed(folder)
            assert ident2 == ident
            print(f"cold   {s2:7.2f} s  {total / 1e9 / s2:.2f} GB/s (page cache dropped)")
        except OSError:
            print("cold   skipped (--drop-caches, as root)")
        s3, ident3 = timed(folder)
        assert ident3 == ident
        print(f"cached {s3:7.4f} s")


if __name__ == "__main__":
    main()
