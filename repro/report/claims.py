"""Every numeric claim of the paper, checked against the data: holds / fails / not run / inconsistent.

    python -m repro claims --data data --out paper/generated

Claims are data (repro/config/claims.yaml, shaped by repro/config/claims.py): a statement,
where it is stated, a quantity this module computes from the tidy data, the stated value and a tolerance. Each claim is evaluated on
the published figures and, where present, on the reproduction ("not run" where it has no data
for that quantity). Claims sharing a `group` talk about one quantity; if their stated values
disagree, each is marked "inconsistent" (its own verdict is kept beside it). Writes claims.md,
claims.tex and claims.json; the exit status is non-zero only if a claim could not be evaluated
on the published data (a kit or data error), never because a claim fails.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from repro.config.claims import Claim, Quantity, load_claims
from repro.core.atomicio import write_json, write_text
from repro.core.errors import ReproError
from repro.report.analysis import add_data_options, correlation, prepare_out
from repro.report.queries import current, metric_for, series
from repro.report.templating import environment
from repro.results.schema import SOURCES, load_dir

log = logging.getLogger("repro.claims")


class NotRun(Exception):
    """The data has no rows for this quantity (normal for a reproduction that skipped it)."""


def _list(v) -> list:
    return list(v) if isinstance(v, tuple | list) else [v]


def _level_series(df, q: Quantity, model, task, source) -> pd.Series:
    metric, filt = q.metric, q.filter
    if metric is None:
        metric, filt = metric_for(model, task)
    s = series(df, model, task, metric, filt or "none", source=source,
               criterion=q.criterion, variant=q.variant)
    if s.empty:
        raise NotRun(f"no {source} rows for {model} {task} {metric}")
    return s


def _by_level(df, q: Quantity, model, criterion, source) -> pd.Series:
    """The task's values by level; a list of tasks is averaged per level (e.g. workloads)."""
    parts = [_level_series(df, replace(q, criterion=criterion), model, t, source)
             for t in _list(q.task)]
    both = pd.concat(parts, axis=1, join="inner")
    if both.empty:
        raise NotRun(f"no level has every task of {_shown(q.task)}")
    return both.mean(axis=1)


def _arch(df, model, level, source, column):
    sel = df[(df.model == model) & (df.level == level) & (df.source == source)]
    if sel.empty:
        raise NotRun(f"no {source} rows for {model} at {level:g}%")
    v = sel[column].iloc[0]
    if pd.isna(v):  # the schema allows an unknown parameter count
        raise NotRun(f"{column} of {model} at {level:g}% is unknown in the {source} data")
    return float(v)


def _shown(v) -> str:
    """A task or task list as the old dict-based messages showed it."""
    return str(list(v)) if isinstance(v, tuple) else str(v)


def quantity(df: pd.DataFrame, q: Quantity, source: str):
    """The number (or (min, max) range over listed models/levels/criteria) a claim is about."""
    kind, scale = q.of, q.scale
    if kind in ("pearson_r", "pearson_p", "spearman_rho"):
        c = correlation(df, q.x, q.y, _list(q.model), source)
        if c["pearson_r"] is None:
            raise NotRun(f"fewer than 3 {source} points for {q.x} vs {q.y}")
        return c[kind] * scale
    if kind in ("n_tasks", "n_levels"):
        # design counts; a reproduction that covers less than the paper did is "not run" for them
        col = "task" if kind == "n_tasks" else "level"
        main = df[(df.variant == "") & (df.unit == "")]
        counts = {s: min(main[(main.model == m) & (main.source == s)][col].nunique()
                         for m in _list(q.model)) for s in ("paper", source)}
        if counts[source] == 0 or (source != "paper" and counts[source] < counts["paper"]):
            raise NotRun(f"{source} covers {counts[source]} of the paper's {counts['paper']} {col}s")
        return float(counts[source])
    vals = []
    for model in _list(q.model):
        if kind == "level_at_ratio":
            sel = df[(df.model == model) & (df.source == source) & (df.variant == "")]
            sel = sel[(sel.expansion_ratio - q.ratio).abs() <= q.ratio_tolerance]
            if sel.empty:
                raise NotRun(f"no {source} level of {model} at ratio {q.ratio:g}")
            vals.append(float(sel.level.min()))
            continue
        if kind in ("expansion_ratio", "kept_width", "params"):
            vals += [_arch(df, model, lv, source, kind) * scale for lv in _list(q.level)]
            continue
        for crit in _list(q.criterion):
            s = _by_level(df, q, model, crit, source)
            if kind in ("argmax_level", "argmin_level"):
                s = s[s.index > 0]
                vals.append(float(s.idxmax() if kind == "argmax_level" else s.idxmin()))
                continue
            if 0 not in s.index:
                raise NotRun(f"no {source} baseline for {model} {_shown(q.task)}")
            base = s[0]
            for lv in _list(q.level):
                if lv not in s.index:
                    raise NotRun(f"no {source} value for {model} {_shown(q.task)} at {lv:g}%")
                v = s[lv]
                vals.append(scale * {"value": v, "rel_change": 100.0 * (v / base - 1.0),
                                     "abs_change": v - base, "retained": 100.0 * v / base}[kind])
    lo, hi = min(vals), max(vals)
    return lo if lo == hi else (lo, hi)


def check(computed, stated, tol: float, op: str = "~") -> bool:
    lo, hi = computed if isinstance(computed, tuple) else (computed, computed)
    if op == ">=":
        return lo >= _lo(stated) - tol
    if op == "<=":
        return hi <= _hi(stated) + tol
    if op == "in":  # the computed range lies inside the stated one
        return lo >= _lo(stated) - tol and hi <= _hi(stated) + tol
    if isinstance(stated, tuple | list):
        return abs(lo - stated[0]) <= tol and abs(hi - stated[1]) <= tol
    return abs(lo - stated) <= tol and abs(hi - stated) <= tol


def _lo(v):
    return v[0] if isinstance(v, tuple | list) else v


def _hi(v):
    return v[1] if isinstance(v, tuple | list) else v


def fmt(v, digits: int = 1, unit: str = "") -> str:
    if v is None:
        return "--"
    if isinstance(v, (tuple, list)):
        return f"{fmt(v[0], digits)} .. {fmt(v[1], digits)}{unit}"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    s = f"{v:,.{digits}f}" if abs(v) >= 1000 else f"{v:.{digits}f}"
    return f"{s}{unit}"


def _conflicting(claims: list[Claim]) -> set[str]:
    """Ids of claims whose group states values that disagree beyond their tolerances."""
    groups: dict[str, list[Claim]] = {}
    for c in claims:
        if c.group:
            groups.setdefault(c.group, []).append(c)
    bad = set()
    for members in groups.values():
        for a in members:
            for b in members:
                tol = max(a.tolerance, b.tolerance)
                if (abs(_lo(a.stated) - _lo(b.stated)) > tol
                        or abs(_hi(a.stated) - _hi(b.stated)) > tol):
                    bad |= {a.id, b.id}
    return bad


@dataclass
class Result:
    claim: Claim
    computed: dict = field(default_factory=dict)   # source -> value / range / None
    verdict: dict = field(default_factory=dict)    # source -> holds | fails | not run | inconsistent | error
    alone: dict = field(default_factory=dict)      # source -> holds | fails (own verdict)
    why: dict = field(default_factory=dict)        # source -> reason for not run / error


def evaluate(df: pd.DataFrame, claims: list[Claim] | None = None) -> list[Result]:
    claims = load_claims() if claims is None else claims
    conflicting = _conflicting(claims)
    out = []
    for c in claims:
        r = Result(c)
        for source in SOURCES:
            try:
                v = quantity(df, c.quantity, source)
            except NotRun as exc:
                kind = "error" if source == "paper" else "not run"
                r.computed[source], r.verdict[source], r.why[source] = None, kind, str(exc)
                continue
            except (KeyError, ValueError, ZeroDivisionError, ReproError) as exc:
                r.computed[source], r.verdict[source] = None, "error"
                r.why[source] = f"{type(exc).__name__}: {exc}"
                continue
            ok = check(v, c.stated, c.tolerance, c.op)
            r.computed[source], r.alone[source] = v, "holds" if ok else "fails"
            r.verdict[source] = "inconsistent" if c.id in conflicting else r.alone[source]
        out.append(r)
    return out


def rows(results: list[Result]) -> list[dict]:
    """Flat, formatted rows for the Markdown/LaTeX/console tables and claims.json."""
    table = []
    for r in results:
        c = r.claim
        d, unit = c.digits, c.unit
        op = {"~": "", ">=": "at least ", "<=": "at most ", "in": "within "}[c.op]
        row = {"id": c.id, "statement": c.statement, "where": c.where,
               "stated": op + fmt(c.stated, d, unit), "tolerance": fmt(c.tolerance, d),
               "note": c.note, "group": c.group}
        for source in SOURCES:
            row[f"{source}_value"] = fmt(r.computed.get(source), d, unit)
            row[f"{source}_verdict"] = r.verdict[source]
            row[f"{source}_alone"] = r.alone.get(source, "")
            row[f"{source}_why"] = r.why.get(source, "")
        table.append(row)
    return table


def console(table: list[dict]) -> str:
    head = ("claim", "stated", "paper data", "verdict", "reproduction", "verdict")
    body = [(t["id"], t["stated"], t["paper_value"], t["paper_verdict"], t["reproduction_value"],
             t["reproduction_verdict"]) for t in table]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    line = lambda cells: "  ".join(str(x).ljust(w) for x, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)]) + "\n"


def tally(table: list[dict], source: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in table:
        out[t[f"{source}_verdict"]] = out.get(t[f"{source}_verdict"], 0) + 1
    return dict(sorted(out.items()))


def write_reports(table: list[dict], out: Path) -> None:
    env = environment()
    ctx = {"claims": table, "tally": {s: tally(table, s) for s in SOURCES}}
    write_text(out / "claims.md", env.get_template("claims.md.j2").render(ctx))
    write_text(out / "claims.tex", env.get_template("claims.tex.j2").render(ctx))
    write_json(out / "claims.json", table)


def run_claims(df: pd.DataFrame, out: Path) -> int:
    table = rows(evaluate(df))
    write_reports(table, out)
    print(console(table), end="")
    for s in SOURCES:
        print(f"{s}: " + ", ".join(f"{n} {k}" for k, n in tally(table, s).items()))
    errors = [t for t in table if t["paper_verdict"] == "error" or t["reproduction_verdict"] == "error"]
    for t in errors:
        log.error("claim %s could not be evaluated: %s", t["id"], t["paper_why"] or t["reproduction_why"])
    return 1 if errors else 0


def configure(parser) -> None:
    add_data_options(parser)


def run(args) -> int:
    out = prepare_out(args.out)
    return run_claims(current(load_dir(args.data)), out)
