"""The report's extensions: per-layer sensitivity (heat map and table) and the extensions table
(perplexity at repro/config/extensions.yaml `report.levels` per criterion and allocation), and
the generated LaTeX sections that report.tex includes: extensions.tex and models.tex (every
table and figure of a model beyond the paper's own, see per_model.py).

Sensitivity rows are the tidy rows of `repro sensitivity` (variant layerNN: only that layer cut;
repro/results/sensitivity.py). Everything here is a finding about the model it ran on: a model
that is not one of the paper's is labelled so, with its models.yaml note, and its rows are never
put in a paper table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from repro.config.extensions import extensions
from repro.config.metrics import metrics
from repro.config.models import load_models
from repro.core.atomicio import write_text
from repro.core.ties import is_fast, setting_variant
from repro.core.variant import Variant
from repro.report import per_model
from repro.report.formatting import fmt_change, fmt_value, improved, level_label
from repro.report.queries import (
    FAST_LABEL,
    candidates,
    display_name,
    reproduction_notes,
    series,
)
from repro.report.templating import environment
from repro.results.sensitivity import CALIBRATION, layer_of

CAL_METRIC = "perplexity"
# the sections of report.tex these files are (heading, label, introduction): only when not empty
MODELS = ("Every other model in the data", "models",
          "Tables and figures the paper did not print: each model's pruning levels, neuron "
          "selection and dichotomy, for every model in the data beyond the paper's tables above "
          "(a model that is not one of the paper's is labelled as such).")
EXTENSIONS = ("Extensions", "extensions",
              "Per-layer sensitivity (one decoder layer's MLP pruned at a time), and perplexity per "
              "criterion and per non-uniform allocation of the same neuron budget "
              "(repro/config/extensions.yaml). These are findings about the model they ran on, "
              "never mixed with the paper's rows.")
SOURCE = "reproduction"  # the paper ran no extension: only reproductions have these rows


def _sens_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df.source == SOURCE) & df.variant.map(lambda v: layer_of(v) is not None)]


def sensitivity_models(df: pd.DataFrame) -> list[str]:
    return per_model._order(set(_sens_rows(df).model))


def _tasks(rows: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(task, metric, filter, label) measured by the scan: the calibration text first."""
    cols, out = metrics().columns, [(CALIBRATION, CAL_METRIC, "none", "calibration PPL")]
    for task in sorted(set(rows.task) - {CALIBRATION}):
        if task in cols:
            out.append((task, cols[task].metric, cols[task].filter, cols[task].label))
    return out


def _setting(df: pd.DataFrame, model: str) -> str:
    """The tie-break and evaluation setting of the model's scan, as a variant without its layer
    ('', 'stable', 'fast', 'fast-stable'): the first of queries.candidates the data hold."""
    rows = _sens_rows(df)
    have = {str(Variant.parse(v).replace(layer=None)) for v in set(rows[rows.model == model].variant)}
    return next((v for v in candidates() if v in have), "")


def _layer_variant(setting: str, layer: int) -> str:
    """The scan cell's variant of `layer` in a setting of _setting ('layer07-fast-stable')."""
    return str(Variant.parse(setting).replace(layer=layer))


def _grid(df: pd.DataFrame, model: str, criterion: str, task: str, metric: str, filt: str):
    """{layer: Series(level -> value)} of one scan."""
    rows = _sens_rows(df)
    layers = sorted({layer_of(v) for v in rows[rows.model == model].variant})
    setting = _setting(df, model)
    return {i: series(df, model, task, metric, filt, source=SOURCE, criterion=criterion,
                      variant=_layer_variant(setting, i)) for i in layers}


def sensitivity_tables(df: pd.DataFrame, model: str) -> dict[str, dict]:
    """One table per criterion: rows = layers, columns = task x level, value (change)."""
    rows = _sens_rows(df)
    rows = rows[rows.model == model]
    out = {}
    for crit in sorted(set(rows[rows.level > 0].criterion)):
        tasks = _tasks(rows)
        grids = {t: _grid(df, model, crit, t, m, f) for t, m, f, _ in tasks}
        levels = sorted({lv for g in grids.values() for s in g.values() for lv in s.index if lv > 0})
        cols = [f"{label} {lv:g}%" for _, _, _, label in tasks for lv in levels]
        table_rows = []
        base_cells = []
        for t, m, _, _ in tasks:
            base = next(iter(grids[t].values()), pd.Series(dtype=float)).get(0, float("nan"))
            base_cells += [{"text": fmt_value(base, m), "change": "", "improved": False}] * len(levels)
        table_rows.append({"label": "unpruned", "kind": "paper", "cells": base_cells, "rule": False})
        for layer in sorted(next(iter(grids.values()))):
            cells = []
            for t, m, _, _ in tasks:
                s = grids[t][layer]
                for lv in levels:
                    v, base = s.get(lv, float("nan")), s.get(0, float("nan"))
                    cells.append({"text": fmt_value(v, m), "change": fmt_change(v, base),
                                  "improved": bool(v == v and improved(v, base, "lower"))})
            table_rows.append({"label": f"layer {layer}", "kind": "paper", "cells": cells,
                               "rule": layer == 0})
        out[f"sensitivity-{model}-{crit}"] = {
            "caption": f"{display_name(model)}: per-layer sensitivity ({crit.upper()}). Each row "
                       "prunes that decoder layer's MLP alone at the level shown; perplexity "
                       "(change from the unpruned model in parentheses, bold: lower).",
            "label": f"tab:sensitivity-{model}-{crit}", "columns": cols, "corner": "layer cut",
            "rows": table_rows, "notes": [_note(model), *reproduction_notes(_setting(df, model))],
            "size": "scriptsize", "long": True}
    return out


def heat_map(plt, df: pd.DataFrame, model: str):
    """Layers x levels, colour = log10 of perplexity / unpruned perplexity; one panel per
    criterion and task, each cell annotated with its % change."""
    import numpy as np
    from matplotlib.colors import Normalize

    rows = _sens_rows(df)
    rows = rows[rows.model == model]
    panels = [(c, t) for c in sorted(set(rows[rows.level > 0].criterion)) for t in _tasks(rows)]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels) + 0.8, 5.6), squeeze=False,
                             adjust={"left": 0.1, "right": 0.9, "bottom": 0.08, "top": 0.92,
                                     "wspace": 0.35})
    for ax, (crit, (task, metric, filt, label)) in zip(axes[0], panels, strict=True):
        grid = _grid(df, model, crit, task, metric, filt)
        layers = sorted(grid)
        levels = sorted({lv for s in grid.values() for lv in s.index if lv > 0})
        ratio = np.array([[grid[i].get(lv, np.nan) / grid[i].get(0, np.nan) for lv in levels]
                          for i in layers])
        logr = np.log10(ratio)
        span = max(float(np.nanmax(np.abs(logr))), 0.01)  # symmetric: white = unchanged
        im = ax.imshow(logr, aspect="auto", cmap="RdBu_r", norm=Normalize(-span, span))
        for (r, c), v in np.ndenumerate(ratio):
            if v == v:
                pct = 100 * (v - 1)
                ax.text(c, r, "0%" if abs(pct) < 0.5 else f"{pct:+.0f}%", ha="center", va="center",
                        fontsize=5, color="white" if abs(logr[r, c]) > 0.6 * span else "black")
        ax.set_xticks(range(len(levels)), [f"{lv:g}%" for lv in levels])
        ax.set_yticks(range(len(layers)), [str(i) for i in layers], fontsize=5)
        ax.set_title(f"{crit.upper()}: {label}", fontsize=7)
        ax.set_xlabel("that layer's MLP pruned")
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.08, pad=0.04).set_label("log10 PPL ratio", fontsize=6)
    axes[0][0].set_ylabel("decoder layer pruned alone")
    fig.suptitle(f"{display_name(model)}: per-layer sensitivity", fontsize=8)
    return fig


def extension_table(df: pd.DataFrame, model: str) -> dict | None:
    """Perplexity at extensions.yaml report.levels per (criterion, allocation) row."""
    ext, cols, spec = extensions(), metrics().columns, load_models().get(model)
    task = ext.sensitivity.task_by_suite.get(spec.suite if spec and spec.suite else "")
    if task is None or task not in cols:
        return None
    metric, filt = cols[task].metric, cols[task].filter
    levels = list(ext.report.levels)
    picked = []  # (row, variant, series): the first of queries.candidates that holds its levels
    for r in ext.report.rows:
        for v in candidates(r.tag):
            s = series(df, model, task, metric, filt, source=SOURCE, criterion=r.criterion, variant=v)
            if any(lv in s.index for lv in levels):
                picked.append((r, v, s))
                break
    # one setting per table, the paper's where any row has it: a fast row is never shown beside
    # a batch-1 one; it is named in a note instead
    fast = bool(picked) and all(is_fast(v) for _, v, _ in picked)
    base = series(df, model, task, metric, filt, source=SOURCE,
                  variant=setting_variant("", fast)).get(0, float("nan"))
    rows = [{"label": "unpruned", "kind": "paper", "rule": False,
             "cells": [{"text": fmt_value(base, metric), "change": "", "improved": False}] * len(levels)}]
    found = False
    notes, other = [_note(model)], []
    for r, v, s in picked:
        label = r.criterion.upper() + ("" if r.allocation == "uniform" else f", {r.allocation}")
        if is_fast(v) != fast:
            other.append(label)
            continue
        notes += [n for n in reproduction_notes(v) if n not in notes]
        found |= (r.criterion, r.allocation) != ("maw", "uniform")  # the paper's cut alone: no table
        cells = [{"text": fmt_value(s.get(lv, float("nan")), metric),
                  "change": fmt_change(s.get(lv, float("nan")), base),
                  "improved": bool(improved(s.get(lv, float("nan")), base, cols[task].better))}
                 for lv in levels]
        rows.append({"label": label, "kind": "paper", "cells": cells, "rule": len(rows) == 1})
    if other:
        notes.append(f"Not shown, evaluated in the {FAST_LABEL} only: {', '.join(other)}.")
    if not found:
        return None
    return {"caption": f"{display_name(model)}: {cols[task].label} at "
                       f"{' and '.join(f'{lv:g}%' for lv in levels)} pruning per criterion and "
                       "allocation (uniform unless named; spareK: the K layers the sensitivity "
                       "scan found most sensitive keep every neuron; OWL: Yin et al. 2024). "
                       "Change from the unpruned model in parentheses.",
            "label": f"tab:extensions-{model}", "columns": [level_label(lv) for lv in levels],
            "corner": "criterion", "rows": rows, "notes": notes, "size": "small",
            "long": False}


def extension_tables(df: pd.DataFrame) -> dict[str, dict[str, dict]]:
    """model -> {table name: table}: its sensitivity tables and its extensions table."""
    out: dict[str, dict[str, dict]] = {}
    for model in per_model._order(set(df[df.source == SOURCE].model)):
        tables = sensitivity_tables(df, model)
        t = extension_table(df, model)
        if t is not None:
            tables[f"extensions-{model}"] = t
        if tables:
            out[model] = tables
    return out


def _note(model: str, paper_note: str = "these runs are extensions, not in the paper.") -> str:
    spec = load_models().get(model)
    if spec is not None and spec.paper:
        return f"{display_name(model)} is one of the paper's models; {paper_note}"
    note = f" ({spec.note})" if spec is not None and spec.note else ""
    return (f"Findings about {display_name(model)}{note}: not one of the paper's models, "
            "never mixed with the paper's rows.")


def _section(groups: dict, model: str) -> dict:
    return groups.setdefault(model, {"tables": [], "figures": []})


def write_sections(df: pd.DataFrame, out: Path) -> None:
    """models.tex and extensions.tex: per model, the tables and figures report.tex does not name."""
    extra: dict[str, dict] = {}
    for e in per_model.level_tables(df):
        if not e.in_paper_report:
            _section(extra, e.model)["tables"].append(e.name)
    for e in per_model.neuron_tables(df):
        _section(extra, e.model)["tables"].append(e.name)
    for m in per_model.dichotomy_models(df):
        _section(extra, m)["figures"].append(
            {"name": f"dichotomy-{m}", "width": "0.7", "caption":
             f"{display_name(m)}: fragile and robust capabilities, change from the unpruned model "
             "against the share of MLP neurons pruned (MAW)."})
    ext: dict[str, dict] = {}
    for m in sensitivity_models(df):
        _section(ext, m)["figures"].append(
            {"name": f"sensitivity-{m}", "width": "0.9", "caption":
             f"{display_name(m)}: perplexity when one decoder layer's MLP alone is pruned, per "
             "layer and level (colour: log10 of the ratio to the unpruned model; text: change)."})
    for m, tables in extension_tables(df).items():
        _section(ext, m)["tables"] += sorted(tables)
    env = environment()
    for fname, groups, empty, paper_note, heading in (
            ("models.tex", extra, "No other model, and nothing beyond the paper's tables, in the data.",
             "what the paper did not print of its data or of a reproduction.", MODELS),
            ("extensions.tex", ext, "No extension results in the data: run python -m repro "
                                    "sensitivity and python -m repro extensions (nox -s smoke does).",
             "these runs are extensions, not in the paper.", EXTENSIONS),
    ):
        sections = [{"title": display_name(m), "note": _note(m, paper_note), "tables": groups[m]["tables"],
                     "figures": groups[m]["figures"]} for m in per_model._order(set(groups))]
        write_text(out / fname, env.get_template("sections.tex.j2").render(
            sections=sections, empty=empty, heading=heading[0], label=heading[1], intro=heading[2]))
