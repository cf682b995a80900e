"""The digest: the paper's findings (claims.yaml `digest`), one line each, decided by the claims
listed for it: the verdict they add up to, the headline claim's deciding effect with its 95%
interval, the strength of that evidence, the caveat that matters, and the claims behind it
(published and, where one exists, reproduced).

A finding's verdict: holds (every claim holds), fails (none holds), partly (k of n hold),
not contradicted (no failure, some claims underpowered), no rule stated, not run.
"""

from __future__ import annotations

import re

from repro.config.claims import claims_file
from repro.report.claims.operators import FAILS, HOLDS, NO_RULE, UNDERPOWERED
from repro.report.formatting import fmt_number
from repro.report.queries import FAST_LABEL, setting_label

REPRODUCED = {"reproduced": HOLDS, "partly reproduced": FAILS, "not reproduced": FAILS,
              UNDERPOWERED: UNDERPOWERED, NO_RULE: NO_RULE}


def combine(verdicts: list[str]) -> str:
    """The finding's verdict from its claims' own (published words; 'not run' claims aside)."""
    seen = [v for v in verdicts if v != "not run"]
    if not seen:
        return "not run"
    if "error" in seen:
        return "error"
    if all(v == NO_RULE for v in seen):
        return NO_RULE
    ok = sum(v in (HOLDS, NO_RULE) for v in seen)
    if FAILS in seen:
        return FAILS if ok + seen.count(UNDERPOWERED) == 0 else f"partly ({ok} of {len(seen)} hold)"
    return HOLDS if ok == len(seen) else UNDERPOWERED


SEVERITY = {FAILS: 0, "error": 0, UNDERPOWERED: 1}


def strength(p: float | None, alpha: float) -> str:
    if p is None:
        return "untested (no standard error)"
    label = ("strong" if p < alpha / 50 else "moderate" if p < alpha / 5 else
             "weak" if p < alpha else "none")
    shown = "p < 1e-6" if p < 1e-6 else f"p = {p:.2g}" if p < 0.001 else f"p = {p:.3f}"
    return f"{label} ({shown})"


def effect(row: dict, source: str = "paper") -> tuple[str, str]:
    """(effect with its 95% interval, strength of evidence) of a claim's deciding test."""
    key = "significance" if source == "paper" else "reproduction_significance"
    sig, alpha = row.get(key), claims_file().alpha
    value = row[f"{source}_value"]
    if not sig:
        why = "no rule to test" if row[f"{source}_verdict"] == NO_RULE else "no test (a count or a recorded value)"
        return (value if len(value) <= 60 else value[:57] + "..."), why
    unit = "" if row["op"] in ("rising", "falling") else row.get("unit", "")
    e, ci = sig.get("effect"), sig.get("ci95")
    test = sig["test"]
    if e is None:
        text = value if len(value) <= 60 else value[:57] + "..."
    elif "Spearman" in test:
        what = "dose-response" if row["op"] in ("degrades", "proportional") else "trend"
        text = f"{sig['part'] + ' ' if sig['part'] else ''}{what}: rho = {e:+.2f}"
    elif "Pearson" in test:
        text = f"{sig['part'] + ': ' if sig['part'] else ''}r = {e:+.3f}"
    else:
        digits = row.get("digits", 1)
        text = f"{sig['part'] + ': ' if sig['part'] else ''}{'+' if e > 0 else ''}{fmt_number(e, digits, unit)}"
    if ci:
        text += f" [{fmt_number(ci[0], row.get('digits', 1))}, {fmt_number(ci[1], row.get('digits', 1))}]"
    if row[f"{source}_verdict"] == UNDERPOWERED:
        how = row[f"{source}_how"]
        m = re.search(r"detectable change ([0-9.]+ points|[0-9.]+%?)", how)
        return text, f"underpowered (detects {m.group(1)})" if m else "underpowered"
    return text, strength(sig.get("p_value"), alpha)


def lines(table: list[dict]) -> list[dict]:
    """The digest's lines from the claims' rows (reports.rows)."""
    by_id = {t["id"]: t for t in table}
    out = []
    for f in claims_file().digest:
        rows = [by_id[c] for c in f.claims if c in by_id]
        if not rows:
            continue
        # the claim that decides the line: the first failing, else underpowered, else the first
        head = min(rows, key=lambda r: SEVERITY.get(r["paper_verdict"], 2))
        text, evidence = effect(head)
        line = {"id": f.id, "finding": f.finding, "caveat": f.caveat,
                "verdict": combine([r["paper_verdict"] for r in rows]),
                "effect": text, "evidence": evidence, "headline": head["id"],
                "claims": [{"id": r["id"], "verdict": r["paper_verdict"],
                            "reproduction": r["reproduction_verdict"]} for r in rows],
                "confound": next((r["note"] for r in rows if "checkpoint" in r["note"]), "")}
        rep = [REPRODUCED.get(r["reproduction_verdict"], r["reproduction_verdict"]) for r in rows]
        line["reproduction"] = reproduction_words(combine(rep))
        line["reproduction_setting"] = _setting(rows)  # shown after it (digest.tex: a dagger)
        if line["reproduction"] != "not run":
            line["reproduction_effect"] = effect(head, "reproduction")[0]
        out.append(line)
    return out


def _setting(rows: list[dict]) -> str:
    """' (fast setting)' after a finding's reproduction judged in the fast setting, ' (k of n in
    the fast setting)' after one partly judged in it, else ''."""
    judged = [r for r in rows if r["reproduction_verdict"] != "not run"]
    fast = sum(bool(setting_label(r)) for r in judged)
    if not fast:
        return ""
    return setting_label(judged[0]) if fast == len(judged) else (
        f" ({fast} of {len(judged)} in the {FAST_LABEL})")


def reproduction_words(verdict: str) -> str:
    """combine()'s words for a reproduction: reproduced, partly (k of n reproduced), ..."""
    if verdict == HOLDS:
        return "reproduced"
    if verdict == FAILS:
        return "not reproduced"
    return verdict.replace(" hold)", " reproduced)")


def has_reproduction(digest: list[dict]) -> bool:
    return any(d["reproduction"] != "not run" for d in digest)
