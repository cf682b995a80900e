"""Paired tests for a reproduction, from its per-document scores (<run_id>.samples.csv.gz,
written by `repro aggregate`; format in repro/results/samples.py).

The pruned model and the baseline answer the same documents; pairing them removes the
between-document variance the unpaired test has to carry:

- 0/1 scores (acc, acc_norm, exact_match, IFEval prompt-level): the exact McNemar test on the
  discordant pairs (two-sided binomial test of c against b + c at 1/2);
- any other score (TruthfulQA-MC2, IFEval instruction-level: resampled per prompt, perplexities:
  resampled per document, the corpus value recomputed each time): the paired bootstrap, whose
  p-value is twice the smaller tail of the resampled difference at 0.

The effect's 95% interval is the paired bootstrap's percentile interval, in the claim's unit,
for every score. B and the seed are fixed (byte-identical reports).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from repro.report.claims.quantities import Part, change
from repro.report.claims.significance import Test, share
from repro.results.samples import corpus_value

B = 2000
SEED = 20240607
CHUNK = 200


class Samples:
    """A reproduction's per-document scores, indexed once per (model, task, metric, filter)."""

    def __init__(self, df: pd.DataFrame | None):
        self.groups: dict[tuple, pd.DataFrame] = {}
        if df is not None and not df.empty:
            for key, g in df.groupby(["model", "task", "metric", "filter", "variant"], sort=True):
                self.groups[key] = g
        self.cache: dict[tuple, tuple] = {}

    def __bool__(self) -> bool:
        return bool(self.groups)

    def docs(self, model, task, metric, filt, variant, level, criterion) -> pd.Series | None:
        g = self.groups.get((model, task, metric, filt, variant))
        if g is None:
            return None
        g = g[g.level == level]
        if level != 0:
            g = g[g.criterion == criterion]
        elif not g.empty:
            g = g[g.criterion == sorted(g.criterion.unique())[0]]
        if g.empty:
            return None
        g = g.sort_values("run_id").drop_duplicates("doc", keep="last")
        return g.set_index("doc")[["value", "weight"]]


def paired_test(samples: Samples, part: Part, alpha: float = 0.05) -> Test | None:
    """The part's level against the baseline on the same documents; None without logs."""
    if not samples or len(part.cells) != 1 or part.level is None:
        return None
    task, metric, filt = part.cells[0]
    base = samples.docs(part.model, task, metric, filt, part.variant, part.reference, part.criterion)
    lev = samples.docs(part.model, task, metric, filt, part.variant, part.level, part.criterion)
    if base is None or lev is None:
        return None
    docs = base.index.intersection(lev.index).sort_values()
    if len(docs) < 2:
        return None
    b, lv = base.loc[docs], lev.loc[docs]
    v0, w0, v1, w1 = (x.to_numpy(float) for x in (b.value, b.weight, lv.value, lv.weight))
    key = (part.model, task, metric, filt, part.variant, part.level, part.criterion)
    if key not in samples.cache:
        samples.cache[key] = _bootstrap(metric, v0, w0, v1, w1)
    s0, s1 = samples.cache[key]
    n = len(docs)
    if part.level == part.reference or part.kind == "value":
        vals = (s1 if part.level else s0) * part.scale
        return Test(f"paired bootstrap interval (B = {B}, n = {n})", None,
                    _interval(vals), n, part.label, part.value)
    eff = change(part.kind, s1, s0) * part.scale
    ci = _interval(eff)
    extra = {"se": float(np.std(eff[np.isfinite(eff)], ddof=1)),
             "ci_equiv": _interval(eff, alpha), "points": _points(part, float(np.mean(s0)))}
    binary = (np.all(w0 == 1) and np.all(w1 == 1) and np.isin(v0, (0, 1)).all()
              and np.isin(v1, (0, 1)).all())
    if binary:
        worse_to_better = int(np.sum((v0 == 0) & (v1 == 1)))
        better_to_worse = int(np.sum((v0 == 1) & (v1 == 0)))
        p = mcnemar(worse_to_better, better_to_worse)
        test = (f"exact McNemar, paired (n = {n}; {better_to_worse} lost, {worse_to_better} "
                f"gained); paired bootstrap interval (B = {B})")
    else:
        d = s1 - s0
        p = float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))
        p = max(p, 1.0 / B)
        test = f"paired bootstrap (B = {B}, n = {n}; p >= 1/B)"
    return Test(test, p, ci, n, part.label, part.value, **extra)


def _points(part: Part, base: float) -> float | None:
    """One claim unit in score points (a share's change), as significance.compare has it."""
    if not share(part):
        return None
    return 100.0 / part.scale if part.kind == "abs_change" else abs(base) / part.scale


def mcnemar(c: int, b: int) -> float:
    """Exact two-sided McNemar p-value: binomial test of c successes in b + c trials at 1/2."""
    from scipy.special import bdtr

    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, 2 * bdtr(min(b, c), n, 0.5)))


def _bootstrap(metric, v0, w0, v1, w1) -> tuple[np.ndarray, np.ndarray]:
    """The corpus value of both models on B resamples of the same documents."""
    rng = np.random.default_rng(SEED)
    n = len(v0)
    s0, s1 = np.empty(B), np.empty(B)
    for start in range(0, B, CHUNK):
        idx = rng.integers(0, n, size=(min(CHUNK, B - start), n))
        s0[start:start + len(idx)] = corpus_value(metric, v0[idx], w0[idx])
        s1[start:start + len(idx)] = corpus_value(metric, v1[idx], w1[idx])
    return s0, s1


def _interval(vals: np.ndarray, tail: float = 0.025) -> tuple[float, float] | None:
    """The percentile interval with `tail` in each tail (0.025: 95%; alpha: equivalence's)."""
    vals = vals[np.isfinite(vals)]
    if len(vals) < B // 2:
        return None
    lo, hi = np.percentile(vals, [100 * tail, 100 * (1 - tail)])
    return float(lo), float(hi)
