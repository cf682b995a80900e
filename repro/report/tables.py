"""The paper's tables as data for the LaTeX template: one dict per table (caption, columns,
rows of cells), published values beside a reproduction's when data/ holds one. Which metric
each column shows comes from repro/config/metrics.yaml.
"""

from __future__ import annotations

import pandas as pd

from repro.config.metrics import metrics
from repro.report.confounds import efficiency_note
from repro.report.formatting import fmt_change, fmt_diff, fmt_value, improved, level_label
from repro.report.queries import (
    display_name,
    metric_for,
    reproduction_notes,
    reproduction_variant,
    series,
)

ENERGY_NOTE = ("Published J/token values are 0.349x the true energy: the original code stored "
               "CodeCarbon's kg CO2eq as kWh (ratios between levels are unaffected). Latency is "
               "the wall time of a whole batch-1 generate() call, not time to first token.")


def has_repro(df: pd.DataFrame, model: str, tasks: list[str], variant: str = "") -> bool:
    return bool(((df.source == "reproduction") & (df.model == model) & df.task.isin(tasks)
                 & (df.variant == variant)).any())


def has_source(df: pd.DataFrame, model: str, tasks: list[str], source: str, variant: str = "") -> bool:
    return bool(((df.source == source) & (df.model == model) & df.task.isin(tasks)
                 & (df.variant == variant)).any())


def score_table(df: pd.DataFrame, name: str, model: str, tasks: list[str] | None = None) -> dict:
    """A paper table: rows = levels, columns = tasks, value (change vs baseline). A model with
    no published values shows its reproduction's alone."""
    cfg = metrics()
    spec = cfg.tables[name]
    variant = spec.variant
    tasks, cols, notes, data = list(tasks or spec.tasks), [], [], {}
    rvariant = reproduction_variant(df, model, tasks, variant)  # another rule or setting: marked
    repro = has_repro(df, model, tasks, rvariant)
    if repro and not has_source(df, model, tasks, "paper", variant):
        return _reproduction_table(df, name, model, tasks, rvariant)
    for task in tasks:
        metric, filt = metric_for(model, task, name)
        better = cfg.columns[task].better
        cols.append(cfg.columns[task].label)
        notes.append(f"{cfg.columns[task].label}: {metric}"
                     + (f" ({filt})" if filt != "none" else ""))
        for source in ("paper", "reproduction"):
            var = variant if source == "paper" else rvariant
            data[(task, source)] = series(df, model, task, metric, filt, source=source,
                                          variant=var), metric, better
    levels = sorted(set().union(*(s.index for s, _, _ in data.values())))
    rows = []
    for lv in levels:
        rows.append(_row(level_label(lv), "paper", tasks, data, "paper", lv, rule=repro and lv > 0))
        if repro:
            rows.append(_row("reproduced", "reproduction", tasks, data, "reproduction", lv))
            rows.append(_diff_row(tasks, data, lv))
    title = f"{display_name(model)}: {spec.title}"
    caption = (f"{title}. Values in parentheses: change from the unpruned baseline "
               "(bold: improvement).")
    if repro:
        caption += " Each level shows the published value, the reproduced one and their difference."
    return {"caption": caption, "label": f"tab:{name}-{model}", "columns": cols,
            "corner": "pruned", "rows": rows,
            "notes": ["Metrics: " + "; ".join(notes) + "."] + reproduction_notes(rvariant),
            "size": "footnotesize" if len(cols) > 6 else "small", "long": False}


def _row(label, kind, tasks, data, source, lv, rule=False) -> dict:
    cells = []
    for task in tasks:
        s, metric, better = data[(task, source)]
        if lv not in s.index:
            cells.append({"text": "", "change": "", "improved": False})
            continue
        v, base = s[lv], s.get(0, float("nan"))
        cells.append({"text": fmt_value(v, metric), "change": fmt_change(v, base) if lv else "",
                      "improved": bool(lv and improved(v, base, better))})
    return {"label": label, "kind": kind, "cells": cells, "rule": rule}


def _diff_row(tasks, data, lv) -> dict:
    cells = []
    for task in tasks:
        (pub, metric, _), (rep, _, _) = data[(task, "paper")], data[(task, "reproduction")]
        cells.append({"text": fmt_diff(rep.get(lv, float("nan")), pub.get(lv, float("nan")), metric),
                      "change": "", "improved": False})
    return {"label": "difference", "kind": "difference", "cells": cells, "rule": False}


def _reproduction_table(df: pd.DataFrame, name: str, model: str, tasks: list[str],
                        variant: str) -> dict:
    """Rows = levels of a reproduction that has no published counterpart."""
    cfg = metrics()
    data, notes = {}, []
    for task in tasks:
        metric, filt = metric_for(model, task, name)
        notes.append(f"{cfg.columns[task].label}: {metric}" + (f" ({filt})" if filt != "none" else ""))
        data[(task, "reproduction")] = (series(df, model, task, metric, filt, source="reproduction",
                                               variant=variant), metric, cfg.columns[task].better)
    levels = sorted(set().union(*(s.index for s, _, _ in data.values())))
    rows = [_row(level_label(lv), "paper", tasks, data, "reproduction", lv) for lv in levels]
    return {"caption": f"{display_name(model)}: {cfg.tables[name].title}, reproduction only (no "
                       "published values). Values in parentheses: change from the unpruned "
                       "baseline (bold: improvement).",
            "label": f"tab:{name}-{model}", "columns": [cfg.columns[t].label for t in tasks],
            "corner": "pruned", "rows": rows,
            "notes": ["Metrics: " + "; ".join(notes) + "."] + reproduction_notes(variant),
            "size": "small", "long": False}


def neuron_table(df: pd.DataFrame, model: str | None = None, variant: str | None = None,
                 tasks: list[str] | None = None, criteria: list[str] | None = None) -> dict:
    """Rows = criterion at 10% (and the baseline), columns = the comparison tasks. Defaults: the
    paper's table (metrics.yaml neuron_selection); any other model and dtype variant likewise."""
    cfg, name = metrics(), "neuron_selection"
    spec = cfg.tables[name]
    paper = model is None
    model = model or spec.models[0]
    tasks, variant = list(tasks or spec.tasks), spec.variant if variant is None else variant
    rvariant = reproduction_variant(df, model, tasks, variant) if paper else variant
    repro = has_repro(df, model, tasks, rvariant)
    rows, notes = [], []
    for task in tasks:
        metric, filt = metric_for(model, task, name)
        notes.append(f"{cfg.columns[task].label}: {metric}")
    sources = [s for s in ("paper", "reproduction") if has_source(df, model, tasks, s, variant)]
    if paper:
        sources = ["paper", "reproduction"] if repro else ["paper"]
    for crit in ("baseline", *(criteria or ("maw", "vow", "pon"))):
        for source in sources:
            cells, vals = [], []
            for task in tasks:
                metric, filt = metric_for(model, task, name)
                s = series(df, model, task, metric, filt, source=source,
                           criterion="maw" if crit == "baseline" else crit,
                           variant=variant if source == "paper" else rvariant)
                lv = 0 if crit == "baseline" else 10
                v, base = s.get(lv, float("nan")), s.get(0, float("nan"))
                vals.append((v, metric))
                cells.append({"text": fmt_value(v, metric), "change": fmt_change(v, base) if lv else "",
                              "improved": bool(lv and improved(v, base, cfg.columns[task].better))})
            primary = source == sources[0]
            label = ("unpruned" if crit == "baseline" else crit.upper()) if primary else "reproduced"
            rows.append({"label": label, "kind": "paper" if primary else source, "cells": cells,
                         "rule": len(sources) > 1 and primary})
    if not paper:
        only = "" if "paper" in sources else ", reproduction only"
        return {"caption": f"Neuron-selection criteria at 10% pruning ({display_name(model)}, "
                           f"{variant}{only}): value (change from the unpruned model).",
                "label": f"tab:neuron-selection-{model}-{variant}",
                "columns": [cfg.columns[t].label for t in tasks], "corner": "criterion",
                "rows": rows, "notes": ["Metrics: " + "; ".join(notes) + "."] + reproduction_notes(variant),
                "size": "small", "long": False}
    return {"caption": f"{spec.title}: value (change from the unpruned model). The stage ran "
                       "in float16, the main runs in bfloat16.",
            "label": "tab:neuron-selection", "columns": [cfg.columns[t].label for t in tasks],
            "corner": "criterion", "rows": rows,
            "notes": ["Metrics: " + "; ".join(notes) + "."] + reproduction_notes(rvariant),
            "size": "small", "long": False}


def widths_table(df: pd.DataFrame) -> dict:
    """Kept MLP width, expansion ratio and parameter count per model and level (published)."""
    pub = df[(df.source == "paper") & (df.variant == "")]
    arch = (pub[["model", "level", "kept_width", "expansion_ratio", "params"]]
            .drop_duplicates(["model", "level"]).sort_values(["model", "level"]))
    rows = []
    def number(v) -> float:  # params is "empty if unknown" (schema): NA, and 0, show nothing
        return float(v) if pd.notna(v) and float(v) > 0 else float("nan")

    for model, g in arch.groupby("model", sort=True):
        base = number(g[g.level == 0].params.iloc[0]) if (g.level == 0).any() else float("nan")
        for r in g.itertuples():
            p = number(r.params)
            known = p == p and base == base
            cells = [{"text": f"{r.kept_width:d}", "change": "", "improved": False},
                     {"text": f"{r.expansion_ratio:.2f}x", "change": "", "improved": False},
                     {"text": f"{p / 1e6:.2f}" if p == p else "", "change": "", "improved": False},
                     {"text": (f"{100 * (1 - p / base):.2f}%" if known else "") if r.level else "--",
                      "change": "", "improved": False}]
            rows.append({"label": f"{display_name(model)} {level_label(r.level)}", "kind": "paper",
                         "cells": cells, "rule": r.level == 0 and bool(rows)})
    return {"caption": "Widths and parameter counts: MLP neurons kept per layer, expansion ratio "
                       "(kept width / hidden size) and parameters (millions, tied embeddings once).",
            "label": "tab:widths", "columns": ["kept width", "expansion ratio", "params (M)",
                                               "param. reduction"],
            "corner": "model, pruned", "rows": rows, "notes": [], "size": "small", "long": False}


def efficiency_table(df: pd.DataFrame, model: str) -> dict:
    """Per workload and level: J/token, throughput and latency, mean +- std (change)."""
    cfg = metrics().efficiency
    rvariant = reproduction_variant(df, model, list(cfg.workloads))
    repro = has_repro(df, model, list(cfg.workloads), rvariant)
    rows = []
    for w in cfg.workloads:
        data = {}
        for source in ("paper", "reproduction"):
            for fig in cfg.figures:
                var = "" if source == "paper" else rvariant
                data[(fig, source)] = (series(df, model, w, fig, "none", source=source, variant=var),
                                       series(df, model, w, fig.replace("_mean", "_std"), "none",
                                              source=source, variant=var))
        levels = sorted(set().union(*(m.index for m, _ in data.values())))
        for i, lv in enumerate(levels):
            for source in ("paper", "reproduction") if repro else ("paper",):
                runs = series(df, model, w, "runs_aggregated", "none", source=source,
                              variant="" if source == "paper" else rvariant)
                cells = []
                for fig, spec in cfg.figures.items():
                    mean, std = data[(fig, source)]
                    v, base = mean.get(lv, float("nan")), mean.get(0, float("nan"))
                    text = "" if v != v else f"{v:.4g}"
                    if text and lv in std.index and runs.get(lv, 0) > 1:  # one run has no spread
                        text += f" ± {std[lv]:.2g}"
                    cells.append({"text": text, "change": fmt_change(v, base) if lv else "",
                                  "improved": bool(lv and v == v and improved(v, base, spec.better))})
                cells.append({"text": f"{runs[lv]:g}" if lv in runs.index else "", "change": "",
                              "improved": False})
                label = f"{w} {level_label(lv)}" if source == "paper" else "reproduced"
                rows.append({"label": label, "kind": source, "cells": cells, "rule": i == 0 and bool(rows)})
    return {"caption": f"{display_name(model)}: efficiency per workload (mean ± std over runs; "
                       "change from the unpruned model in parentheses, bold: better; a cell of "
                       "one run has no spread). " + ENERGY_NOTE
                       + (" " + efficiency_note(df, model) if efficiency_note(df, model) else ""),
            "label": f"tab:efficiency-{model}",
            "columns": [s.label for s in cfg.figures.values()] + ["runs"],
            "corner": "workload, pruned",
            "rows": rows, "notes": reproduction_notes(rvariant), "size": "scriptsize", "long": True}


def all_tables(df: pd.DataFrame) -> dict[str, dict]:
    """Every table; which model gets which is driven by models.yaml and the data (per_model.py)."""
    from repro.report import per_model

    cfg = metrics()
    out = {}
    for entry in per_model.level_tables(df):
        out[entry.name] = score_table(df, entry.table, entry.model, entry.tasks)
    out["neuron-selection"] = neuron_table(df)
    for entry in per_model.neuron_tables(df):
        out[entry.name] = neuron_table(df, entry.model, entry.variant, entry.tasks, entry.criteria)
    out["widths"] = widths_table(df)
    from repro.report.extensions import extension_tables  # sensitivity and extension rows

    for tables in extension_tables(df).values():
        out.update(tables)
    for model in cfg.efficiency.models:
        out[f"efficiency-{model}"] = efficiency_table(df, model)
    return out
