"""Relative changes to the unpruned baseline and correlations, computed from the tidy data.

    python -m repro analyze --data data --out paper/generated

writes analysis/relative_change.csv (every score row with its baseline and % change) and
analysis/correlations.json (Pearson and Spearman, with p-values, e.g. MMLU vs TruthfulQA-MC2
per model and pooled), for the published figures and, where present, the reproduction.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import pandas as pd

from repro.config.report import report
from repro.core.atomicio import write_json, write_text
from repro.core.ties import is_fast
from repro.report.queries import claims_variant, current, series
from repro.results.schema import KEY, SOURCES, load_dir

log = logging.getLogger("repro.analyze")


def add_data_options(parser) -> None:
    """--data and --out, as every report command takes them."""
    parser.add_argument("--data", type=Path, default=Path("data"),
                        help="folder of schema CSV files (default: data)")
    parser.add_argument("--out", type=Path, default=Path("paper/generated"),
                        help="output folder (default: paper/generated)")


def relative_change(df: pd.DataFrame) -> pd.DataFrame:
    """Every row with its level-0 baseline and the % change to it (NaN where no baseline)."""
    group = ["model", "variant", "task", "metric", "filter", "source"]
    base = (df[df.level == 0].sort_values(KEY).drop_duplicates(group, keep="last")
            .set_index(group)["value"].rename("baseline"))
    out = df.join(base, on=group)
    out["rel_change_pct"] = 100.0 * (out.value / out.baseline - 1.0)
    return out


def _pearson(x: list[float], y: list[float]) -> tuple[float, float]:
    """Pearson r and its two-sided p-value, as scipy.stats.pearsonr computes them (the exact
    null distribution of r is a beta distribution); scipy.stats itself is a 1-2 s import."""
    import numpy as np
    from scipy.special import betainc

    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    xm, ym = xa - xa.mean(), ya - ya.mean()
    # correctly rounded sums, not BLAS dot products: those differ in the last bit between
    # numpy builds and CPUs, and the report must be byte-identical on the host and in the image
    denom = math.sqrt(math.fsum(xm * xm) * math.fsum(ym * ym))
    if denom == 0.0:
        return math.nan, math.nan
    r = max(-1.0, min(1.0, math.fsum(xm * ym) / denom))
    dof = len(xa) - 2
    p = 0.0 if abs(r) == 1.0 else float(betainc(dof / 2, 0.5, dof / (dof + r * r * dof / (1 - r * r))))
    return r, p


def correlation(df: pd.DataFrame, x: str, y: str, models: list[str], source: str = "paper",
                variant: str = "") -> dict:
    """Pearson and Spearman correlation (with p-values) of two tasks' paper metrics over levels,
    pooled over the models given (in `variant`: '' is the paper's setting)."""
    xs, ys = [], []
    for model in models:
        pair = pd.concat([series(df, model, x, source=source, variant=variant),
                          series(df, model, y, source=source, variant=variant)],
                         axis=1, join="inner")
        xs += pair.iloc[:, 0].tolist()
        ys += pair.iloc[:, 1].tolist()
    out = {"x": x, "y": y, "models": list(models), "source": source, "n": len(xs)}
    if len(xs) < 3:
        return out | {"pearson_r": None, "pearson_p": None, "spearman_rho": None, "spearman_p": None}
    r, p = _pearson(xs, ys)
    # Spearman = Pearson on average ranks (ties shared), with the same t-based p-value as scipy
    rho, sp = _pearson(pd.Series(xs).rank().tolist(), pd.Series(ys).rank().tolist())
    clean = lambda v: None if math.isnan(v) else float(v)  # noqa: E731
    return out | {"pearson_r": clean(r), "pearson_p": clean(p), "spearman_rho": clean(rho),
                  "spearman_p": clean(sp)}


def correlations(df: pd.DataFrame) -> list[dict]:
    """The correlations of repro/config/report.yaml for every source in the data, each with the
    claim of the paper it checks, or why the kit computes it. A reproduction's is read as the
    claims read it: in the fast setting where its models hold x and y only in that setting,
    and then says so ("setting": "fast")."""
    out = []
    for source in SOURCES:
        if not (df.source == source).any():
            continue
        for c in report().correlations:
            v = "" if source == "paper" else claims_variant(df, list(c.models), [c.x, c.y])
            out.append(correlation(df, c.x, c.y, list(c.models), source, variant=v)
                       | ({"setting": "fast"} if is_fast(v) else {})
                       | {"claim": c.claim, "why": c.why})
    return out


def _csv(df: pd.DataFrame) -> str:
    text = df.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    if "\r" in text:  # csv leaves a lone CR unquoted, and a reader takes it for a line end
        text = df.to_csv(index=False, float_format="%.10g", lineterminator="\n",
                         quoting=csv.QUOTE_NONNUMERIC)
    return text


def write_analysis(df: pd.DataFrame, out: Path) -> list[dict]:
    scores = relative_change(df[df.unit == ""]).sort_values(KEY, kind="stable")
    cols = ["model", "criterion", "level", "variant", "task", "metric", "filter", "source",
            "run_id", "value", "baseline", "rel_change_pct"]
    write_text(out / "analysis" / "relative_change.csv", _csv(scores[cols]))
    corr = correlations(df)
    write_json(out / "analysis" / "correlations.json", corr)
    return corr


def configure(parser) -> None:
    add_data_options(parser)


def run(args) -> int:
    from repro.report.publish import ANALYSIS, prepare, publish

    out = prepare(args.out)
    df = current(load_dir(args.data))
    with publish(out, ANALYSIS) as stage:
        found = write_analysis(df, stage)
    for c in found:
        if c["pearson_r"] is not None:
            what = (f"the paper's claim {c['claim']}" if c["claim"] else
                    f"not a claim of the paper, computed for {c['why']}")
            log.info("%s: r(%s, %s) over %s = %.3f (p = %.4f, n = %d); %s", c["source"], c["x"],
                     c["y"], "+".join(c["models"]), c["pearson_r"], c["pearson_p"], c["n"], what)
    return 0
