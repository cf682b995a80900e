"""CI: every row of a shorter run's tidy CSV must be in the full run's CSV with the same values.

    python3 .ci/same_rows.py FULL.csv SHORT.csv [--min-rows N]

The container's smoke runs a subset of the host's smoke (fewer levels and stages); its rows are
matched to the host's by the schema's key and compared field by field, as text: the same bytes
in both files, not values within a tolerance. Standard library only (the host's python3)."""

from __future__ import annotations

import argparse
import csv
import sys

KEY = ["model", "criterion", "level", "variant", "task", "metric", "filter", "source"]
RAN = ["run_id", "ran_at"]  # which run measured a row and when: not compared, never a result


def rows(path: str) -> dict[tuple, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {tuple(r[k] for k in KEY): r for r in csv.DictReader(f)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("full")
    p.add_argument("short")
    p.add_argument("--min-rows", type=int, default=1, help="fewer compared rows is a failure")
    a = p.parse_args()
    full, short = rows(a.full), rows(a.short)
    missing = [k for k in short if k not in full]
    differ = [(k, f) for k, r in short.items() if k in full
              for f in r if f not in KEY + RAN and r[f] != full[k][f]]
    for k in missing[:10]:
        print(f"same_rows: only in {a.short}: {dict(zip(KEY, k, strict=True))}")
    for k, f in differ[:20]:
        print(f"same_rows: {dict(zip(KEY, k, strict=True))}: {f} {short[k][f]!r} here, {full[k][f]!r} in {a.full}")
    if missing or differ or len(short) < a.min_rows:
        print(f"same_rows: {len(short)} rows, {len(missing)} missing, {len(differ)} fields differ "
              f"(at least {a.min_rows} rows expected)")
        return 1
    print(f"same_rows: all {len(short)} rows of {a.short} equal the full run's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
