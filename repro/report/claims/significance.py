"""Is a claimed change more than noise? Tests on the published figures (and a reproduction's
tidy rows when it has no per-document logs): unpaired and approximate.

- Scores: a two-sample z-test of level vs baseline, with the published stderr where the files
  give one (IFEval prompt-level, GSM8K, MuSR), else the binomial sqrt(p(1-p)/n) with the task's
  item count (repro/config/task_sizes.yaml; an upper bound for TruthfulQA-MC2's bounded scores).
  Perplexities have no such standard error: not testable without per-document logs.
- Efficiency figures: Welch's t from the mean, std and runs of each cell (a 1-run cell: not
  testable); a mean over workloads sums the variances (Welch-Satterthwaite degrees of freedom).
- Effects get a 95% interval in the claim's unit: Fieller's interval for a ratio (relative
  change, share retained), mean +- q SE for differences and values.
- Correlations: the parametric p-value, Fisher's interval and, for n <= 8, the exact
  permutation p-value. Peaks: the peak level against the runner-up. Trends: Spearman over levels.

The pruned and the baseline model answer the same items, so the unpaired test ignores a
positive covariance and is conservative; repro/report/claims/paired.py is the paired version.
Only scipy.special is used (scipy.stats is a 1-2 s import).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from repro.config.task_sizes import task_sizes
from repro.report.claims.quantities import LOWER_SCORES, Part, Reader, change

Z = 1.959963984540054  # the normal 97.5% quantile


@dataclass
class Estimate:
    value: float
    se: float | None          # None: no defensible standard error
    dof: float = math.inf     # inf: normal
    n: int | None = None
    how: str = ""             # where the standard error comes from
    why: str = ""             # why there is none


@dataclass
class Test:
    test: str
    p: float | None = None
    ci: tuple[float, float] | None = None
    n: int | None = None
    label: str = ""           # which part of the claim
    effect: float | None = None
    se: float | None = None   # standard error of the effect, in the claim's unit
    ci_equiv: tuple[float, float] | None = None  # the (1 - 2 alpha) interval equivalence reads
    points: float | None = None  # 1 claim unit in score points (x100), where the score is a share
    worse: bool | None = None  # a comparison of two changes: the first is the worse one

    def to_dict(self) -> dict:
        return {"test": self.test, "p_value": _round(self.p), "ci95": None if self.ci is None
                else [_round(self.ci[0]), _round(self.ci[1])], "n": self.n, "part": self.label,
                "effect": _round(self.effect)}

    def detectable(self, alpha: float, power: float) -> float | None:
        """The smallest change (claim's unit) this test finds with the given power at alpha."""
        if self.se is None:
            return None
        from scipy.special import ndtri

        return float((ndtri(1 - alpha / 2) + ndtri(power)) * self.se)


def _round(v):
    return None if v is None else float(f"{v:.6g}")


def _sf(stat: float, dof: float) -> float:
    from scipy.special import ndtr, stdtr

    return float(ndtr(-abs(stat)) if math.isinf(dof) else stdtr(dof, -abs(stat)))


def quantile(dof: float, level: float = 0.975) -> float:
    from scipy.special import ndtri, stdtrit

    if math.isinf(dof):
        return Z if level == 0.975 else float(ndtri(level))
    return float(stdtrit(dof, level))


def estimate(r: Reader, model, task, metric, filt, level, criterion="maw", variant="") -> Estimate:
    """A value with its standard error, from the tidy rows (see the module docstring)."""
    if metric == "ms_per_token":  # 1000 / throughput: the delta method
        e = estimate(r, model, task, "throughput_mean", filt, level, criterion, variant)
        if e.se is None:
            return Estimate(1000.0 / e.value, None, why=e.why)
        return Estimate(1000.0 / e.value, 1000.0 * e.se / e.value ** 2, e.dof, e.n, e.how)
    row = r.cell(model, task, metric, filt, level, criterion, variant)
    if row is None:
        return Estimate(math.nan, None, why=f"no row for {model} {task} {metric} at {level:g}%")
    value = float(row["value"])
    if row["unit"]:
        return _runs(r, row, model, task, metric, level, criterion, variant)
    se = row["stderr"]
    if se == se and se > 0:  # not NaN
        who = "published" if r.source == "paper" else "lm-eval's"
        return Estimate(value, float(se), how=f"{who} stderr")
    if r.source != "paper":
        return Estimate(value, None, why="no stderr and no per-document scores")
    size = task_sizes().size(task, metric)
    if size is None or size.score == "perplexity":
        return Estimate(value, None, why=f"{task} {metric}: no standard error without "
                                         "per-document logs")
    how = {"binary": "binomial SE", "bounded": "binomial upper-bound SE",
           "clustered": "binomial SE (clustered items: understated)"}[size.score]
    return Estimate(value, math.sqrt(max(value * (1 - value), 0.0) / size.items), n=size.items,
                    how=f"{how}, n = {size.items} {size.unit}")


def _runs(r: Reader, row, model, task, metric, level, criterion, variant) -> Estimate:
    value = float(row["value"])
    if not metric.endswith("_mean"):
        return Estimate(value, None, why=f"{metric}: no spread recorded")
    runs = r.cell(model, task, "runs_aggregated", "none", level, criterion, variant)
    n = None if runs is None else int(runs["value"])
    if n is not None and n < 2:
        return Estimate(value, None, why=f"{task} at {level:g}%: {n} run")
    std = r.cell(model, task, metric[:-5] + "_std", "none", level, criterion, variant)
    if std is None or n is None:
        return Estimate(value, None, why=f"{task} at {level:g}%: no std or run count")
    return Estimate(value, float(std["value"]) / math.sqrt(n), n - 1, n, f"mean +- std over {n} runs")


def combined(parts: list[Estimate]) -> Estimate:
    """The mean of several estimates (workloads): variances add, Welch-Satterthwaite dof."""
    if len(parts) == 1:
        return parts[0]
    missing = [e.why for e in parts if e.se is None]
    value = sum(e.value for e in parts) / len(parts)
    if missing:
        return Estimate(value, None, why=missing[0])
    var = sum(e.se ** 2 for e in parts) / len(parts) ** 2
    return Estimate(value, math.sqrt(var), _welch([e.se / len(parts) for e in parts],
                                                  [e.dof for e in parts]),
                    min(e.n or 0 for e in parts) or None, parts[0].how)


def _welch(ses: list[float], dofs: list[float]) -> float:
    if all(math.isinf(d) for d in dofs):
        return math.inf
    num = sum(s ** 2 for s in ses) ** 2
    den = sum(s ** 4 / d for s, d in zip(ses, dofs, strict=True) if not math.isinf(d) and s > 0)
    return num / den if den else math.inf


def part_estimate(r: Reader, part: Part, level: float) -> Estimate:
    return combined([estimate(r, part.model, t, m, f, level, part.criterion, part.variant)
                     for t, m, f in part.cells])


def fieller(num: Estimate, den: Estimate, q: float) -> tuple[float, float] | None:
    """95% interval of num/den for independent normal estimates; None if unbounded."""
    a = den.value ** 2 - q ** 2 * den.se ** 2
    b = -2 * num.value * den.value
    c = num.value ** 2 - q ** 2 * num.se ** 2
    disc = b * b - 4 * a * c
    if a <= 0 or disc < 0:
        return None
    lo, hi = sorted(((-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)))
    return lo, hi


def compare(base: Estimate, lev: Estimate, kind: str, scale: float, label: str = "",
            alpha: float = 0.05, share: bool = False) -> Test:
    """Test a level against the reference (the baseline); interval of the effect in the claim's
    unit, 95% and (1 - 2 alpha) for equivalence, and the effect's standard error (delta
    method). share: the score is a share (0..1), so a change also reads in points."""
    effect = change(kind, lev.value, base.value) * scale
    if base.se is None or lev.se is None:
        return Test(f"not testable: {base.why or lev.why}", label=label, effect=effect)
    if kind == "value":
        q = quantile(lev.dof)
        return Test(f"estimate ({lev.how})", None, ((lev.value - q * lev.se) * scale,
                                                    (lev.value + q * lev.se) * scale),
                    lev.n, label, effect, se=lev.se * scale)
    diff, se = lev.value - base.value, math.hypot(base.se, lev.se)
    dof = _welch([base.se, lev.se], [base.dof, lev.dof])
    q, q_equiv = quantile(dof), quantile(dof, 1 - alpha)
    p = 2 * _sf(diff / se, dof) if se > 0 else (1.0 if diff == 0 else 0.0)
    kind_name = "two-sample z" if math.isinf(dof) else f"Welch t (dof {dof:.1f})"
    test = f"{kind_name}, unpaired, approximate ({lev.how})"
    if kind == "abs_change":
        ci = ((diff - q * se) * scale, (diff + q * se) * scale)
        equiv = ((diff - q_equiv * se) * scale, (diff + q_equiv * se) * scale)
        se_effect, points = se * scale, (100.0 / scale if share else None)
    else:
        ratio, ratio_equiv = fieller(lev, base, q), fieller(lev, base, q_equiv)
        ci = None if ratio is None else tuple(change(kind, x, 1.0) * scale for x in ratio)
        equiv = None if ratio_equiv is None else tuple(change(kind, x, 1.0) * scale
                                                       for x in ratio_equiv)
        # delta method: d(lev/base) = dlev/base - lev dbase/base^2
        se_effect = 100.0 * scale * math.hypot(lev.se, lev.value / base.value * base.se) / abs(base.value)
        points = abs(base.value) / scale if share else None  # 1% of the reference in points
    return Test(test, p, ci, lev.n, label, effect, se_effect, equiv, points)


def part_test(r: Reader, part: Part, alpha: float = 0.05) -> Test:
    """The part's level against its reference level (the baseline, or the level the quantity
    names); a value at the reference: its own interval."""
    ref = part.reference
    base = part_estimate(r, part, ref)
    lev = base if part.level == ref else part_estimate(r, part, part.level)
    return compare(base, lev, part.kind, part.scale, part.label, alpha, share(part))


def share(part: Part) -> bool:
    """Whether the part's scores are shares (benchmark accuracies, 0..1): a change then also
    reads in points."""
    from repro.config.metrics import metrics

    cols = metrics().columns
    return bool(part.cells) and all(t in cols and m not in LOWER_SCORES for t, m, _ in part.cells)


def peak_test(r: Reader, part: Part) -> Test:
    """An argmax/argmin level against the runner-up level: is the peak a peak?"""
    s = part.series[part.series.index > 0]
    ranked = s.sort_values(ascending=part.kind == "argmin_level")
    if len(ranked) < 2:
        return Test("not testable: one level", label=part.label)
    top, second = float(ranked.index[0]), float(ranked.index[1])
    t = compare(part_estimate(r, part, second), part_estimate(r, part, top), "abs_change", 1.0,
                part.label)
    t.test, t.ci = f"peak vs runner-up {second:g}%: {t.test}", None
    return t


def correlation_test(points: list[tuple], c: dict, kind: str) -> Test:
    """Parametric p, Fisher's 95% interval and (n <= 8) the exact permutation p of Pearson's r."""
    n = c["n"]
    r = c["pearson_r"] if kind != "spearman_rho" else c["spearman_rho"]
    p = c["pearson_p"] if kind != "spearman_rho" else c["spearman_p"]
    ci = None
    if n > 3 and abs(r) < 1:
        z, half = math.atanh(r), Z / math.sqrt(n - 3)
        ci = (math.tanh(z - half), math.tanh(z + half))
    name = "Spearman (t approximation)" if kind == "spearman_rho" else "Pearson t-test (parametric)"
    perm = permutation_p([x for *_, x, _ in points], [y for *_, y in points]) if n <= 8 else None
    if perm is not None and kind != "spearman_rho":
        name += f"; exact permutation p = {perm:.4f}"
    return Test(f"{name}, Fisher 95% interval", p, ci, n, effect=r)


def permutation_p(x: list[float], y: list[float]) -> float | None:
    """Two-sided exact permutation p-value of Pearson's r over every pairing of y with x."""
    import itertools

    import numpy as np

    xa, ya = np.asarray(x, float), np.asarray(y, float)
    xm, ym = xa - xa.mean(), ya - ya.mean()
    denom = math.sqrt(float(xm @ xm) * float(ym @ ym))
    if denom == 0:
        return None
    perms = np.array(list(itertools.permutations(range(len(ya)))))
    rs = (ym[perms] @ xm) / denom
    r0 = float(xm @ ym) / denom
    tails = np.mean(rs <= r0 + 1e-12), np.mean(rs >= r0 - 1e-12)
    return float(min(1.0, 2 * min(tails)))  # twice the smaller tail, as scipy's permutation_test


def trend_test(parts: list[Part]) -> Test:
    """Spearman correlation of the parts' values with their levels (one model's run of levels)."""
    import pandas as pd

    from repro.report.analysis import _pearson

    if len(parts) < 3:
        return Test("not testable: fewer than 3 levels", label=parts[0].label if parts else "")
    levels = pd.Series([p.level for p in parts]).rank().tolist()
    values = pd.Series([p.value for p in parts]).rank().tolist()
    rho, p = _pearson(levels, values)
    how = "t approximation"
    if len(parts) <= 8:  # exact: every ordering of the values over the levels
        p, how = permutation_p(levels, values), "exact permutation p"
    t = Test(f"Spearman trend over levels (rho = {rho:.3f}, {how})",
             None if p is None or p != p else p, None, len(parts), parts[0].label.rsplit(" ", 1)[0])
    t.effect = rho
    return t


def runs(parts: list[Part]) -> list[list[Part]]:
    """The parts grouped by model, criterion and tasks, each ordered by level."""
    out: dict[tuple, list[Part]] = {}
    for p in parts:
        out.setdefault((p.model, p.criterion, p.cells), []).append(p)
    return [sorted(g, key=lambda p: p.level) for g in out.values()]
