"""The claims reports: claims.md (the digest first), claims.tex (the PDF's appendix),
digest.tex (the PDF's first page) and claims.json; `tables` adds report.html (html.py).

    python -m repro claims --data data --out paper/generated
"""

from __future__ import annotations

import logging
from pathlib import Path

from repro.config.claims import Claim, claims_file
from repro.core.atomicio import write_json, write_text
from repro.report.claims.digest import has_reproduction
from repro.report.claims.digest import lines as digest_lines
from repro.report.claims.evaluation import Result
from repro.report.claims.operators import REGISTRY, operator
from repro.report.claims.operators.base import unit_of
from repro.report.claims.quantities import as_list
from repro.report.claims.verdicts import failures, tally
from repro.report.formatting import fmt_number as fmt
from repro.report.queries import FAST_CAVEAT, FAST_LABEL, FAST_SETTING, display_name
from repro.report.templating import environment
from repro.results.schema import SOURCES

log = logging.getLogger("repro.claims")

def stated(c: Claim) -> str:
    return operator(c.op).words(c)


def tolerance(c: Claim) -> str:
    """The tolerance applied, unrounded (0.05 stays 0.05), in the claim's unit."""
    if not operator(c.op).numeric:
        return ""
    if c.tolerance == 0:
        return "exact" if c.op in ("~", "any") else "none"
    return f"±{c.tolerance:g}{' pts' if c.unit == ' pts' else c.unit.strip()}"


def scope(c: Claim) -> str:
    """What the verdict covers: models (base or instruct), tasks and metrics, levels."""
    q = c.quantity
    bits = []
    models = [m for m in as_list(q.model) if m]
    if models:
        bits.append(", ".join(display_name(m) + (" (instruct)" if "instruct" in m else " (base)")
                              for m in models))
    if q.x:
        bits.append(f"{q.x} vs {q.y}, paper metrics")
    tasks = as_list(q.task)
    if tasks and tasks != [()]:
        metric = q.metric or ("paper metrics" if len(tasks) > 1 else "paper metric")
        filt = "" if q.filter in (None, "none") else f" ({q.filter})"
        how = ("trade-off of " if q.of == "tradeoff" else
               "mean of " if len(tasks) > 1 and q.combine == "mean" else "")
        bits.append(f"{how}{', '.join(tasks)}: {metric}{filt}")
    levels = as_list(q.level)
    if levels and levels != [()]:
        bits.append("levels " + ", ".join(f"{lv:g}" for lv in levels) + "%")
    elif q.of in ("rel_change", "abs_change", "retained", "argmax_level", "argmin_level"):
        bits.append("every pruned level")
    crit = as_list(q.criterion)
    if crit != ["maw"] or q.variant:
        bits.append("criterion " + "/".join(crit) + (f", {q.variant}" if q.variant else ""))
    if q.reduce in ("min", "max"):
        bits.append(f"the {'largest' if q.reduce == 'max' else 'smallest'} part")
    return "; ".join(bits)


def _sig(d: dict | None, c: Claim) -> str:
    if not d:
        return ""
    bits = []
    if d["p_value"] is not None:
        p = d["p_value"]
        bits.append("p < 1e-300" if p == 0 else f"p = {p:.2g}" if p < 0.001 else f"p = {p:.3f}")
    if d["ci95"] is not None:
        unit = c.unit if c.quantity.of not in ("pearson_r", "spearman_rho", "pearson_p") else ""
        digits = c.digits if c.quantity.of not in ("pearson_p",) else 3
        bits.append(f"95% CI [{fmt(d['ci95'][0], digits)}, {fmt(d['ci95'][1], digits)}]{unit}")
    if d["n"]:
        bits.append(f"n = {d['n']}")
    bits.append(d["test"])
    return "; ".join(bits)


def _robust(d: dict | None) -> str:
    return "" if not d else f"holds under {d['holds']} of {d['of']} choices"


def _value(res: Result, source: str) -> str:
    comp, c = res.computed.get(source), res.claim
    if comp is None:
        return "--"
    op = operator(c.op)
    if op.numeric and c.op != "any":
        return fmt(comp.value, c.digits, c.unit)
    return op.value_text(c, comp, fmt)


def note(res: Result) -> str:
    """The claim's note, and the confound of the efficiency data it reads (confounds.py)."""
    return " ".join(x for x in (res.claim.note, res.confound) if x)


def rows(results: list[Result]) -> list[dict]:
    """Flat rows for the Markdown/LaTeX/console tables and claims.json."""
    table = []
    for res in results:
        c = res.claim
        row = {"id": c.id, "section": c.section, "statement": c.statement, "where": c.where,
               "scope": scope(c), "reading": c.reading, "stated": stated(c),
               "tolerance": tolerance(c), "op": c.op, "group": c.group,
               "inconsistent_with": res.conflicts, "note": note(res), "nature": c.nature,
               "failure": res.failure, "unit": unit_of(c), "digits": c.digits}
        for source in SOURCES:
            pre = "" if source == "paper" else "reproduction_"
            row[f"{source}_value"] = _value(res, source)
            row[f"{source}_short"] = short_value(res, source)
            row[f"{source}_verdict"] = res.verdict[source]
            row[f"{source}_how"] = res.how.get(source, "")
            row[f"{source}_why"] = res.why.get(source, "")
            row[f"{pre}significance"] = res.significance.get(source)
            row[f"{pre}robustness"] = res.robustness.get(source)
            row[f"{source}_significance_text"] = _sig(res.significance.get(source), c)
            row[f"{source}_robustness_text"] = _robust(res.robustness.get(source))
            row[f"{source}_decomposition"] = res.decomposition.get(source, "")
            if res.setting.get(source):  # only then: a row read in the paper's setting is as before
                row[f"{source}_setting"] = res.setting[source]
        table.append(row)
    return table


def short_value(res: Result, source: str) -> str:
    """The value in a few words: a claim of many parts shows how many and their range."""
    comp, c = res.computed.get(source), res.claim
    if comp is None:
        return "--"
    if len(comp.parts) <= 2 or (operator(c.op).numeric and c.op != "any"):
        text = _value(res, source)
        return text if len(text) <= 48 else text[:45] + "..."
    vals = [p.value for p in comp.parts]
    return f"{len(vals)} parts, {fmt(min(vals), c.digits)} .. {fmt(max(vals), c.digits, unit_of(c))}"


def context(table: list[dict]) -> dict:
    """What every report template gets: the digest, the claims, the tally split by kind of
    failure, the table cells, the seeds' conflicts."""
    main = [t for t in table if not t["section"]]
    cells = [t for t in table if t["section"]]
    spec = claims_file()
    lines = digest_lines(main)
    ids = {t["id"] for t in main}
    return {"claims": main, "cells": cells, "digest": lines,
            "reproduced": has_reproduction(lines),
            "cells_off": [t for t in cells if t["paper_verdict"] != "holds"],
            "tally": {s: tally(main, s) for s in SOURCES},
            "failures": failures(main), "cells_failures": failures(cells),
            "cells_tally": tally(cells, "paper") if cells else {},
            "inconsistent": sorted({tuple(sorted((t["id"], o))) for t in main
                                    for o in t["inconsistent_with"]}),
            "conflicts": [{"id": c.id, "says": list(c.says), "note": c.note,
                           "claims": [t for t in main if t["id"] in c.claims]}
                          for c in spec.conflicts if set(c.claims) <= ids],
            "reproduction_setting": setting_line(main),
            "alpha": spec.alpha, "power": spec.power, "margin": spec.margin,
            "operators": [(name, op.summary) for name, op in sorted(REGISTRY.items())]}


def setting_line(main: list[dict]) -> str:
    """The reports' line on the setting the reproduction was evaluated in, where some claims
    were read in the fast setting ('' where none was: every claim in the paper's, as before)."""
    if not any(t.get("reproduction_setting") == "fast" for t in main):
        return ""
    judged = [t for t in main if t["reproduction_verdict"] != "not run"]
    n = sum(t.get("reproduction_setting") == "fast" for t in judged)
    which = (f"all {n}" if n == len(judged) else f"{n} of the {len(judged)}") + " claims it judges"
    rest = "" if n == len(judged) else ", in the paper's setting for the others"
    return (f"Reproduction: evaluated in {FAST_SETTING}, for {which} (each marked "
            f"{FAST_LABEL}){rest}; {FAST_CAVEAT}.")


def write_reports(table: list[dict], out: Path, ctx: dict | None = None) -> None:
    """claims.md, claims.tex (the appendix), digest.tex (the PDF's first page), claims.json."""
    env = environment()
    ctx = context(table) if ctx is None else ctx
    for name in ("claims.md", "claims.tex", "digest.tex"):
        write_text(out / name, env.get_template(name + ".j2").render(ctx))
    write_json(out / "claims.json", table)
