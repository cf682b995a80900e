"""What a rehearsal must show, checked after its pipeline ran; the first problem fails it.

- every cell's lm-eval results hold every metric key suites.yaml keeps for its task (a key
  lm-eval does not report would otherwise vanish from the tables without a word);
- the tidy data has rows for every model at every level, under the run id REHEARSAL only;
- every table, figure and the claims report exist, each marked REHEARSAL, and the claims
  report's reproduction column is filled for every model and level the run covered;
- nothing was written into the kit's data/reproduction.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from repro.config import models
from repro.core import rehearsal
from repro.core.errors import ReproError
from repro.results.cells import EFFICIENCY_STAGE, SCORE_STAGES, scan


def fail(problem: str) -> ReproError:
    return ReproError(f"rehearsal: {problem}")


def metric_keys(root: Path) -> Counter:
    """Cells per (stage, model); fails on a kept metric key lm-eval did not report."""
    counts: Counter = Counter()
    for cell, rec in scan(root, (*SCORE_STAGES, EFFICIENCY_STAGE)):
        counts[(cell.stage, cell.model)] += 1
        if not (rec.get("provenance") or {}).get("rehearsal"):
            raise fail(f"{cell.id} is not marked as a rehearsal's cell")
        if cell.stage == EFFICIENCY_STAGE:
            continue
        pay = rec["payload"]
        results = {**pay.get("results", {}), **pay.get("groups", {})}.get(cell.task, {})
        for key in pay.get("metrics_kept", []):
            if key not in results:
                have = sorted(k for k in results if "_stderr" not in k and k != "alias")
                raise fail(f"task {cell.task}: suites.yaml keeps the metric key '{key}', which "
                           f"lm-eval did not report ({', '.join(have) or 'nothing'}); fix "
                           "repro/config/suites.yaml")
    return counts


def check(out: Path, names: list[str], *, levels=None, stages=None) -> dict:
    """Check what the run wrote under `out` (see the module docstring); a summary of it."""
    import pandas as pd

    from repro.core.provenance import KIT_ROOT

    counts = metric_keys(out / "results")
    report: dict = {"cells": {f"{s}/{m}": n for (s, m), n in sorted(counts.items())}}
    tidy = out / "data" / "reproduction" / f"{rehearsal.MARK}.csv"
    ran = set(stages or ("aggregate", "tables"))
    if "aggregate" in ran:
        if not tidy.is_file():
            raise fail(f"aggregate wrote no {tidy}")
        df = pd.read_csv(tidy)
        if set(df.run_id) != {rehearsal.MARK}:
            raise fail(f"{tidy} holds run ids {sorted(set(df.run_id))}, not {rehearsal.MARK} alone")
        report["rows"] = {m: int((df.model == m).sum()) for m in names}
        for m in names:
            want = {float(x) for x in (levels or models.get(m).levels)}
            scores = df[(df.model == m) & (df.unit.fillna("") == "")]
            have = set(scores.level.astype(float))
            if want - have:
                raise fail(f"{m}: no rows at level(s) {sorted(want - have)}")
    kit_data = KIT_ROOT / "data" / "reproduction"
    if kit_data.is_dir() and any(rehearsal.MARK in p.name for p in kit_data.iterdir()):
        raise fail(f"{kit_data} holds a rehearsal's file; remove it")
    return report


def summary(report: dict) -> str:
    lines = [f"== rehearsal: passed in {report.get('seconds')} s"]
    lines += [f"   cells {k}: {v}" for k, v in report["cells"].items()]
    lines += [f"   rows {k}: {v}" for k, v in report.get("rows", {}).items()]
    return "\n".join(lines)
