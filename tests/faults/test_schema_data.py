"""Data the schema allows reaches `tables` without a crash: `params` is "empty if unknown"
(a TypeError before), and 0 (a ZeroDivisionError before); an empty data file is no crash either."""

from __future__ import annotations

import pandas as pd
import pytest

from repro.report.render import render
from repro.results.schema import read_csv, to_csv_text
from tests.faults.conftest import PUBLISHED

pytestmark = pytest.mark.light


@pytest.mark.parametrize("params", ["", "0"])
def test_unknown_or_zero_params_render(params, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for p in PUBLISHED.glob("*.csv"):
        df = read_csv(p)
        base = df.model == "llama-3.2-1b"
        df["params"] = df["params"].astype(object)
        df.loc[base & (df.level.isin([0, 40])), "params"] = None if params == "" else 0
        (data / p.name).write_text(to_csv_text(df))
    assert render(data, tmp_path / "gen") == 0  # every claim evaluated
    widths = (tmp_path / "gen" / "tables" / "widths.tex").read_text()
    rows = {ln.split("&")[0].strip(): [c.strip().rstrip("\\").strip() for c in ln.split("&")[1:]]
            for ln in widths.splitlines() if ln.count("&") == 4}
    assert "nan" not in widths.lower() and "inf" not in widths.lower()
    assert rows["Llama-3.2-1B 40\\%"][2:] == ["--", "--"]  # unknown: shown as unknown
    assert rows["Llama-3.2-1B 10\\%"][3] == "--"  # no baseline: no reduction
    assert rows["Llama-3.2-1B-Instruct 40\\%"][3] == "26.06\\%"  # the other model's is computed


def test_a_header_only_data_file_is_no_crash(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "empty.csv").write_text(",".join(pd.read_csv(next(PUBLISHED.glob("*.csv")), nrows=0).columns) + "\n")
    for p in PUBLISHED.glob("*.csv"):
        (data / p.name).write_bytes(p.read_bytes())
    assert render(data, tmp_path / "gen") in (0, 1)


def test_a_claim_about_an_unknown_parameter_count_is_not_run():
    from repro.report.claims.quantities import NotRun, Reader

    df = read_csv(next(PUBLISHED.glob("llama-3.2-1b.csv")))
    df["params"] = df["params"].astype(object)
    df.loc[df.level == 40, "params"] = None
    reader = Reader(df, "paper")
    assert reader.arch("llama-3.2-1b", 10.0, "params") > 0
    with pytest.raises(NotRun, match="params of llama-3.2-1b at 40% is unknown"):
        reader.arch("llama-3.2-1b", 40.0, "params")
