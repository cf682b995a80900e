"""The efficiency confound, said wherever a model's efficiency figures are shown (claims,
tables, figures, the digest): levels measured on another model's checkpoint
(repro/config/report.yaml `confounds`), and how much each batch-1 call generated at each level
(tokens per call = latency x throughput, from the published rows), since a whole-call latency
or energy compares different amounts of work when the outputs differ in length.
"""

from __future__ import annotations

import pandas as pd

from repro.config.metrics import metrics
from repro.config.report import report
from repro.report.queries import display_name, series

BATCH1 = "_b1"


def checkpoint_levels(model: str) -> dict[float, str]:
    """Level -> the checkpoint the published efficiency rows of `model` were measured on,
    for the levels measured on another model's checkpoint."""
    c = report().confound(model)
    return {} if c is None else {float(k.level): k.hf_repo for k in c.checkpoints}


def tokens_per_call(df: pd.DataFrame, model: str, source: str = "paper") -> dict[str, pd.Series]:
    """Batch-1 workload -> tokens generated per call by level (latency x throughput / 1000)."""
    out = {}
    for w in metrics().efficiency.workloads:
        if w.endswith(BATCH1):
            ms = series(df, model, w, "ttlt_mean", "none", source=source)
            tps = series(df, model, w, "throughput_mean", "none", source=source)
            s = (ms * tps / 1000.0).dropna()
            if not s.empty:
                out[w] = s
    return out


def efficiency_note(df: pd.DataFrame, model: str) -> str:
    """One sentence per confound of `model`'s published efficiency figures ('' if none)."""
    c = report().confound(model)
    if c is None:
        return ""
    levels = checkpoint_levels(model)
    which = ", ".join(f"{lv:g}%" for lv in levels)
    out = (f"{display_name(model)} efficiency at {which} was measured on other checkpoints "
           f"({'; '.join(f'{lv:g}%: {repo}' for lv, repo in levels.items())}; {c.source}), "
           f"the other levels on {c.others}.")
    tokens = tokens_per_call(df, model)
    if tokens:
        shown = "; ".join(f"{w.removesuffix(BATCH1)} " + ", ".join(
            f"{lv:g}% {v:.1f}" for lv, v in s.items() if lv in (0.0, *levels) or lv == s.index.max())
            for w, s in tokens.items())
        out += (f" Outputs differ in length (batch-1 tokens per call, latency x throughput: "
                f"{shown}): whole-call latency and energy per token compare different work, "
                "and the checkpoints' difference is mixed into every change from the baseline.")
    return out
