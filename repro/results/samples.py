"""Per-document scores of a reproduction, for paired tests: <run_id>.samples.csv.gz.

The evaluate stage keeps lm-eval's logged samples beside each cell (samples.jsonl.gz); aggregate
turns them into one gzipped CSV per run next to the tidy CSV, one row per (cell, metric, filter,
document), so that the claims report can pair a pruned model's documents with the baseline's
(exact McNemar, paired bootstrap) without the bulky prompts and responses. Columns:

  model criterion level variant task metric filter   the tidy row the documents make up
  doc                                                 '<lm-eval task>/<doc_id>' (group tasks
                                                      keep their subtask's name)
  value, weight                                       the document's contribution: the score
                                                      and 1; an IFEval instruction-level score:
                                                      instructions followed and given; a
                                                      perplexity: log-likelihood and words,
                                                      bytes or 1 (lambada)
  run_id, ran_at                                      the run, and when the cell was computed:
                                                      where runs share a cell, `load_samples`
                                                      keeps the newest run's documents only

The corpus value is `corpus_value(metric, values, weights)`: the weighted mean, or exp(-sum
ll / sum n) for perplexities (lm-eval's weighted_perplexity and perplexity), or bits per byte.
The file is not read by schema.load_dir (its name ends in .gz); `load_samples` reads it.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import math
from pathlib import Path

import pandas as pd

from repro.core.atomicio import write_bytes

log = logging.getLogger("repro.samples")

COLUMNS = ["model", "criterion", "level", "variant", "task", "metric", "filter", "doc", "value",
           "weight", "run_id", "ran_at"]
PERPLEXITY = {"word_perplexity", "byte_perplexity", "perplexity"}
SUFFIX = ".samples.csv.gz"


def corpus_value(metric: str, values, weights) -> float:
    """What lm-eval reports for these documents (sums may be numpy arrays along the last axis)."""
    import numpy as np

    v, w = np.sum(np.asarray(values, float), axis=-1), np.sum(np.asarray(weights, float), axis=-1)
    if metric in PERPLEXITY:
        return np.exp(-v / w)
    if metric == "bits_per_byte":
        return -v / w / math.log(2)
    return v / w


def _score(value) -> tuple[float, float] | None:
    """(value, weight) of one logged per-document score, or None if it is not a number."""
    if isinstance(value, bool | int | float):
        return float(value), 1.0
    if isinstance(value, list) and value and all(isinstance(x, bool) for x in value):
        return float(sum(value)), float(len(value))          # IFEval instruction-level
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)):
        return float(value[0]), float(value[1])              # (log-likelihood, words or bytes)
    return None


def rows_for(cell, payload: dict, samples_gz: bytes, run_id: str, ran_at: str = "") -> list[dict]:
    """Per-document rows of one evaluate cell, for the metrics it keeps; a metric whose documents
    do not add up to lm-eval's own value (a group that is not a micro-average) is dropped."""
    kept = {tuple(k.split(",", 1)) for k in payload.get("metrics_kept", [])}
    rows: list[dict] = []
    for line in gzip.decompress(samples_gz).decode().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        for metric in rec.get("metrics", []):
            filt = rec.get("filter", "none")
            score = _score(rec.get(metric)) if (metric, filt) in kept else None
            if score is None:
                continue
            rows.append({"model": cell.model, "criterion": cell.criterion, "level": cell.level,
                         "variant": cell.variant, "task": cell.task, "metric": metric,
                         "filter": filt, "doc": f"{rec.get('task', cell.task)}/{rec['doc_id']}",
                         "value": score[0], "weight": score[1], "run_id": run_id,
                         "ran_at": ran_at})
    results = {**payload.get("results", {}), **payload.get("groups", {})}.get(cell.task, {})
    out = []
    for (metric, filt), group in _by_metric(rows).items():
        want = results.get(f"{metric},{filt}")
        got = corpus_value(metric, [r["value"] for r in group], [r["weight"] for r in group])
        if isinstance(want, int | float) and not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            log.warning("%s: %s,%s from its documents is %.6g, lm-eval reports %.6g; its "
                        "per-document rows are left out", cell.id, metric, filt, got, want)
            continue
        out += group
    return out


def _by_metric(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        out.setdefault((r["metric"], r["filter"]), []).append(r)
    return out


def to_bytes(df: pd.DataFrame) -> bytes:
    """Deterministic gzipped CSV (sorted rows, shortest float repr, mtime 0)."""
    df = df[COLUMNS].sort_values(COLUMNS[:8], kind="stable")
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", float_format=None)
    return gzip.compress(buf.getvalue().encode(), mtime=0)


def write_samples(df: pd.DataFrame, path: str | Path) -> None:
    write_bytes(path, to_bytes(df))


def load_samples(root: str | Path) -> pd.DataFrame:
    """Every <run_id>.samples.csv.gz under root (recursively), concatenated; empty if none."""
    frames = [pd.read_csv(p, dtype={"variant": str, "doc": str, "run_id": str, "ran_at": str},
                          keep_default_na=False) for p in sorted(Path(root).rglob(f"*{SUFFIX}"))]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    df = pd.concat(frames, ignore_index=True)
    df["level"] = df["level"].astype(float)
    if "ran_at" not in df:  # written before runs recorded their time
        df["ran_at"] = ""
    return newest_run(df.fillna({"ran_at": ""}))


def newest_run(df: pd.DataFrame) -> pd.DataFrame:
    """Where several runs logged the documents of one cell, only the newest run's (by ran_at,
    then by name for runs without one), as the report's tables choose (queries.current)."""
    cell = ["model", "criterion", "level", "variant", "task"]
    runs = df[[*cell, "run_id", "ran_at"]].drop_duplicates()
    keep = runs.sort_values(["ran_at", "run_id"], kind="stable").drop_duplicates(cell, keep="last")
    return df.merge(keep, on=[*cell, "run_id", "ran_at"]).reset_index(drop=True)
