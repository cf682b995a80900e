"""The report's figures (matplotlib, Agg): PDF for LaTeX, PNG for a quick look.

Byte-identical across reruns: no timestamps in PDF/PNG metadata, a fixed SVG hash salt, fixed
rcParams, sorted inputs. Colours are colour-blind safe and a task keeps its colour in every
figure (figure_style.py); published data is drawn solid, a reproduction (when data/ has one)
dashed in the same colour, in the variant the tables show (queries.reproduction_variant; its
legend names a fast setting or another tie-break); 95% bands wherever the data give standard
errors.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd

from repro.config.metrics import metrics
from repro.config.report import report
from repro.core import rehearsal
from repro.core.atomicio import write_bytes
from repro.report.analysis import correlation
from repro.report.confounds import checkpoint_levels
from repro.report.figure_style import SERIES, place_labels, rel_band, task_colour
from repro.report.formatting import slug
from repro.report.queries import display_name, reproduction_variant, series, variant_tag

STYLE = {"paper": {"linestyle": "-", "marker": "o"}, "reproduction": {"linestyle": "--", "marker": "s"}}


def _models() -> dict[str, str]:
    """The models the figures draw (report.yaml), with their display names."""
    return {m: display_name(m) for m in report().figures.models}


class _Figures:
    """What the figures need from matplotlib, without pyplot (a slow import and global state)."""

    def __init__(self):
        import matplotlib
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        self.Figure, self.Line2D = Figure, Line2D
        matplotlib.rcdefaults()
        matplotlib.rcParams.update({
            "svg.hashsalt": "repro", "font.family": "DejaVu Sans", "font.size": 8,
            "axes.prop_cycle": matplotlib.cycler(color=SERIES), "axes.grid": True,
            "grid.alpha": 0.3, "figure.dpi": 100, "savefig.dpi": 150, "pdf.compression": 6,
            "path.simplify": False, "axes.spines.top": False, "axes.spines.right": False,
        })

    def subplots(self, nrows=1, ncols=1, figsize=None, adjust=None, **kw):
        # fixed margins instead of tight_layout, which would draw every figure once more
        fig = self.Figure(figsize=figsize)
        fig.subplots_adjust(**(adjust or {}))
        return fig, fig.subplots(nrows, ncols, **kw)


def save(fig, path: Path, mark: str = "") -> list[Path]:
    """Write path.pdf and path.png, each atomically, with no timestamps or software versions;
    `mark` (a rehearsal's) across the figure."""
    import io

    if mark:
        fig.text(0.5, 0.5, mark, ha="center", va="center", rotation=30, fontsize=40,
                 color="red", alpha=0.35)
    out = []
    for suffix, metadata in ((".pdf", {"CreationDate": None, "ModDate": None,
                                       "Producer": "repro", "Creator": "repro"}),
                             (".png", {"Software": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=suffix[1:], metadata=metadata)
        target = path.with_name(path.name + suffix)  # not with_suffix: model names hold dots
        write_bytes(target, buf.getvalue())
        out.append(target)
    return out


def _sources(df: pd.DataFrame) -> list[str]:
    return [s for s in ("paper", "reproduction") if (df.source == s).any()]


def _variant(df: pd.DataFrame, source: str, model: str, tasks: list[str], variant: str = "") -> str:
    """The variant a source's series is drawn in: a reproduction's as the tables show it (another
    rule or the fast setting where the data hold only that: queries.reproduction_variant)."""
    return variant if source == "paper" else reproduction_variant(df, model, tasks, variant)


def _reproduced(tags: dict[str, str]) -> str:
    """A legend's 'reproduced', with the setting or rule of each model's series where it is not
    the paper's ({display name: variant_tag}): 'reproduced (fast setting)', 'reproduced (B: fast
    setting)', so that a fast series is never drawn as a batch-1 one."""
    named = {m: t for m, t in tags.items() if t}
    if not named:
        return "reproduced"
    if len(named) == len(tags) and len(set(named.values())) == 1:
        return f"reproduced ({next(iter(named.values()))})"
    return "reproduced (" + "; ".join(f"{m}: {t}" for m, t in named.items()) + ")"


def _reproduced_in(variant: str) -> str:
    """'reproduced', or 'reproduced, fast setting' (one series: inside a label's parentheses)."""
    return ", ".join(filter(None, ("reproduced", variant_tag(variant))))


def _rel(s: pd.Series) -> pd.Series:
    return 100.0 * (s / s[0] - 1.0) if 0 in s.index and len(s) > 1 else pd.Series(dtype=float)


def dichotomy(plt, df: pd.DataFrame, models: dict[str, str] | None = None):
    """Fragile vs robust capabilities: % change from baseline vs pruning level, one panel per
    model (default: the paper's figure, report.yaml figures.models); the tasks drawn are those
    of report.yaml's lists that the models have data for."""
    models = models or _models()
    one = len(models) == 1
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 if one else 7.2, 3.9 if one else 3.6),
                             sharey=True, squeeze=False,
                             adjust={"left": 0.13 if one else 0.08, "right": 0.97,
                                     "bottom": 0.36 if one else 0.30, "top": 0.92, "wspace": 0.08})
    axes = list(axes[0])
    figs, columns = report().figures, metrics().columns
    present = set(df[df.model.isin(list(models))].task)
    tasks = [t for t in (*figs.fragile, *figs.robust) if t in present]
    drawn = {model: _variant(df, "reproduction", model, tasks) for model in models}
    for ax, (model, title) in zip(axes, models.items(), strict=True):
        for task in tasks:
            label = columns[task].label
            kind = "fragile" if task in figs.fragile else "robust"
            for source in _sources(df):
                band = rel_band(df, model, [task], source,
                                variant="" if source == "paper" else drawn[model])
                if len(band) < 2:
                    continue
                colour = task_colour(task)
                ax.plot(band.index, band.change, color=colour, markersize=3,
                        linewidth=1.0 if kind == "fragile" else 1.8,
                        label=f"{label} (claimed {kind})" if source == "paper" else None,
                        **STYLE[source])
                if band.lo.notna().any():
                    ax.fill_between(band.index, band.lo.fillna(band.change),
                                    band.hi.fillna(band.change), color=colour, alpha=0.15,
                                    linewidth=0)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(title)
        ax.set_xlabel("MLP neurons pruned (%)")
        ax.set_xticks([0, 10, 20, 30, 40, 50, 60])
    axes[0].set_ylabel("change from unpruned model (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    if "reproduction" in _sources(df):
        handles += [plt.Line2D([], [], color="grey", **STYLE[s]) for s in ("paper", "reproduction")]
        labels += ["published", _reproduced({models[m]: variant_tag(v) for m, v in drawn.items()})]
    fig.legend(handles, labels, loc="lower center", ncol=2 if one else 3, frameon=False,
               fontsize=7)
    return fig


def mmlu_truthfulqa(plt, df: pd.DataFrame):
    """MMLU vs TruthfulQA-MC2 over pruning levels, with Pearson r and p per model, 95% error
    bars and level labels that do not overlap."""
    from repro.report.claims.quantities import Reader
    from repro.report.claims.significance import Z, estimate
    from repro.report.queries import metric_for

    fig, ax = plt.subplots(figsize=(4.6, 3.4),
                           adjust={"left": 0.14, "right": 0.97, "bottom": 0.13, "top": 0.97})
    labels = []
    for i, (model, name) in enumerate(_models().items()):
        for source in _sources(df):
            v = _variant(df, source, model, ["mmlu", "truthfulqa_mc2"])
            x = series(df, model, "mmlu", source=source, variant=v)
            y = series(df, model, "truthfulqa_mc2", source=source, variant=v)
            both = pd.concat([x, y], axis=1, join="inner")
            if both.empty:
                continue
            r = Reader(df, source)
            err = [[Z * (estimate(r, model, t, *metric_for(model, t), lv, variant=v).se or 0.0)
                    for lv in both.index] for t in ("mmlu", "truthfulqa_mc2")]
            c = correlation(df, "mmlu", "truthfulqa_mc2", [model], source, variant=v)
            stat = (f" r = {c['pearson_r']:.3f}, p = {c['pearson_p']:.3f}"
                    if c["pearson_r"] is not None else "")
            tag = "" if source == "paper" else f" ({_reproduced_in(v)})"
            colour = SERIES[i % len(SERIES)]
            ax.errorbar(both.iloc[:, 0], both.iloc[:, 1], xerr=err[0], yerr=err[1], fmt="none",
                        ecolor=colour, elinewidth=0.6, alpha=0.6)
            ax.plot(both.iloc[:, 0], both.iloc[:, 1], color=colour, linewidth=0.5, alpha=0.5)
            ax.scatter(both.iloc[:, 0], both.iloc[:, 1], color=colour, zorder=3,
                       marker=STYLE[source]["marker"], s=18, label=f"{name}{tag}:{stat}")
            labels += [(xv, yv, f"{lv:g}%") for lv, (xv, yv) in both.iterrows()]
    ax.set_xlabel("MMLU accuracy (5-shot, acc)")
    ax.set_ylabel("TruthfulQA-MC2 accuracy (acc)")
    ax.legend(frameon=False, fontsize=7, loc="upper right")
    place_labels(ax, labels)
    return fig


def efficiency(plt, df: pd.DataFrame):
    """Energy per token, batch throughput and single-request latency vs pruning level, with 95%
    bands over runs; hollow markers where a level was measured on another checkpoint."""
    panels = [(p.metric, list(p.workloads), p.title) for p in report().figures.efficiency]
    fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.9),
                             adjust={"left": 0.08, "right": 0.99, "bottom": 0.16, "top": 0.86,
                                     "wspace": 0.3})
    for ax, (metric, workloads, title) in zip(axes, panels, strict=True):
        for i, (model, name) in enumerate(_models().items()):
            colour = SERIES[i % len(SERIES)]
            other = checkpoint_levels(model)
            for source in _sources(df):
                band = rel_band(df, model, workloads, source, metric=metric)
                if len(band) < 2:
                    continue
                ax.plot(band.index, band.change, color=colour, markersize=3,
                        label=name if source == "paper" else None, **STYLE[source])
                if band.lo.notna().any():
                    ax.fill_between(band.index, band.lo.fillna(band.change),
                                    band.hi.fillna(band.change), color=colour, alpha=0.15,
                                    linewidth=0)
                hollow = [lv for lv in band.index if lv in other and source == "paper"]
                if hollow:
                    ax.plot(hollow, band.change[hollow], linestyle="none", marker="o",
                            markersize=6, markerfacecolor="white", markeredgecolor=colour,
                            zorder=3)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(textwrap.fill(title, 30), fontsize=8)  # a panel is ~30 characters wide
        ax.set_xlabel("MLP neurons pruned (%)")
        ax.set_xticks([0, 20, 40, 60])
    axes[0].set_ylabel("change from unpruned model (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    if any(checkpoint_levels(m) for m in _models()):
        handles.append(plt.Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                                  markeredgecolor="grey"))
        labels.append("other checkpoint")
    axes[0].legend(handles, labels, frameon=False, fontsize=7)
    return fig


def neuron_selection(plt, df: pd.DataFrame):
    """% change at 10% pruning per criterion: perplexities (log scale) and BoolQ accuracy."""
    spec = report().figures.neuron_selection
    perplexity = [(b.task, b.metric, b.label) for b in spec.perplexity]
    accuracy = [(b.task, b.metric, b.label) for b in spec.accuracy]
    crits = list(spec.criteria)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6.0, 2.6), gridspec_kw={"width_ratios": [2, 1]},
                                   adjust={"left": 0.1, "right": 0.98, "bottom": 0.12,
                                           "top": 0.95, "wspace": 0.35})
    width = 0.8 / (len(crits) * len(_sources(df)))
    tasks = [b[0] for b in (*perplexity, *accuracy)]
    for ax, chosen in ((ax1, perplexity), (ax2, accuracy)):
        for j, crit in enumerate(crits):
            for k, source in enumerate(_sources(df)):
                vals, v = [], _variant(df, source, spec.model, tasks, spec.variant)
                for task, metric, _ in chosen:
                    s = series(df, spec.model, task, metric, "none", source=source,
                               criterion=crit, variant=v)
                    vals.append(100 * (s[10] / s[0] - 1) if {0, 10} <= set(s.index) else float("nan"))
                xs = [t + (j * len(_sources(df)) + k - 1) * width for t in range(len(chosen))]
                ax.bar(xs, vals, width, color=SERIES[j % len(SERIES)], hatch="//" if k else None,
                       label=crit.upper() + ("" if source == "paper" else f" ({_reproduced_in(v)})"))
        ax.set_xticks(range(len(chosen)), [t[2] for t in chosen])
        ax.axhline(0, color="black", linewidth=0.6)
    ax1.set_yscale("log")
    ax1.set_ylabel("perplexity increase (%)")
    ax2.set_ylabel("accuracy change (%)")
    ax1.legend(frameon=False, title=f"criterion (10% pruned, {spec.variant})")
    return fig


def draw_all(df: pd.DataFrame, out: Path) -> list[Path]:
    from repro.report import extensions, per_model

    plt = _Figures()
    written = []
    mark = rehearsal.MARK if df.run_id.map(rehearsal.is_rehearsal_run).any() else ""
    for name, draw in (("dichotomy", dichotomy), ("mmlu-truthfulqa", mmlu_truthfulqa),
                       ("efficiency", efficiency), ("neuron-selection", neuron_selection)):
        fig = draw(plt, df)
        written += save(fig, out / name, mark)
    for model in per_model.dichotomy_models(df):  # every other model: a figure of its own
        written += save(dichotomy(plt, df, {model: display_name(model)}),
                        out / slug(f"dichotomy-{model}"), mark)
    for model in extensions.sensitivity_models(df):
        written += save(extensions.heat_map(plt, df, model), out / slug(f"sensitivity-{model}"), mark)
    return written
