"""Look-ups in the tidy data the tables, figures and claims share: one run per cell
(`current`), a task's values by level (`series`), and the metric a table reports
(`metric_for`, from repro/config/metrics.yaml).

Which reproduction a table shows, and the notes that mark it, live here once: the paper's
setting first, else the same pruned with another tie-break (`stable`), else evaluated in the fast
setting (`fast`, batched), else both (`candidates`, `reproduction_variant`); `rule_note`,
`setting_note` and `reproduction_notes` say so under a table, `variant_tag` in a legend, and
`setting_label` after a claim's reproduction verdict (the claims judge the paper's rule only:
`claims_variant`).
"""

from __future__ import annotations

import pandas as pd

from repro.config.metrics import metrics
from repro.config.models import load_models
from repro.core.ties import (
    PAPER_TIE_BREAK,
    TIE_BREAKS,
    is_fast,
    rule_of,
    rule_variant,
    setting_variant,
)
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


def candidates(variant: str = "", rules: tuple[str, ...] = TIE_BREAKS) -> list[str]:
    """The variants that may stand for `variant`'s reproduction, in the order a table prefers
    them: the paper's setting pruned with the paper's rule, then with another rule (`stable`),
    then the fast setting (batched, `fast`) with the paper's rule, then with another
    (`fast-stable`). A row in the paper's setting always wins over a fast one."""
    return list(dict.fromkeys(rule_variant(setting_variant(variant, fast), rule)
                              for fast in (False, True) for rule in rules))


def reproduction_variant(df: pd.DataFrame, model: str | list[str], tasks: list[str],
                         variant: str = "", rules: tuple[str, ...] = TIE_BREAKS) -> str:
    """The variant whose reproduction a table shows: the first of `candidates(variant)` the
    data hold for the model(s) and tasks (no task named: any), else `variant` itself. One that
    is not `variant` is marked (`reproduction_notes`) instead of left out."""
    models = [model] if isinstance(model, str) else list(model)
    rep = df[(df.source == "reproduction") & (df.model.isin(models) if models else True)
             & (df.task.isin(tasks) if len(tasks) else True)]
    have = set(rep.variant)
    return next((v for v in candidates(variant, rules) if v in have), variant)


def claims_variant(df: pd.DataFrame, models: list[str], tasks: list[str], variant: str = "") -> str:
    """The variant a reproduction is judged in by the claims (and analysis/correlations.json):
    the tables' rule on the paper's tie-break alone, `variant` or its fast twin."""
    return reproduction_variant(df, models, tasks, variant, rules=(PAPER_TIE_BREAK,))


def rule_note(variant: str) -> list[str]:
    """A table note when its reproduction was pruned with a tie-break other than the paper's."""
    rule = rule_of(variant)
    if rule == PAPER_TIE_BREAK:
        return []
    return [f"Reproduced rows were pruned with tie-break '{rule}', not the paper's "
            f"'{PAPER_TIE_BREAK}': where neuron scores tie at the cut, other neurons were kept."]


# the fast setting, as every table, figure and the claims report name it
FAST_LABEL = "fast setting"
FAST_SETTING = ("the fast setting (batched, repro/config/evaluation.yaml fast:), not the paper's "
                "batch 1")
FAST_CAVEAT = ("scores can move with batching; python -m repro selftest on a GPU measures by "
               "how much")


def setting_note(variant: str) -> list[str]:
    """A table note when its reproduction was evaluated in the fast setting (batched)."""
    return [f"Reproduced rows were evaluated in {FAST_SETTING}: {FAST_CAVEAT}."] if is_fast(variant) else []


def reproduction_notes(variant: str) -> list[str]:
    """Every note a table's reproduction in `variant` needs: its tie-break, its setting."""
    return rule_note(variant) + setting_note(variant)


def variant_tag(variant: str) -> str:
    """A reproduction's setting and rule in a few words where a note does not fit (a figure's
    legend): '' for the paper's, 'fast setting', 'tie-break stable', or both."""
    rule = rule_of(variant)
    return ", ".join(t for t in (FAST_LABEL if is_fast(variant) else "",
                                 "" if rule == PAPER_TIE_BREAK else f"tie-break {rule}") if t)


def setting_label(row: dict) -> str:
    """' (fast setting)' after the verdict of a claims row (claims/reports.rows) whose
    reproduction was judged in the fast setting, else '': every report shows it."""
    return f" ({FAST_LABEL})" if row.get("reproduction_setting") == "fast" else ""
