"""Which model gets which table and figure: driven by models.yaml and the data, not by a list.

- Level tables (metrics.yaml `tables`): every model with pruned rows in the paper's setting
  (variant '', criterion maw; or pruned with another rule, or evaluated in the fast setting,
  which its table then marks: queries.reproduction_variant) gets each table whose `suites` hold
  its models.yaml suite or whose `models` name it; a model no table covers (the smoke model, a
  local folder) gets the `levels` table, with its suite's tasks that have a metrics.yaml column
  (or the tasks it has data for).
- Neuron-selection tables: every (model, dtype variant) with rows at 10% beside the paper's own
  (metrics.yaml `neuron_selection`; fp16-stable, fast-fp16: tables of their own, marked), with
  its selection suite's tasks and every criterion run.
- Dichotomy figures: report.yaml `figures.models` share the paper's figure; every other model
  with two levels or more gets one of its own.
report.tex names the paper's own tables and figures; everything else listed here goes into the
generated `models.tex` (see extensions.py), per model, labelled when the model is not the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from repro.config import suites
from repro.config.metrics import metrics
from repro.config.models import load_models
from repro.config.neuron_selection import neuron_selection
from repro.config.report import report
from repro.core.dtypes import TAGS
from repro.core.ties import paper_setting

NEURON_LEVEL = 10.0


@dataclass(frozen=True)
class LevelTable:
    name: str          # output file name (tables/<name>.tex)
    table: str         # metrics.yaml table
    model: str
    tasks: tuple[str, ...]
    in_paper_report: bool  # report.tex includes it by name


@dataclass(frozen=True)
class NeuronTable:
    name: str
    model: str
    variant: str
    tasks: tuple[str, ...]
    criteria: tuple[str, ...]


def _order(models: set[str]) -> list[str]:
    known = list(load_models())
    return [m for m in known if m in models] + sorted(models - set(known))


def score_models(df: pd.DataFrame) -> list[str]:
    """Models with pruned score rows in the paper's setting (variant '', maw), or in its twins
    (another tie-break, the fast setting: `stable`, `fast`, `fast-stable`)."""
    rows = df[(df.unit == "") & _twins(df, "") & (df.criterion == "maw") & (df.level > 0)]
    return _order(set(rows.model))


def _twins(df: pd.DataFrame, variant: str) -> pd.Series:
    """Rows in `variant` or one of its twins: pruned with another rule, evaluated in the fast
    setting (repro/core/ties.py)."""
    return df.variant.map({v: paper_setting(v) for v in set(df.variant)}) == variant


def _suite_tasks(df: pd.DataFrame, model: str, suite: str | None, rows: pd.Series) -> tuple[str, ...]:
    """The suite's tasks (in suite order) that have a metrics.yaml column and data for `model`
    among `rows` (a mask of df)."""
    columns = metrics().columns
    have = set(df[rows & (df.model == model) & (df.unit == "")].task)
    names = [t.name for t in suites.resolve(suite)] if suite else sorted(have)
    return tuple(t for t in names if t in columns and t in have)


def level_tables(df: pd.DataFrame) -> list[LevelTable]:
    cfg, specs = metrics(), load_models()
    other = next(n for n, t in cfg.tables.items() if t.for_other_models)
    out = []
    for model in score_models(df):
        spec = specs.get(model)
        suite = spec.suite if spec else None
        covered = False
        for name, t in cfg.tables.items():
            if name == "neuron_selection" or t.for_other_models:
                continue
            if model in t.models or (suite is not None and suite in t.suites):
                covered = True
                out.append(LevelTable(f"{name}-{model}", name, model, t.tasks,
                                      bool(spec and spec.paper)))
        tasks = () if covered else _suite_tasks(df, model, suite, _twins(df, ""))
        if tasks:
            out.append(LevelTable(f"{other}-{model}", other, model, tasks, False))
    return out


def neuron_tables(df: pd.DataFrame) -> list[NeuronTable]:
    spec, specs, ns = metrics().tables["neuron_selection"], load_models(), neuron_selection()
    tags = set(TAGS.values())
    dtype_variant = df.variant.map({v: paper_setting(v) in tags for v in set(df.variant)})  # fast-fp32
    rows = df[(df.unit == "") & dtype_variant & (df.level == NEURON_LEVEL)]
    out = []
    for model in _order(set(rows.model)):
        for variant in sorted(set(rows[rows.model == model].variant)):
            if (model, variant) == (spec.models[0], spec.variant):
                continue  # the paper's own table
            mspec = specs.get(model)
            suite = (mspec.selection_suite if mspec else None) or ns.suite
            tasks = _suite_tasks(df, model, suite, df.variant == variant)
            ran = set(rows[(rows.model == model) & (rows.variant == variant)].criterion)
            crits = [c for c in ns.criteria if c in ran] + sorted(ran - set(ns.criteria))
            if tasks and crits:
                out.append(NeuronTable(f"neuron-selection-{model}-{variant}", model, variant,
                                       tasks, tuple(crits)))
    return out


def dichotomy_models(df: pd.DataFrame) -> list[str]:
    """Models with a dichotomy figure of their own (not in the paper's shared figure)."""
    shared = set(report().figures.models)
    rows = df[(df.unit == "") & _twins(df, "") & (df.criterion == "maw")]
    return [m for m in score_models(df)
            if m not in shared and rows[rows.model == m].level.nunique() >= 2]
