"""What a claim is about, computed from the tidy data: one number per part (a model, level,
task...) and the value compared with the stated one (their range, or one extreme).

A `Reader` looks every series up for one source (paper or reproduction) and records what it
read, so that the mutation test can break exactly the rows a verdict rests on. A reader of a
reproduction in the fast setting (fast=True) reads each variant's fast twin (`fast`,
`fast-fp16`: repro/core/ties.py) instead: evaluation.reader decides which, per claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from repro.config.claims import Quantity
from repro.config.metrics import metrics
from repro.core.ties import setting_variant
from repro.report.analysis import correlation
from repro.report.queries import display_name, metric_for, series

CORRELATIONS = ("pearson_r", "pearson_p", "spearman_rho")
COUNTS = ("n_tasks", "n_levels", "n_models")
ARCH = ("expansion_ratio", "expansion_excess", "kept_width", "params")
CHANGES = ("value", "rel_change", "abs_change", "retained")
RATIO_TOLERANCE = 0.01  # 2.4x: 4916/2048 = 2.4004, 7373/3072 = 2.4001
LOWER_SCORES = {"word_perplexity", "byte_perplexity", "perplexity", "bits_per_byte"}
# figures derived from the published efficiency rows (batch 1: throughput = tokens / call time)
DERIVED = {"ms_per_token": ("throughput_mean",), "tokens_per_call": ("ttlt_mean", "throughput_mean")}


class NotRun(Exception):
    """The data has no rows for this quantity (normal for a reproduction that skipped it)."""


def as_list(v) -> list:
    return list(v) if isinstance(v, tuple | list) else [v]


@dataclass
class Part:
    """One number of a claim: a model (criterion, task group) at a level, with its baseline."""

    label: str
    value: float
    kind: str
    model: str = ""
    cells: tuple[tuple[str, str, str], ...] = ()   # (task, metric, filter) averaged per level
    level: float | None = None
    base: float | None = None
    reference: float = 0.0                         # the level `base` is (0: the baseline)
    criterion: str = "maw"
    variant: str = ""
    scale: float = 1.0
    series: pd.Series | None = None                # the values by level the part comes from


@dataclass
class Computed:
    parts: list[Part]
    value: float | tuple                           # compared with the stated value
    pick: int | None = None                        # the part `value` is (min/max), if one
    extra: dict = field(default_factory=dict)


def direction(task: str, metric: str) -> str:
    """'higher' or 'lower': which way a score or an efficiency figure counts as better."""
    cfg = metrics()
    if metric in LOWER_SCORES:
        return "lower"
    if task in cfg.columns and cfg.columns[task].metric == metric:
        return cfg.columns[task].better
    if metric in cfg.efficiency.figures:
        return cfg.efficiency.figures[metric].better
    lower = ("latency", "ttlt", "_ms", "ms_per", "energy", "joules", "tokens_per_call")
    return "lower" if any(k in metric for k in lower) else "higher"


_ROWS: dict[int, tuple[pd.DataFrame, dict]] = {}


def _rows(df: pd.DataFrame) -> dict:
    """(model, task, metric, filter, source, variant, level) -> {criterion: row}, once per frame."""
    hit = _ROWS.get(id(df))
    if hit is None or hit[0] is not df:
        index: dict = {}
        cols = ["model", "task", "metric", "filter", "source", "variant", "level", "criterion",
                "value", "stderr", "unit"]
        for m, t, me, f, s, v, lv, c, val, se, u in df[cols].itertuples(index=False, name=None):
            index.setdefault((m, t, me, f, s, v, float(lv)), {})[c] = {
                "value": float(val), "stderr": float(se), "unit": u}
        _ROWS.clear()
        _ROWS[id(df)] = hit = (df, index)
    return hit[1]


class Reader:
    def __init__(self, df: pd.DataFrame, source: str, fast: bool = False):
        self.df, self.source, self.fast = df, source, fast
        self.read: list[tuple] = []

    def variant(self, variant: str) -> str:
        """The variant this reader reads for `variant`: its fast twin in the fast setting."""
        return setting_variant(variant, True) if self.fast else variant

    def series(self, model, task, metric, filt, criterion="maw", variant="") -> pd.Series:
        variant = self.variant(variant)
        self.read.append(("series", model, task, metric, filt, criterion, variant))
        if metric in DERIVED:
            parts = [self.series(model, task, m, filt, criterion, variant) for m in DERIVED[metric]]
            if any(p.empty for p in parts):
                return pd.Series(dtype=float)
            if metric == "ms_per_token":
                return 1000.0 / parts[0]
            return (parts[0] * parts[1] / 1000.0).dropna()
        return series(self.df, model, task, metric, filt, source=self.source,
                      criterion=criterion, variant=variant)

    def cell(self, model, task, metric, filt, level, criterion="maw", variant="") -> dict | None:
        """The row behind one value (level 0 is shared by every criterion), or None."""
        variant = self.variant(variant)
        by_crit = _rows(self.df).get((model, task, metric, filt, self.source, variant, float(level)), {})
        hit = by_crit.get(criterion) if level != 0 else (by_crit[min(by_crit)] if by_crit else None)
        alias = metrics().efficiency.reproduction_aliases.get(metric)
        if hit is None and self.source == "reproduction" and alias:
            return self.cell(model, task, alias, filt, level, criterion, variant)
        return hit

    def arch(self, model, level, column) -> float:
        self.read.append(("arch", model, level))
        d = self.df
        sel = d[(d.model == model) & (d.level == level) & (d.source == self.source)]
        if sel.empty:
            raise NotRun(f"no {self.source} rows for {model} at {level:g}%")
        v = sel[column].iloc[0]
        if pd.isna(v):  # the schema allows an unknown parameter count
            raise NotRun(f"{column} of {model} at {level:g}% is unknown in the {self.source} data")
        return float(v)


def metric_of(q: Quantity, model: str, task: str) -> tuple[str, str]:
    if q.metric is not None:
        return q.metric, q.filter or "none"
    return metric_for(model, task)


def level_series(r: Reader, q: Quantity, model, tasks, criterion) -> tuple[pd.Series, tuple]:
    """Values by level of a task group (several tasks: their mean per level)."""
    cells, parts = [], []
    for task in tasks:
        metric, filt = metric_of(q, model, task)
        s = r.series(model, task, metric, filt, criterion, q.variant)
        if s.empty:
            raise NotRun(f"no {r.source} rows for {model} {task} {metric}")
        cells.append((task, metric, filt))
        parts.append(s)
    both = pd.concat(parts, axis=1, join="inner")
    if both.empty:
        raise NotRun(f"no level has every task of {list(tasks)}")
    return both.mean(axis=1), tuple(cells)


def _task_groups(q: Quantity) -> list[tuple[str, ...]]:
    tasks = tuple(as_list(q.task))
    return [(t,) for t in tasks] if q.combine == "each" else [tasks]


def _label(model, crit, group, lv, q: Quantity) -> str:
    bits = [display_name(model)]
    if len(as_list(q.criterion)) > 1:
        bits.append(crit.upper())
    if q.combine == "each" and len(as_list(q.task)) > 1:
        bits.append(group[0])
    if lv is not None:
        bits.append(f"{lv:g}%")
    return " ".join(bits)


def compute(r: Reader, q: Quantity) -> Computed:
    kind = q.of
    if kind in CORRELATIONS:
        return _correlation(r, q)
    if kind in COUNTS:
        return _count(r, q)
    if kind == "tradeoff":
        return _tradeoff(r, q)
    parts: list[Part] = []
    for model in as_list(q.model):
        if kind in ARCH:
            for lv in as_list(q.level):
                col = "expansion_ratio" if kind == "expansion_excess" else kind
                v = r.arch(model, lv, col)
                v = (v - 1.0) if kind == "expansion_excess" else v
                parts.append(Part(_label(model, "", (), lv, q), v * q.scale, kind, model, level=lv,
                                  scale=q.scale))
            continue
        for crit in as_list(q.criterion):
            for group in _task_groups(q):
                s, cells = level_series(r, q, model, group, crit)
                if q.level == () and q.ratio is None:
                    _covers(r, q, model, group, crit, s)
                common = dict(kind=kind, model=model, cells=cells, criterion=crit,
                              variant=r.variant(q.variant), scale=q.scale, series=s)
                if kind in ("argmax_level", "argmin_level"):
                    pruned = s[s.index > 0]
                    lv = float(pruned.idxmax() if kind == "argmax_level" else pruned.idxmin())
                    parts.append(Part(_label(model, crit, group, None, q), lv, **common))
                    continue
                ref = q.reference
                if ref not in s.index:
                    raise NotRun(f"no {r.source} {'baseline' if ref == 0 else f'{ref:g}% level'} "
                                 f"for {model} {list(group)}")
                base = float(s[ref])
                if base == 0 and kind not in ("value", "abs_change"):  # found by the rehearsal
                    raise NotRun(f"the {r.source} {'baseline' if ref == 0 else f'{ref:g}% level'} of "
                                 f"{model} {list(group)} is 0: a relative change is undefined")
                levels = as_list(q.level) if q.level != () else [lv for lv in s.index if lv > ref]
                if q.ratio is not None:
                    levels = [lv for lv in s.index if lv > 0 and abs(
                        r.arch(model, lv, "expansion_ratio") - q.ratio) <= RATIO_TOLERANCE]
                    if not levels:
                        raise NotRun(f"no {r.source} level of {model} at ratio {q.ratio:g}")
                for lv in levels:
                    if lv not in s.index:
                        raise NotRun(f"no {r.source} value for {model} {list(group)} at {lv:g}%")
                    parts.append(Part(_label(model, crit, group, lv, q),
                                      change(kind, float(s[lv]), base) * q.scale, level=lv,
                                      base=base, reference=ref, **common))
    return reduce(parts, q.reduce)


def _covers(r: Reader, q: Quantity, model, tasks, criterion, s: pd.Series) -> None:
    """A claim about every pruned level needs every level the paper ran (a reproduction that
    ran fewer is 'not run' for it, not judged on a subset)."""
    if r.source == "paper":
        return
    paper, _ = level_series(Reader(r.df, "paper"), q, model, tasks, criterion)
    missing = sorted(set(paper.index) - set(s.index))
    if missing:
        raise NotRun(f"{r.source} lacks level(s) {', '.join(f'{lv:g}%' for lv in missing)} "
                     f"of {model} {list(tasks)}")


def change(kind: str, v, base):
    """A level's value as the claim states it: itself, % change, difference or % retained."""
    if kind == "value":
        return v
    if kind == "abs_change":
        return v - base
    return 100.0 * (v / base - 1.0) if kind == "rel_change" else 100.0 * v / base


def reduce(parts: list[Part], how: str) -> Computed:
    vals = [p.value for p in parts]
    if how == "sum":
        return Computed(parts, float(sum(vals)))
    if how in ("min", "max"):
        i = vals.index(min(vals) if how == "min" else max(vals))
        return Computed(parts, vals[i], pick=i)
    lo, hi = min(vals), max(vals)
    return Computed(parts, lo if lo == hi else (lo, hi), pick=0 if len(parts) == 1 else None)


def _correlation(r: Reader, q: Quantity) -> Computed:
    models = as_list(q.model)
    points = []
    for model in models:
        x = r.series(model, q.x, *metric_for(model, q.x))
        y = r.series(model, q.y, *metric_for(model, q.y))
        both = pd.concat([x, y], axis=1, join="inner")
        points += [(model, float(lv), float(a), float(b)) for lv, (a, b) in both.iterrows()]
    c = correlation(r.df, q.x, q.y, models, r.source, variant=r.variant(""))
    if c["pearson_r"] is None:
        raise NotRun(f"fewer than 3 {r.source} points for {q.x} vs {q.y}")
    v = c[q.of] * q.scale
    part = Part(" + ".join(display_name(m) for m in models), v, q.of, models[0])
    return Computed([part], v, pick=0, extra={"points": points, "correlation": c})


def _count(r: Reader, q: Quantity) -> Computed:
    """Design counts; a reproduction that covers less than the paper did is 'not run' for them."""
    col = {"n_tasks": "task", "n_levels": "level", "n_models": "model"}[q.of]
    r.read.append(("count", col, tuple(as_list(q.model))))
    d = r.df
    main = d[d.unit == ""]

    def n(source: str, variant: str) -> int:
        sub = main[(main.source == source) & (main.variant == variant)]
        if col == "model":
            return int(sub.model.nunique())
        return min(int(sub[sub.model == m][col].nunique()) for m in as_list(q.model))

    counts = {"paper": n("paper", ""), r.source: n(r.source, r.variant(""))}
    if counts[r.source] == 0 or (r.source != "paper" and counts[r.source] < counts["paper"]):
        raise NotRun(f"{r.source} covers {counts[r.source]} of the paper's {counts['paper']} {col}s")
    v = float(counts[r.source])
    return Computed([Part(col + "s", v, q.of)], v, pick=0)


def _tradeoff(r: Reader, q: Quantity) -> Computed:
    """The trade-off per level (% change of each task from the baseline, signed so that more is
    better) and which levels no other level beats on every task at once."""
    model = as_list(q.model)[0]
    table: dict[float, dict[str, float]] = {}
    for task in as_list(q.task):
        metric, filt = metric_of(replace(q, metric=None), model, task)
        s = r.series(model, task, metric, filt, "maw", q.variant)
        if s.empty or 0 not in s.index:
            raise NotRun(f"no {r.source} baseline for {model} {task}")
        sign = 1.0 if direction(task, metric) == "higher" else -1.0
        for lv, v in s.items():
            table.setdefault(float(lv), {})[task] = sign * 100.0 * (v / s[0] - 1.0)
    levels = sorted(lv for lv, row in table.items() if len(row) == len(as_list(q.task)))
    beaten = {lv: [o for o in levels if o != lv and _dominates(table[o], table[lv])] for lv in levels}
    free = tuple(lv for lv in levels if not beaten[lv])
    parts = [Part(f"{display_name(model)} {lv:g}%", float(lv), "tradeoff", model, level=lv)
             for lv in free]
    return Computed(parts, free, extra={"table": table, "beaten_by": beaten})


def _dominates(a: dict, b: dict) -> bool:
    return all(a[k] >= b[k] for k in b) and any(a[k] > b[k] for k in b)
