"""The claims report: claims.md, claims.tex and claims.json, and the console summary.

    python -m repro claims --data data --out paper/generated
"""

from __future__ import annotations

import logging
from pathlib import Path

from repro.config.claims import NUMERIC_OPS, Claim
from repro.config.metrics import metrics
from repro.core.atomicio import write_json, write_text
from repro.report.analysis import add_data_options, prepare_out
from repro.report.claims.evaluation import Result, evaluate
from repro.report.claims.quantities import as_list
from repro.report.claims.verdicts import tally
from repro.report.formatting import fmt_number as fmt
from repro.report.queries import current, display_name
from repro.report.templating import environment
from repro.results.samples import load_samples
from repro.results.schema import SOURCES, load_dir

log = logging.getLogger("repro.claims")

TESTS = {"worse": "degrades significantly at every level", "stable": "no significant change",
         "not_worse": "no significant decline (stable or improves)",
         "not_better": "no significant gain (negative or minimal)",
         "increasing": "rises with every level", "rising": "a significant rising trend"}
OP_WORDS = {"~": "", ">=": "at least ", "<=": "at most ", "in": "within ", "any": "in some reading: "}


def stated(c: Claim) -> str:
    if c.op == "undominated":
        return f"best at {c.stated:g}%"
    if c.op not in NUMERIC_OPS:
        return TESTS[c.op]
    return OP_WORDS[c.op] + fmt(c.stated, c.digits, c.unit)


def tolerance(c: Claim) -> str:
    """The tolerance applied, unrounded (0.05 stays 0.05), in the claim's unit."""
    if c.op not in NUMERIC_OPS:
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
    if c.op == "undominated":
        return "unbeaten: " + ", ".join(f"{lv:g}" for lv in comp.value) + "%"
    if c.op == "any" or (len(comp.parts) > 1 and c.op not in NUMERIC_OPS):
        return "; ".join(f"{p.label} {fmt(p.value, c.digits, c.unit)}" for p in comp.parts)
    return fmt(comp.value, c.digits, c.unit)


def note(c: Claim) -> str:
    """The claim's note, and the caveat of the efficiency data it reads (metrics.yaml)."""
    eff = metrics().efficiency
    bits = [c.note] if c.note else []
    if set(as_list(c.quantity.task)) & set(eff.workloads):
        bits += [eff.notes[m] for m in as_list(c.quantity.model) if m in eff.notes]
    return " ".join(bits)


def rows(results: list[Result]) -> list[dict]:
    """Flat rows for the Markdown/LaTeX/console tables and claims.json."""
    table = []
    for res in results:
        c = res.claim
        row = {"id": c.id, "section": c.section, "statement": c.statement, "where": c.where,
               "scope": scope(c), "reading": c.reading, "stated": stated(c),
               "tolerance": tolerance(c), "op": c.op, "group": c.group,
               "inconsistent_with": res.conflicts, "note": note(c)}
        for source in SOURCES:
            pre = "" if source == "paper" else "reproduction_"
            row[f"{source}_value"] = _value(res, source)
            row[f"{source}_verdict"] = res.verdict[source]
            row[f"{source}_how"] = res.how.get(source, "")
            row[f"{source}_why"] = res.why.get(source, "")
            row[f"{pre}significance"] = res.significance.get(source)
            row[f"{pre}robustness"] = res.robustness.get(source)
            row[f"{source}_significance_text"] = _sig(res.significance.get(source), c)
            row[f"{source}_robustness_text"] = _robust(res.robustness.get(source))
            row[f"{source}_decomposition"] = res.decomposition.get(source, "")
        table.append(row)
    return table


def console(table: list[dict]) -> str:
    head = ("claim", "stated", "paper data", "verdict", "reproduction", "verdict")
    body = [(t["id"], t["stated"], t["paper_value"], t["paper_verdict"], t["reproduction_value"],
             t["reproduction_verdict"]) for t in table if not t["section"]]
    widths = [min(40, max(len(str(x[i])) for x in [head, *body])) for i in range(len(head))]
    line = lambda cells: "  ".join(str(x)[:w].ljust(w) for x, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)]) + "\n"


def context(table: list[dict]) -> dict:
    main = [t for t in table if not t["section"]]
    cells = [t for t in table if t["section"]]
    return {"claims": main, "cells": cells,
            "cells_off": [t for t in cells if t["paper_verdict"] != "holds"],
            "tally": {s: tally(main, s) for s in SOURCES},
            "cells_tally": tally(cells, "paper") if cells else {},
            "inconsistent": [t for t in main if t["inconsistent_with"]],
            "robust": [t for t in main if t["robustness"]],
            "dichotomy": [t for t in main if t["op"] in ("worse", "not_worse")],
            "detailed": [t for t in main if (t["significance"] or {}).get("parts")]}


def write_reports(table: list[dict], out: Path) -> None:
    env = environment()
    ctx = context(table)
    write_text(out / "claims.md", env.get_template("claims.md.j2").render(ctx))
    write_text(out / "claims.tex", env.get_template("claims.tex.j2").render(ctx))
    write_json(out / "claims.json", table)


def run_claims(df, out: Path, samples=None) -> int:
    table = rows(evaluate(df, samples=samples))
    write_reports(table, out)
    print(console(table), end="")
    ctx = context(table)
    for s in SOURCES:
        print(f"{s}: " + ", ".join(f"{n} {k}" for k, n in ctx["tally"][s].items()))
    errors = [t for t in table if "error" in (t["paper_verdict"], t["reproduction_verdict"])]
    for t in errors:
        log.error("claim %s could not be evaluated: %s", t["id"], t["paper_why"] or t["reproduction_why"])
    return 1 if errors else 0


def configure(parser) -> None:
    add_data_options(parser)


def run(args) -> int:
    out = prepare_out(args.out)  # checked before any work, cleared of a killed run's files
    return run_claims(current(load_dir(args.data)), out, load_samples(args.data))
