"""The report on a rehearsal's data: every table, text file and figure marked REHEARSAL, a mix
with a real reproduction refused; and the claims report on a zero baseline (found by the
rehearsal: a tiny model scores 0 on gsm8k, and a relative change from 0 crashed the report)."""

from __future__ import annotations

import argparse
import html
import json
import shutil
from pathlib import Path

import pytest

from repro.core import rehearsal
from repro.core.errors import ReproError
from repro.report.render import render
from repro.results import cells
from repro.results.aggregate import run as aggregate

pytestmark = pytest.mark.light

DATA = Path(__file__).resolve().parents[2] / "data"


def gsm8k_cells(root: Path, values: dict[float, float], mark: bool) -> None:
    for level, v in values.items():
        payload = {"task": "gsm8k", "metrics_kept": ["exact_match,flexible-extract"],
                   "results": {"gsm8k": {"exact_match,flexible-extract": v}}, "n-shot": {"gsm8k": 5},
                   "prune": {"kept_width": 8192 - int(8192 * level / 100), "params_after": 1,
                             "expansion_ratio": (8192 - int(8192 * level / 100)) / 2048}}
        cells.write(root, cells.Cell("evaluate", "llama-3.2-1b", "maw", level, "gsm8k"), payload,
                    {"kit_commit": "test", **({"rehearsal": True} if mark else {})})


def run_report(tmp_path: Path, run_id: str, values: dict[float, float]) -> Path:
    gsm8k_cells(tmp_path / "results", values, rehearsal.is_rehearsal_run(run_id))
    aggregate(argparse.Namespace(results=str(tmp_path / "results"),
                                 out=str(tmp_path / "data/reproduction"), run_id=run_id))
    shutil.copytree(DATA / "published", tmp_path / "data/published", dirs_exist_ok=True)
    render(tmp_path / "data", tmp_path / "out")
    return tmp_path / "out"


def test_a_zero_baseline_is_not_run_with_its_reason(tmp_path):
    out = run_report(tmp_path, "toy", {0.0: 0.0, 10.0: 0.02})
    claim = {c["id"]: c for c in json.loads((out / "claims.json").read_text())}["gsm8k-1b-10"]
    assert claim["reproduction_verdict"] == "not run"
    assert claim["reproduction_why"] == ("the reproduction baseline of llama-3.2-1b ['gsm8k'] is 0: "
                                         "a relative change is undefined")


def test_every_artifact_of_a_rehearsal_is_marked(tmp_path):
    out = run_report(tmp_path, rehearsal.MARK, {0.0: 0.3, 10.0: 0.2})
    assert (out / "claims.md").read_text().startswith(f"> **{rehearsal.NOTE}**")
    texts = sorted(out.rglob("*.tex"))
    assert texts and all(t.read_text().startswith(f"% {rehearsal.NOTE}") for t in texts)
    table = (out / "tables" / "benchmarks-llama-3.2-1b.tex").read_text()
    assert "\\caption{REHEARSAL: Llama-3.2-1B" in table
    claims = json.loads((out / "claims.json").read_text())
    assert all(c["rehearsal"] == rehearsal.NOTE for c in claims)
    assert json.loads((out / "analysis" / "correlations.json").read_text())[0]["rehearsal"]
    assert html.escape(rehearsal.NOTE) in (out / "report.html").read_text()
    plain = run_report(tmp_path / "plain", "toy", {0.0: 0.3, 10.0: 0.2})
    assert (out / "figures" / "dichotomy.png").read_bytes() != (plain / "figures" / "dichotomy.png").read_bytes()
    assert "REHEARSAL" not in (plain / "claims.md").read_text()


def test_a_rehearsal_mixed_with_a_real_reproduction_is_refused(tmp_path):
    run_report(tmp_path / "a", rehearsal.MARK, {0.0: 0.3, 10.0: 0.2})
    gsm8k_cells(tmp_path / "b", {0.0: 0.3}, False)
    aggregate(argparse.Namespace(results=str(tmp_path / "b"),
                                 out=str(tmp_path / "a" / "data/reproduction"), run_id="real"))
    with pytest.raises(ReproError, match="mixes a rehearsal's rows with a real reproduction's"):
        render(tmp_path / "a" / "data", tmp_path / "a" / "out2")
