"""Stage 4, aggregate: raw result cells -> the tidy schema (repro/results/schema.py), one CSV per run.

    python -m repro aggregate --results results --run-id 2026-11-a100   # -> data/reproduction/2026-11-a100.csv

Every intact cell under --results (evaluate and neuron_selection stages) becomes one row per
kept lm-eval result key (suites.yaml `metrics`): `acc,none` -> metric acc, filter none, with
`acc_stderr,none` in the stderr column (empty where lm-eval gives 'N/A'). Groups (mmlu, musr)
give their group row; `subtasks: true` tasks also their subtasks' rows. kept_width,
expansion_ratio and params come from the cell's prune record. source = reproduction, run_id as
given, ran_at the time the cell was computed (the report shows the newest run of a cell,
whatever the runs are named); each cell also gives an `n_shot` row (unit `shots`: the
few-shot count lm-eval ran). A value that is missing, not a number, NaN or outside its
metric's range (repro/results/values.py) is no row: each is named by cell, task and metric,
and listed in the provenance's `unusable_values`. A sidecar <run_id>.provenance.json lists the
kit commits, package versions, lm-eval task versions and config hashes the cells were computed
with, and <run_id>.samples.csv.gz the per-document scores of every cell's logged samples
(repro/results/samples.py), for the claims report's paired tests. The three files are one set:
staged whole, then moved in together under a lock on --out (atomicio.write_together), so two
aggregates into one folder never mix their files. Damaged or truncated cells are skipped with
a warning (rerun the stage to recompute them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from pathlib import Path

import pandas as pd

from repro.core import options
from repro.core.errors import ReproError
from repro.results import samples, values
from repro.results.cells import SCORE_STAGES, Cell, identity_of, scan
from repro.results.schema import ran_at
from repro.results.values import Unusable

log = logging.getLogger("repro.aggregate")


def rows_for(cell: Cell, payload: dict, run_id: str, ran_at: str = "",
             unusable: list[Unusable] | None = None) -> list[dict]:
    """The tidy rows of one cell; each value left out (missing, not a number, NaN, outside
    its metric's range: repro.results.values) is appended to `unusable`."""
    results = {**payload.get("results", {}), **payload.get("groups", {})}
    names = [cell.task]
    if payload.get("subtasks_kept"):
        names += list(payload.get("group_subtasks", {}).get(cell.task, []))
    prune = payload.get("prune", {})
    skipped = unusable if unusable is not None else []
    rows = []
    for name in names:
        res = results.get(name)
        if res is None:
            skipped.append(Unusable(cell.id, name, "*", "-", "no results for the task"))
            continue
        for key in payload.get("metrics_kept", []):
            metric, filt = key.split(",", 1)
            value, why = values.problem(metric, res.get(key))
            if why:
                skipped.append(Unusable(cell.id, name, key, repr(res.get(key)), why))
                continue
            stderr_key = f"{metric}_stderr,{filt}"
            stderr, why = values.stderr_problem(res.get(stderr_key))
            if why:
                skipped.append(Unusable(cell.id, name, stderr_key, repr(res.get(stderr_key)),
                                        f"{why} (the value is kept, its stderr left empty)"))
            rows.append({
                "model": cell.model, "criterion": cell.criterion, "level": cell.level,
                "variant": cell.variant, "task": name, "metric": metric, "filter": filt,
                "value": value, "stderr": stderr, "unit": "",
                "kept_width": prune.get("kept_width"), "expansion_ratio": prune.get("expansion_ratio"),
                "params": prune.get("params_after"), "source": "reproduction", "run_id": run_id,
                "ran_at": ran_at,
            })
    shots = _shots(cell, payload)
    if shots is not None and rows:
        rows.append({**rows[0], "task": cell.task, "metric": "n_shot", "filter": "none",
                     "value": shots, "stderr": None, "unit": "shots"})
    return rows


def check_one_model(seen: dict, cell: Cell, rec: dict) -> None:
    """Every cell of a model name must come from one model (identity in its provenance)."""
    ident = identity_of(rec)
    if ident is None or ident.startswith("random-init:"):
        return
    first = seen.setdefault(cell.model, (ident, cell))
    if first[0] != ident:
        raise ReproError(f"cells of '{cell.model}' come from two models: {first[1].id} from "
                         f"{first[0]}, {cell.id} from {ident}; rerun the stage for the model you "
                         "mean (stale cells are recomputed) or aggregate the runs separately")


def _shots(cell: Cell, payload: dict) -> float | None:
    """The few-shot count lm-eval ran the cell's task with (its subtasks' if they all agree)."""
    shots = payload.get("n-shot", {})
    if cell.task in shots:
        return values.problem("n_shot", shots[cell.task])[0]
    groups = payload.get("group_subtasks", {})

    def leaves(name: str) -> list[str]:  # mmlu -> mmlu_stem -> mmlu_anatomy (found by the rehearsal)
        return [x for sub in groups.get(name, []) for x in (leaves(sub) if sub in groups else [sub])]

    subs = {values.problem("n_shot", shots[k])[0] for k in leaves(cell.task) if k in shots}
    return subs.pop() if len(subs) == 1 else None


def _samples(root: Path, cell: Cell, rec: dict, run_id: str, when: str) -> list[dict]:
    names = [n for n in rec.get("attachments", {}) if n.endswith("samples.jsonl.gz")]
    path = cell.path(root)
    return [r for n in names
            for r in samples.rows_for(cell, rec["payload"],
                                      path.with_name(f"{path.stem}.{n}").read_bytes(), run_id,
                                      ran_at=when)]


def aggregate(root: Path, run_id: str) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Tidy rows, provenance and per-document scores of every intact cell under root. Values
    that cannot be rows are listed in the provenance's `unusable_values`, each logged."""
    rows, prov = [], {"run_id": run_id, "cells": 0, "kit_commits": set(), "lm_eval": set(),
                      "packages": {}, "task_versions": {}, "task_config_sha256": {}, "devices": set()}
    per_doc: list[dict] = []
    unusable: list[Unusable] = []
    seen: dict[str, tuple[str, Cell]] = {}
    for cell, rec in scan(root, SCORE_STAGES):
        check_one_model(seen, cell, rec)
        when = ran_at(rec, cell.path(root))
        try:
            left_out: list[Unusable] = []
            mine = rows_for(cell, rec["payload"], run_id, when, left_out)
            docs = _samples(root, cell, rec, run_id, when)
        except (TypeError, ValueError, AttributeError, KeyError):  # edited by hand, checksum redone
            log.warning("%s: its payload is not lm-eval's record; skipped (rerun the stage)",
                        cell.path(root))
            continue
        rows += mine
        per_doc += docs
        unusable += left_out
        p = rec.get("provenance", {})
        prov["cells"] += 1
        prov["kit_commits"].add(p.get("kit_commit"))
        prov["lm_eval"].add((p.get("lm_eval") or {}).get("version"))
        prov["devices"].add(p.get("host", {}).get("gpu_name") or p.get("host", {}).get("processor"))
        for name, ver in (p.get("packages") or {}).items():
            prov["packages"].setdefault(name, set()).add(ver)
        for t, v in rec["payload"].get("versions", {}).items():
            prov["task_versions"].setdefault(t, set()).add(v)
        for t, h in (p.get("lm_eval") or {}).get("task_config_sha256", {}).items():
            prov["task_config_sha256"].setdefault(t, set()).add(h)
    # efficiency cells carry their own rows (repro/results/efficiency_rows.py turns them tidy)
    from repro.results.efficiency_rows import efficiency_rows

    eff = efficiency_rows(root, run_id, unusable)
    rows += eff.astype(object).where(eff.notna(), None).to_dict("records")
    for u in unusable:
        log.warning("%s; left out of the rows (check the cell, or delete it to compute it again)",
                    u.line())
    prov["unusable_values"] = [u.record() for u in unusable]
    prov["efficiency_rows"] = len(eff)
    prov["cells"] += len(eff[["model", "criterion", "level", "variant", "task"]].drop_duplicates())
    if not rows:
        raise ReproError(f"no finished cells under {root}; run `repro evaluate` first or check --results")

    def plain(x):
        if isinstance(x, set):
            return sorted(x, key=str)
        if isinstance(x, dict):
            return {k: plain(v) for k, v in sorted(x.items())}
        return x

    prov["samples_rows"] = len(per_doc)
    return pd.DataFrame(rows), plain(prov), pd.DataFrame(per_doc, columns=samples.COLUMNS)


def check_rehearsal(root: Path, run_id: str, out: Path) -> None:
    """A rehearsal's cells (repro/core/rehearsal.py) go only under the run id REHEARSAL, real
    cells never do, and a rehearsal is never written into the kit's own data/reproduction."""
    from repro.core import rehearsal
    from repro.core.provenance import KIT_ROOT
    from repro.results.cells import EFFICIENCY_STAGE

    marked = rehearsal.is_rehearsal_run(run_id)
    for cell, rec in scan(root, (*SCORE_STAGES, EFFICIENCY_STAGE)):
        if bool((rec.get("provenance") or {}).get("rehearsal")) != marked:
            what = "a rehearsal's (tiny models, stand-in data)" if not marked else "a real run's"
            raise ReproError(f"{cell.id} under {root} is {what} cell, and --run-id is {run_id}: "
                             f"rehearsal cells aggregate only as --run-id {rehearsal.MARK}, real "
                             "ones never; keep their --results folders apart")
    if marked and Path(out).resolve() == (KIT_ROOT / "data" / "reproduction").resolve():
        raise ReproError(f"--out {out} is the kit's own data/reproduction: a rehearsal is never "
                         "written there; give the rehearsal's own folder")


def configure(p: argparse.ArgumentParser) -> None:
    options.add_results(p)
    p.add_argument("--out", type=Path, default=Path("data/reproduction"), help="output folder")
    p.add_argument("--run-id", type=options.plain_name,
                   help="the run's id (default: the --results folder name)")


def run(args: argparse.Namespace) -> int:
    from repro.core.atomicio import check_destination, clean_stale, write_together
    from repro.results.schema import to_csv_text, validate

    if not Path(args.results).is_dir():
        raise ReproError(f"--results {args.results} is not a folder; point it at a run's cells")
    run_id = args.run_id or Path(args.results).resolve().name
    try:
        options.plain_name(run_id)
    except argparse.ArgumentTypeError as exc:
        raise ReproError(f"--run-id (default: the --results folder name): {exc}") from None
    check_destination(args.out, "--out")
    check_rehearsal(Path(args.results), run_id, Path(args.out))
    clean_stale(args.out)
    df, prov, per_doc = aggregate(args.results, run_id)
    df = validate(df, f"cells under {args.results}")
    out = Path(args.out) / f"{run_id}.csv"
    csv, docs = to_csv_text(df).encode(), samples.to_bytes(per_doc)
    names = {"csv": out.name, "samples": f"{run_id}{samples.SUFFIX}",
             "provenance": f"{run_id}.provenance.json"}
    prov["files_sha256"] = {names["csv"]: _sha(csv), names["samples"]: _sha(docs)}
    prov_bytes = (json.dumps(prov, indent=2, sort_keys=True) + "\n").encode()
    # one run's set, staged then moved in under a lock: two aggregates never mix their files;
    # the CSV, which the report looks for, goes last
    write_together(args.out, {names["samples"]: docs, names["provenance"]: prov_bytes,
                              names["csv"]: csv})
    print(f"{out}: {len(df)} rows from {prov['cells']} cells; {len(per_doc)} per-document scores")
    if prov["unusable_values"]:
        print(f"{out}: {len(prov['unusable_values'])} value(s) left out as unusable (not numbers, "
              f"NaN or outside their range), each named above and in {names['provenance']}")
    return 0


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
