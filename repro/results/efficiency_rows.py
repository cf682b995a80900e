"""Efficiency cells to tidy rows: `efficiency_rows()` turns every intact cell under
results/efficiency/ into the tidy schema (task = workload, metric names carry their unit, e.g.
prefill_latency_ms_median), plus the breakdown of the paper workloads' latency changes into
output length and per-token speed. repro/results/aggregate.py calls it. No torch: the cells
already hold their rows (repro/efficiency writes them).
"""

from __future__ import annotations

import logging
from pathlib import Path

from repro.results.cells import EFFICIENCY_STAGE, scan

log = logging.getLogger("repro.aggregate")


def breakdown_rows(df):
    """How much of the paper's batch-1 whole-call latency change (vs level 0) comes from output
    length: ttlt = n tokens x t per token; change = (n1 - n0) t0 [length] + n1 (t1 - t0) [speed],
    with n the real new tokens per prompt and t the whole-call ms per real token."""
    import pandas as pd

    base_cols = ["model", "criterion", "variant", "task", "source", "run_id"]
    df = df if "ran_at" in df else df.assign(ran_at="")
    sel = df[df["task"].str.endswith("_latency_b1") & df["metric"].isin(
        ["ttlt_mean", "new_tokens_per_prompt_real_mean"])]
    if sel.empty:
        return df.iloc[0:0]
    wide = sel.pivot_table(index=base_cols + ["level", "kept_width", "expansion_ratio", "params",
                                              "ran_at"],
                           columns="metric", values="value", aggfunc="first").reset_index()
    wide = wide.dropna(subset=["ttlt_mean", "new_tokens_per_prompt_real_mean"])
    # the unaligned baseline shares its level-0 cell with every variant that has no level 0
    rows = []
    for _, r in wide.iterrows():
        if r["level"] == 0:
            continue
        base_variant = r["variant"]
        for prefix in ("align64", "align128"):
            base_variant = base_variant.removeprefix(prefix).lstrip("-")
        b = wide[(wide["model"] == r["model"]) & (wide["criterion"] == r["criterion"])
                 & (wide["variant"] == base_variant) & (wide["task"] == r["task"])
                 & (wide["run_id"] == r["run_id"]) & (wide["level"] == 0)]
        if b.empty:
            continue
        b = b.iloc[0]
        n0, n1 = b["new_tokens_per_prompt_real_mean"], r["new_tokens_per_prompt_real_mean"]
        t0, t1 = b["ttlt_mean"] / n0, r["ttlt_mean"] / n1
        change = r["ttlt_mean"] - b["ttlt_mean"]
        length = (n1 - n0) * t0
        vals = {"ttlt_change_vs_level0_ms": (change, "ms"),
                "ttlt_change_from_output_length_ms": (length, "ms"),
                "ttlt_change_from_per_token_time_ms": (n1 * (t1 - t0), "ms")}
        if change:
            vals["ttlt_change_share_from_output_length"] = (length / change, "ratio")
        for metric, (v, unit) in vals.items():
            rows.append({**{k: r[k] for k in base_cols}, "level": r["level"], "metric": metric,
                         "filter": "none", "value": float(v), "stderr": None, "unit": unit,
                         "kept_width": r["kept_width"], "expansion_ratio": r["expansion_ratio"],
                         "params": r["params"], "ran_at": r["ran_at"]})
    return pd.DataFrame(rows)


def efficiency_rows(cells_root: str | Path, run_id: str, unusable: list | None = None):
    """Every intact efficiency cell under `cells_root` as tidy rows (repro/results/schema.py), plus the
    output-length breakdown of the paper workloads. Unmeasured figures have no row (never 0);
    a figure that is not a finite number is no row either, and is appended to `unusable`."""
    import pandas as pd

    from repro.results.schema import COLUMNS, ran_at, validate
    from repro.results.values import Unusable, problem

    skipped = unusable if unusable is not None else []
    rows = []
    for cell, rec in scan(cells_root, [EFFICIENCY_STAGE]):
        c, pl = rec["cell"], rec["payload"]
        when = ran_at(rec, cell.path(cells_root))
        try:
            mi = pl["model_info"]
            mine, bad = [], []
            for r in pl["rows"]:
                if r["value"] is None:  # not measured here (e.g. energy without NVML)
                    continue
                value, why = problem(r["metric"], r["value"])
                if why:
                    bad.append(Unusable(cell.id, c["task"], r["metric"], repr(r["value"]), why))
                    continue
                mine.append({"model": c["model"], "criterion": c["criterion"], "level": c["level"],
                             "variant": c["variant"], "task": c["task"], "metric": r["metric"],
                             "filter": "none", "value": value, "stderr": None,
                             "unit": r["unit"], "kept_width": mi["kept_width"],
                             "expansion_ratio": mi["expansion_ratio"], "params": mi["params"],
                             "source": "reproduction", "run_id": run_id, "ran_at": when})
        except (TypeError, ValueError, KeyError, AttributeError):  # edited by hand, checksum redone
            log.warning("%s: its payload is not an efficiency record; skipped (rerun the stage)",
                        cell.path(cells_root))
            continue
        rows += mine
        skipped += bad
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    if not df.empty:
        extra = breakdown_rows(df)
        if not extra.empty:
            df = pd.concat([df, extra[list(COLUMNS)]], ignore_index=True)
    return validate(df, f"efficiency cells under {cells_root}")
