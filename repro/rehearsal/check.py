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
    if "tables" in ran:
        report.update(check_report(out / "generated", names, levels))
    kit_data = KIT_ROOT / "data" / "reproduction"
    if kit_data.is_dir() and any(rehearsal.MARK in p.name for p in kit_data.iterdir()):
        raise fail(f"{kit_data} holds a rehearsal's file; remove it")
    return report


FIGURES = ("dichotomy", "mmlu-truthfulqa", "efficiency", "neuron-selection")


def cpu_bound(why: str) -> bool:
    """A claim no CPU run can reproduce: efficiency figures (energy needs NVML; CPU timings are
    labelled `cpu` and never judged against the paper's GPU) and the authors' execution time,
    RAM and GPU memory, which no stage measures."""
    import re

    from repro.config.metrics import metrics

    m = re.match(r"no reproduction rows for \S+ (\S+)", why or "")
    task = m.group(1) if m else ""
    return task == "execution" or task in metrics().efficiency.workloads or \
        task.startswith(("prefill_", "decode_", "throughput_"))


def check_report(gen: Path, names: list[str], levels) -> dict:
    """Every table and figure written and marked, each model's score tables with a reproduced
    row at every level and no empty cell in it, every claim's reproduction filled."""
    import json

    tables = {t.stem: t.read_text(encoding="utf-8") for t in sorted((gen / "tables").glob("*.tex"))}
    for name, text in tables.items():
        if rehearsal.MARK not in text:
            raise fail(f"table {name} is not marked {rehearsal.MARK}")
    filled = {}
    for m in names:
        want = len(levels or models.get(m).levels)
        mine = [n for n in tables if n.endswith(f"-{m}") and not n.startswith("efficiency")]
        if not mine:
            raise fail(f"{m}: no table of its scores in {gen / 'tables'}")
        for n in mine:  # a part of the levels: the others' rows stay empty
            rows = [ln for ln in tables[n].splitlines() if "\\textit{reproduced}" in ln]
            full = [ln for ln in rows if "--" not in ln]
            empty = [ln for ln in rows if "--" in ln] if levels is None else []
            if len(full) < want or empty:
                raise fail(f"table {n}: {len(full)} reproduced row(s) for {want} level(s)"
                           + (f", an empty cell in: {empty[0]}" if empty else ""))
            filled[n] = len(full)
    for fig in FIGURES:
        if not (gen / "figures" / f"{fig}.png").is_file():
            raise fail(f"figure {fig} was not drawn")
    claims = json.loads((gen / "claims.json").read_text(encoding="utf-8"))
    if not (gen / "claims.md").read_text(encoding="utf-8").startswith(f"> **{rehearsal.NOTE}"):
        raise fail("claims.md is not marked REHEARSAL")
    tally: Counter = Counter(c["reproduction_verdict"] for c in claims)
    gpu = [c["id"] for c in claims if c["reproduction_verdict"] == "not run"
           and cpu_bound(c["reproduction_why"])]
    # a tiny model may score 0 at 0% on a generation task: the claim's relative change is then
    # undefined, which the report says (evaluated up to that point, so listed, not failed)
    zero = [c["id"] for c in claims if c["reproduction_verdict"] == "not run"
            and c["reproduction_why"].endswith("is 0: a relative change is undefined")]
    empty = [c for c in claims if c["reproduction_verdict"] in ("not run", "error")
             and c["id"] not in gpu + zero]
    whole = levels is None and set(models.paper_models()) <= set(names)  # a part: claims lack levels
    if empty and whole:
        raise fail(f"{len(empty)} claim(s) with no reproduction verdict, e.g. {empty[0]['id']}: "
                   f"{empty[0]['reproduction_why']}")
    return {"tables": filled, "claims": dict(sorted(tally.items())), "claims_gpu_only": gpu,
            "claims_zero_baseline": zero}


def summary(report: dict) -> str:
    lines = [f"== rehearsal: passed in {report.get('seconds')} s"]
    lines += [f"   cells {k}: {v}" for k, v in report["cells"].items()]
    lines += [f"   rows {k}: {v}" for k, v in report.get("rows", {}).items()]
    lines += [f"   table {k}: reproduced at {v} level(s)" for k, v in report.get("tables", {}).items()]
    if "claims" in report:
        lines.append("   claims, reproduction column: " + ", ".join(
            f"{n} {k}" for k, n in report["claims"].items()))
        lines.append(f"   of them need a GPU or are measured by no stage: "
                     f"{len(report['claims_gpu_only'])} ({', '.join(report['claims_gpu_only'])})")
        lines.append(f"   of them undefined on the stand-ins (a tiny model's baseline of 0): "
                     f"{len(report['claims_zero_baseline'])}")
    return "\n".join(lines)
