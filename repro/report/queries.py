"""Look-ups in the tidy data the tables, figures and claims share: one run per cell
(`current`), a task's values by level (`series`), and the metric a table reports
(`metric_for`, from repro/config/metrics.yaml).
"""

from __future__ import annotations

import pandas as pd

from repro.config.metrics import metrics
from repro.config.models import load_models
from repro.core.ties import PAPER_TIE_BREAK, TIE_BREAKS, rule_of, rule_variant
from repro.results.schema import KEY


def metric_for(model: str, task: str, table: str | None = None) -> tuple[str, str]:
    """(metric, filter) the paper's tables use for this model and task (metrics.yaml)."""
    return metrics().metric_for(model, task, table)


def display_name(model: str) -> str:
    """How tables and figures name a model (models.yaml `display_name`; else its short name)."""
    spec = load_models().get(model)
    return spec.label if spec else model


def current(df: pd.DataFrame) -> pd.DataFrame:
    """One run per cell and source: where a cell was run more than once, the newest run's value
    (by `ran_at`, when aggregate recorded the cell; runs without it come first, by name), and
    one line per pair of runs that share cells, naming both and which one is shown."""
    import logging

    cell = [k for k in KEY if k != "run_id"]
    ranked = df.assign(ran_at=df["ran_at"] if "ran_at" in df else "").sort_values(
        [*cell, "ran_at", "run_id"], kind="stable")
    shown = ranked.drop_duplicates(cell, keep="last")
    hidden = ranked[ranked.duplicated(cell, keep="last")]
    if not hidden.empty:
        pairs = hidden.merge(shown[[*cell, "run_id", "ran_at"]], on=cell, suffixes=("", "_shown"))
        when = ranked.groupby("run_id")["ran_at"].max()
        cells = pairs.drop_duplicates(["run_id", "run_id_shown", "model", "criterion", "level",
                                       "variant", "task"])
        for (old, new), n in cells.groupby(["run_id", "run_id_shown"]).size().items():
            then = f"ran {when[old]}" if when[old] else "has no time recorded"
            how = (f"{new} ran {when[new]}, {old} {then}"
                   if when[new] else "neither has a time recorded (aggregate them again); by name")
            logging.getLogger("repro.report").warning(
                "runs %s and %s both hold %d cell(s); the tables show %s's, the newer (%s)",
                old, new, n, new, how)
    return shown.reset_index(drop=True)


_INDEX: dict[int, tuple[pd.DataFrame, dict]] = {}


def _cells(df: pd.DataFrame) -> dict:
    """(model, task, metric, filter, source, variant) -> [(level, criterion, value)], built once
    per frame: tables, figures and claims look up hundreds of series in the same frame."""
    hit = _INDEX.get(id(df))
    if hit is None or hit[0] is not df:
        cells: dict = {}
        cols = ["model", "task", "metric", "filter", "source", "variant", "level", "criterion", "value"]
        for m, t, me, f, s, v, lv, c, val in df[cols].itertuples(index=False, name=None):
            cells.setdefault((m, t, me, f, s, v), []).append((float(lv), c, float(val)))
        _INDEX.clear()
        _INDEX[id(df)] = hit = (df, cells)
    return hit[1]


def series(df: pd.DataFrame, model: str, task: str, metric: str | None = None,
           filt: str | None = None, *, source: str = "paper", criterion: str = "maw",
           variant: str = "") -> pd.Series:
    """Values by level for one model/task/metric; level 0 is the shared unpruned baseline."""
    if metric is None:
        metric, filt = metric_for(model, task)
    cells = _cells(df)
    rows = cells.get((model, task, metric, filt or "none", source, variant), [])
    if not rows and source == "reproduction":  # same quantity, measured differently (metrics.yaml)
        alias = metrics().efficiency.reproduction_aliases.get(metric)
        rows = cells.get((model, task, alias, filt or "none", source, variant), []) if alias else []
    by_level: dict[float, float] = {}
    for lv, crit, val in sorted(rows):  # level 0: the first criterion in sort order wins
        if (crit == criterion or lv == 0) and lv not in by_level:
            by_level[lv] = val
    return pd.Series(list(by_level.values()), index=list(by_level), name=task, dtype=float)


def reproduction_variant(df: pd.DataFrame, model: str, tasks: list[str], variant: str = "") -> str:
    """The variant whose reproduction a table shows: `variant` itself (pruned with the paper's
    tie-break) when the data hold it, else the same setting pruned with another rule (e.g.
    `stable`), which the table then marks (`rule_note`) instead of leaving out."""
    rep = df[(df.source == "reproduction") & (df.model == model) & df.task.isin(tasks)]
    have = set(rep.variant)
    for rule in TIE_BREAKS:  # the paper's first
        if rule_variant(variant, rule) in have:
            return rule_variant(variant, rule)
    return variant


def rule_note(variant: str) -> list[str]:
    """A table note when its reproduction was pruned with a tie-break other than the paper's."""
    rule = rule_of(variant)
    if rule == PAPER_TIE_BREAK:
        return []
    return [f"Reproduced rows were pruned with tie-break '{rule}', not the paper's "
            f"'{PAPER_TIE_BREAK}': where neuron scores tie at the cut, other neurons were kept."]
