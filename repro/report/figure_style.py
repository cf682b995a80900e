"""What every figure shares: one colour per task in every figure, the 95% bands (from the same
standard errors and intervals the claims use: claims/significance.py), and point labels
placed where they do not overlap.
"""

from __future__ import annotations

import math

import pandas as pd

from repro.config.metrics import metrics
from repro.config.report import report
from repro.report.claims.quantities import Reader
from repro.report.claims.significance import combined, compare, estimate
from repro.report.queries import metric_for

# tasks: Okabe-Ito without its yellow, then Paul Tol's muted colours (colour-blind safe)
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000",
           "#882255", "#44AA99", "#999933"]
# what is not a task (models, criteria): colours no task has
SERIES = ["#332288", "#CC6677", "#117733", "#888888"]


def task_colour(task: str) -> str:
    """A task's colour, the same in every figure: its place in report.yaml's task lists (the
    paper's fragile then robust tasks), then metrics.yaml's columns."""
    figs = report().figures
    order = list(dict.fromkeys([*figs.fragile, *figs.robust, *metrics().columns]))
    i = order.index(task) if task in order else len(order) + sum(map(ord, task))
    return PALETTE[i % len(PALETTE)]


def rel_band(df: pd.DataFrame, model: str, tasks: list[str], source: str = "paper",
             metric: str | None = None, criterion: str = "maw", variant: str = "") -> pd.DataFrame:
    """Per level: the % change from level 0 of the tasks' mean, and its 95% interval where the
    data give standard errors (columns change, lo, hi; NaN bounds where they do not)."""
    r = Reader(df, source)
    cells = [(t, *((metric, "none") if metric else metric_for(model, t))) for t in tasks]
    levels = sorted({lv for t, m, f in cells
                     for lv in r.series(model, t, m, f, criterion, variant).index})
    rows = {}
    if 0.0 not in levels:
        return pd.DataFrame(columns=["change", "lo", "hi"], dtype=float)
    base = combined([estimate(r, model, t, m, f, 0.0, criterion, variant) for t, m, f in cells])
    if base.value == 0:  # a relative change is undefined (a rehearsal's stand-in gsm8k at 0)
        return pd.DataFrame(columns=["change", "lo", "hi"], dtype=float)
    for lv in levels:
        est = combined([estimate(r, model, t, m, f, lv, criterion, variant) for t, m, f in cells])
        if math.isnan(est.value):
            continue
        change = 100.0 * (est.value / base.value - 1.0)
        lo = hi = math.nan
        if lv and base.se is not None and est.se is not None:
            t = compare(base, est, "rel_change", 1.0)
            if t.ci is not None:
                lo, hi = t.ci
        rows[lv] = (change, lo, hi)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["change", "lo", "hi"]).sort_index()


def place_labels(ax, points: list[tuple[float, float, str]], fontsize: float = 6.0) -> None:
    """Label each (x, y) point with its text at the first nearby offset whose box overlaps no
    label placed before and no other point (display coordinates; greedy)."""
    ax.autoscale_view()
    fig = ax.figure
    scale = fig.dpi / 72.0
    disp = [ax.transData.transform((x, y)) for x, y, _ in points]
    taken: list[tuple[float, float, float, float]] = []
    offsets = [(3, 2), (3, -8), (-4, 2), (-4, -8), (3, 7), (-4, 7), (8, -3), (-9, -3), (3, -13)]
    for (x, y, text), (px, py) in zip(points, disp, strict=True):
        w, h = 0.62 * fontsize * len(text) * scale, fontsize * scale
        best = offsets[0]
        for dx, dy in offsets:
            left = px + dx * scale - (w if dx < 0 else 0)
            box = (left, py + dy * scale, left + w, py + dy * scale + h)
            clash = any(not (box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3])
                        for b in taken)
            clash = clash or any(box[0] - 2 < qx < box[2] + 2 and box[1] - 2 < qy < box[3] + 2
                                 for qx, qy in disp if (qx, qy) != (px, py))
            if not clash:
                best = (dx, dy)
                break
        dx, dy = best
        left = px + dx * scale - (w if dx < 0 else 0)
        taken.append((left, py + dy * scale, left + w, py + dy * scale + h))
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                    ha="right" if dx < 0 else "left", va="bottom")
