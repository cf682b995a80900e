"""What the self-test reads back from the cells its stages wrote: lm-eval's per-request answers
(the paper setting, batch 1, against the fast one), the efficiency figures per level, and the report's files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from repro.core.ties import FAST  # the variant of the fast setting's cells
from repro.results import cells as cellio


class Failed(Exception):
    """A self-test check did not hold; the message is one line saying what and what to do."""




def _cell(model: str, level: float, task: str, variant: str = "") -> cellio.Cell:
    return cellio.Cell("evaluate", model, "maw", float(level), task, variant)


def read_cell(root: Path, model: str, level: float, task: str, variant: str = "") -> dict:
    rec = cellio.read(root, _cell(model, level, task, variant))
    if rec is None:
        raise Failed(f"no intact cell for {task} at level {level:g} under {root}")
    return rec


def samples(root: Path, model: str, level: float, task: str, variant: str = "") -> dict[str, list]:
    """task/doc_id -> each request's value: a log-likelihood (float) or a generation (str)."""
    return {d: [v for v, _ in reqs] for d, reqs in _requests(root, model, level, task, variant).items()}


def _requests(root: Path, model: str, level: float, task: str, variant: str = "") -> dict[str, list]:
    """task/doc_id -> (value, kind) per request; kind: loglikelihood | rolling | generation."""
    from repro.evaluate.runner import SAMPLES

    path = _cell(model, level, task, variant).path(root)
    out = {}
    for line in gzip.decompress(path.with_name(f"{path.stem}.{SAMPLES}").read_bytes()).splitlines():
        row = json.loads(line)
        vals = []
        for resp in row["resps"]:  # one per request: [[ll, greedy]] | [ll] | [text]
            v = resp[0]
            vals.append((float(v[0]), "loglikelihood") if isinstance(v, list)
                        else (v, "generation") if isinstance(v, str) else (float(v), "rolling"))
        out[f"{row.get('task', task)}/{row['doc_id']}"] = vals  # a group's subtasks share doc ids
    return out


def kind(root: Path, rec: dict) -> str:
    c = rec["cell"]
    return next(iter(_requests(root, c["model"], c["level"], c["task"], c["variant"]).values()))[0][1]


def request_count(root: Path, model: str, level: float, task: str, variant: str = "") -> int:
    return sum(len(v) for v in samples(root, model, level, task, variant).values())


def _metric_diff(a: dict, b: dict, task: str) -> str:
    ra, rb = a["payload"]["results"].get(task, {}), b["payload"]["results"].get(task, {})
    parts = []
    for key in a["payload"]["metrics_kept"]:
        if isinstance(ra.get(key), int | float) and isinstance(rb.get(key), int | float):
            name, _, filt = key.partition(",")
            parts.append(f"{name}{'' if filt in ('', 'none') else f' ({filt})'} {ra[key] - rb[key]:+.4g}")
    return ", ".join(parts) or "none comparable"


def settings(fast_root: Path, paper_root: Path, model: str, level: float, task: str, tol) -> dict:
    """The fast setting against the paper's for one task, request by request: the metric's
    change (fast - paper), the largest loglikelihood difference, the generations that differ."""
    fast, paper = samples(fast_root, model, level, task, FAST), samples(paper_root, model, level, task)
    if fast.keys() != paper.keys() or any(len(fast[d]) != len(paper[d]) for d in fast):
        raise Failed(f"{task}: the paper and fast settings answered different documents or requests")
    pairs = [(a, b) for d in fast for a, b in zip(fast[d], paper[d], strict=True)]
    metric = _metric_diff(read_cell(fast_root, model, level, task, FAST),
                          read_cell(paper_root, model, level, task), task)
    if pairs and isinstance(pairs[0][0], str):
        return {"kind": "generation", "requests": len(pairs), "metric_diff": metric,
                "outputs_differing": sum(a != b for a, b in pairs)}
    return {"kind": "loglikelihood", "requests": len(pairs), "metric_diff": metric,  # or rolling
            "max_abs_diff": max((abs(a - b) for a, b in pairs), default=0.0),
            "outside_tolerance": sum(not tol.ok(a, b) for a, b in pairs)}


# (workload kind, figure in the cell's rows) -> how the summary names it
def _wanted(wl) -> list[tuple[str, str, str]]:
    if wl.kind == "prefill":
        return [("prefill_latency_ms_median", f"prefill {wl.prompt_tokens} tokens", "ms")]
    if wl.kind == "decode":
        return [("decode_latency_ms_per_token_median", "decode", "ms/token"),
                ("energy_j_per_token_median", "decode energy", "J/token")]
    return [("throughput_tokens_per_s_median", f"batch {wl.batch_size}", "tokens/s"),
            ("energy_j_per_token_median", f"batch {wl.batch_size} energy", "J/token")]


def efficiency_figures(root: Path, model: str, levels, variant: str, profile: str) -> dict:
    """Per level, the corrected protocol's medians; whether every cell measured energy."""
    from repro.config.efficiency import load_config
    from repro.efficiency.workloads import workloads

    wls = workloads(load_config(profile=profile), ["corrected"])
    out: dict = {"levels": {}, "workloads": [w.name for w in wls], "energy_measured": True,
                 "energy_reason": ""}
    for level in levels:
        figs = []
        for wl in wls:
            rec = cellio.read(root, cellio.Cell(cellio.EFFICIENCY_STAGE, model, "maw", float(level),
                                                wl.name, variant))
            if rec is None:
                raise Failed(f"no intact efficiency cell {wl.name} at level {level:g} ({variant})")
            energy = rec["payload"]["energy"]
            if not energy["measured"]:
                out["energy_measured"] = False
                out["energy_reason"] = energy.get("not_measured_reason") or "unknown"
            rows = {r["metric"]: r["value"] for r in rec["payload"]["rows"]}
            for metric, label, unit in _wanted(wl):
                if metric in rows:
                    figs.append((label, rows[metric], unit))
                elif not metric.startswith("energy"):
                    raise Failed(f"{wl.name} at level {level:g} has no {metric}")
        out["levels"][f"{float(level):g}"] = figs
    return out


def report_counts(csv: Path, generated: Path) -> dict:
    from repro.results.schema import read_csv

    df = read_csv(csv)
    if not (generated / "claims.json").is_file():
        raise Failed(f"the tables stage wrote no claims report under {generated}")
    return {"rows": len(df), "tasks": set(df.task),
            "tables": len(list((generated / "tables").glob("*.tex"))),
            "figures": len(list((generated / "figures").glob("*.pdf")))}
