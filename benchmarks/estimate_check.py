"""The run-time estimate against a measured run, from a fresh clone with no results.

    python benchmarks/estimate_check.py --profile smoke            # clones this checkout to a temp dir
    python benchmarks/estimate_check.py --profile rehearsal --keep /tmp/est

In the clone: `python -m repro pipeline --profile P --dry-run --estimate-json est.json` (rates: a
probe of this host, or the clone's selftest.json if there is one), then the run itself
(`python -m repro pipeline --profile P`), whose timings.json holds the wall seconds per stage;
the rehearsal profile runs as `python -m repro rehearsal [--dry-run]` (its sandbox first).
Prints, per stage and in total, the estimate in the setting the run uses, the measured seconds
and their ratio, with the load average before and after. On a shared machine other jobs stretch
wall time: a one-thread CPU run is estimated in CPU seconds (its wall seconds on an idle host),
so the total is also compared with the run's measured CPU seconds (user + system, all stages).
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

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="smoke")
    p.add_argument("--keep", type=Path, help="clone here and keep it (default: a temp dir)")
    args = p.parse_args()
    clone = args.keep or Path(tempfile.mkdtemp(prefix="repro-estimate-")) / "kit"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "PYTHONPATH": str(clone)}
    run = [sys.executable, "-m", "repro", "pipeline", "--profile", args.profile, "--out", "build/run"]
    if args.profile == "rehearsal":  # its own command: it builds its sandbox, then the pipeline
        run = [sys.executable, "-m", "repro", "rehearsal", "--out", "build/run"]
    load0 = os.getloadavg()
    t0 = time.monotonic()
    subprocess.run([*run, "--dry-run", "--estimate-json", "est.json"], cwd=clone, env=env, check=True)
    probe_s = time.monotonic() - t0
    t0, ru0 = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(run, cwd=clone, env=env, check=True)
    wall, ru1 = time.monotonic() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    load1 = os.getloadavg()
    est = json.loads((clone / "est.json").read_text())
    measured = json.loads((clone / "build/run/timings.json").read_text())
    if args.profile == "rehearsal":  # the sandbox's setup, and the whole command's time
        rec = json.loads((clone / "build/run/rehearsal.json").read_text())
        measured["sandbox"], measured["total"] = rec["setup_seconds"], rec["seconds"]
    setting = est["runs"]
    print(f"\nprofile {args.profile}: estimate ({setting} setting) vs measured, seconds")
    print(f"{'stage':<18}{'estimate':>10}{'measured':>10}{'ratio':>8}{'CPU s':>8}{'ratio':>8}")
    total, nan, cpu_s = 0.0, float("nan"), measured.get("cpu_s", {})
    for stage, e in est["stages"].items():
        s = e["seconds"][setting]
        total += s
        m, c = measured.get(stage), cpu_s.get(stage)
        print(f"{stage:<18}{s:>10.1f}{m if m is not None else nan:>10.1f}{(s / m if m else nan):>8.2f}"
              f"{c if c is not None else nan:>8.1f}{(s / c if c else nan):>8.2f}")
    print(f"{'total':<18}{total:>10.1f}{measured['total']:>10.1f}{total / measured['total']:>8.2f}")
    print(f"{'total, CPU seconds':<18}{total:>10.1f}{cpu:>10.1f}{total / cpu:>8.2f}")
    busy = total * est["contention"]
    print(f"{'total at the load':<18}{busy:>10.1f}{measured['total']:>10.1f}{busy / measured['total']:>8.2f}"
          f"   (the dry run saw a process get 1/{est['contention']:.2f} of a core)")
    print(f"(dry run with its probe: {probe_s:.0f} s; run: {wall:.0f} s; load average "
          f"{load0[0]:.1f} before, {load1[0]:.1f} after, on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
