"""The tidy results schema shared by every stage: one row per
(model, criterion, level, variant, task, metric, filter, source, run_id).

Published figures (`source=paper`) and fresh runs (`source=reproduction`) live side by side as
CSV files under data/; `load_dir` reads and validates them all. Columns:

  model            short model name, a key of repro/config/models.yaml (e.g. llama-3.2-1b)
  criterion        neuron criterion: maw | vow | pon | l2 | random | activation | hybrid
  level            percent of MLP neurons pruned (0 = the unpruned baseline)
  variant          '' for the paper's setting; otherwise what differs (e.g. chat, align64, fp16;
                   an allocation: owl, spare3; a sensitivity scan's one pruned layer: layer07)
  task             lm-eval task or group name, or an efficiency workload
  metric           lm-eval metric name (acc, acc_norm, word_perplexity...) or efficiency figure
  filter           lm-eval filter ('none', 'strict-match', 'flexible-extract'); 'none' otherwise
  value            the number
  stderr           its standard error where known, else empty
  unit             '' for scores; e.g. 'J/token', 'tokens/s', 'ms' for efficiency figures
  kept_width       MLP neurons kept per layer (an allocation: the mean, which is the uniform
                   width; a sensitivity row: the one pruned layer's)
  expansion_ratio  kept_width / hidden size
  params           parameter count of the pruned model (tied embeddings once), empty if unknown
  source           paper | reproduction
  run_id           'paper' for published figures; the run's id for reproductions
  ran_at           when the row's cell was computed, UTC (2026-11-01T12:00:00Z); written by
                   `aggregate`, empty or absent for published figures. Where two runs hold
                   the same cell, the report shows the newest (repro.report.queries.current),
                   whatever the runs are named
"""

from __future__ import annotations

import io
import math
import re
import time
from pathlib import Path

import pandas as pd

from repro.core.atomicio import write_text
from repro.core.errors import ReproError
from repro.core.textio import decode

COLUMNS: dict[str, str] = {
    "model": "str", "criterion": "str", "level": "float", "variant": "str", "task": "str",
    "metric": "str", "filter": "str", "value": "float", "stderr": "float?", "unit": "str",
    "kept_width": "int", "expansion_ratio": "float", "params": "int?", "source": "str",
    "run_id": "str", "ran_at": "str",
}
KEY = ["model", "criterion", "level", "variant", "task", "metric", "filter", "source", "run_id"]
SOURCES = ("paper", "reproduction")
OPTIONAL_TEXT = ("variant", "unit", "ran_at")  # may be empty
OPTIONAL_COLUMNS = ("ran_at",)  # may be absent (files written before it existed)
RAN_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def utc(seconds: float) -> str:
    """A time as `ran_at` writes it: UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def ran_at(record: dict, path: Path) -> str:
    """When a result cell was computed: the start time lm-eval recorded in it, else the time
    its file was written (kept by copies that keep times: cp -p, rsync -t)."""
    date = ((record.get("provenance") or {}).get("lm_eval") or {}).get("date")
    if isinstance(date, int | float) and not isinstance(date, bool) and math.isfinite(date) \
            and date > 0:
        return utc(date)
    try:
        return utc(path.stat().st_mtime)
    except OSError:
        return ""


def _bad(where: str, row: int | None, what: str) -> ReproError:
    at = f"{where}, row {row + 2}" if row is not None else where  # +2: header, 1-based lines
    return ReproError(f"{at}: {what}")


def validate(df: pd.DataFrame, where: str = "data") -> pd.DataFrame:
    """Check columns, types and key uniqueness; return a normalised copy with schema dtypes."""
    df = df.assign(**{c: "" for c in OPTIONAL_COLUMNS if c not in df.columns})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise _bad(where, None, f"missing column(s) {', '.join(missing)}; see repro/results/schema.py")
    extra = [c for c in df.columns if c not in COLUMNS]
    if extra:
        raise _bad(where, None, f"unknown column(s) {', '.join(extra)}; see repro/results/schema.py")
    out = df[list(COLUMNS)].copy()
    for col, kind in COLUMNS.items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if kind == "str":
            vals = out[col].astype("object")
            blank = vals.isna() | (vals.astype(str).str.strip() == "")
            if col not in OPTIONAL_TEXT and blank.any():
                raise _bad(where, int(blank.to_numpy().nonzero()[0][0]), f"empty '{col}'")
            out[col] = vals.where(~blank, "").astype(str)
            continue
        num = pd.to_numeric(out[col], errors="coerce")
        bad = num.isna() & ~(out[col].isna() | (out[col].astype(str).str.strip() == ""))
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise _bad(where, i, f"'{col}' is not a number: {out[col].iloc[i]!r}")
        if not optional and num.isna().any():
            raise _bad(where, int(num.isna().to_numpy().nonzero()[0][0]), f"empty '{col}'")
        if kind == "int":
            frac = num.dropna() % 1 != 0
            if frac.any():
                raise _bad(where, int(frac[frac].index[0]), f"'{col}' must be a whole number")
            out[col] = num.astype("Int64")
        else:
            out[col] = num.astype(float)
    bad_time = (out["ran_at"] != "") & ~out["ran_at"].str.fullmatch(RAN_AT.pattern)
    if bad_time.any():
        i = int(bad_time.to_numpy().nonzero()[0][0])
        raise _bad(where, i, f"'ran_at' must be a UTC time such as 2026-11-01T12:00:00Z, got "
                             f"{out['ran_at'].iloc[i]!r}")
    bad_src = ~out["source"].isin(SOURCES)
    if bad_src.any():
        i = int(bad_src.to_numpy().nonzero()[0][0])
        raise _bad(where, i, f"source must be one of {SOURCES}, got {out['source'].iloc[i]!r}")
    dup = out.duplicated(KEY, keep="first")
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        key = ", ".join(f"{k}={out[k].iloc[i]}" for k in KEY)
        raise _bad(where, i, f"duplicate key ({key})")
    return out.reset_index(drop=True)


def read_csv(path: str | Path) -> pd.DataFrame:
    """A schema CSV as the kit writes it, or as a spreadsheet saved it again: UTF-8 with or
    without a BOM, UTF-16 (comma- or tab-separated), Windows-1252, CRLF line ends, padding rows
    and columns left empty (repro.core.textio says how text is decoded)."""
    path = Path(path)
    try:
        text = decode(path.read_bytes(), str(path), newlines=False)[0]
    except OSError as exc:
        raise ReproError(f"{path}: cannot read it ({exc.strerror or exc}); check its permissions") from None
    header = text.split("\n", 1)[0].rstrip("\r")
    sep = "\t" if "\t" in header and "," not in header else ","
    if ";" in header and sep not in header:
        raise ReproError(f"{path}: its columns are separated by ';' (a spreadsheet's regional "
                         "setting); save it as comma-separated CSV")
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReproError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]}); "
                         "restore it from git or rerun the stage that writes it") from exc
    empty = raw.apply(lambda col: col.str.strip() == "")
    raw = raw[~empty.all(axis=1)]  # rows a spreadsheet left empty
    pads = [c for c in raw.columns if str(c).startswith("Unnamed: ") and empty[c].all()]
    return validate(raw.drop(columns=pads).reset_index(drop=True), str(path))


def load_dir(root: str | Path) -> pd.DataFrame:
    """Every schema CSV under `root` (recursively), validated, concatenated, key-unique."""
    files = sorted(Path(root).rglob("*.csv"))
    if not files:
        raise ReproError(f"no result CSV files under {root}; run from the kit's checkout or pass --data")
    frames = [read_csv(f) for f in files]
    return validate(pd.concat(frames, ignore_index=True), f"{root} (all files together)")


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def to_csv_text(df: pd.DataFrame) -> str:
    """Deterministic CSV: schema column order, rows sorted by key, floats as shortest repr;
    an optional column that is empty in every row is left out (published files stay as they are)."""
    df = validate(df).sort_values(KEY, kind="stable").reset_index(drop=True)
    df = df.drop(columns=[c for c in OPTIONAL_COLUMNS if (df[c] == "").all()])
    lines = [",".join(df.columns)]
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            s = _fmt(v)
            if any(c in s for c in ',"\n\r'):
                s = '"' + s.replace('"', '""') + '"'
            cells.append(s)
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    write_text(path, to_csv_text(df))
