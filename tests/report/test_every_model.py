"""The report for any model in the data: level tables, neuron-selection tables and dichotomy
figures chosen by models.yaml and the data; the sensitivity heat map and table and the
extensions table; each non-paper model labelled and kept out of the paper's tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from repro.report import extensions, figures, per_model
from repro.report.queries import current
from repro.report.render import render
from repro.report.tables import all_tables
from repro.results.schema import load_dir, validate, write_csv

pytestmark = pytest.mark.light
DATA = Path(__file__).resolve().parents[2] / "data"
SMOKE = "smollm2-135m-instruct"


def _row(model, criterion, level, variant, task, metric, value, filt="none"):
    return {"model": model, "criterion": criterion, "level": level, "variant": variant, "task": task,
            "metric": metric, "filter": filt, "value": value, "stderr": None, "unit": "",
            "kept_width": 1536, "expansion_ratio": 2.67, "params": 134515008,
            "source": "reproduction", "run_id": "smoke"}


def smoke_rows() -> pd.DataFrame:
    rows = []
    for lv, ppl, mc in ((0, 164.1, 0.81), (10, 300.0, 0.7), (40, 2000.0, 0.4), (60, 9000.0, 0.3)):
        rows.append(_row(SMOKE, "maw", lv, "", "smoke_ppl", "word_perplexity", ppl))
        rows.append(_row(SMOKE, "maw", lv, "", "smoke_mc", "acc", mc))
        rows.append(_row(SMOKE, "maw", lv, "", "smoke_ifeval", "prompt_level_strict_acc", 0.5 - lv / 200))
    for crit, v in (("maw", 300.0), ("l2", 250.0), ("hybrid", 210.0), ("random", 190.0)):
        rows.append(_row(SMOKE, crit, 10, "fp32", "smoke_ppl", "word_perplexity", v))
        rows.append(_row(SMOKE, crit, 10, "fp32", "smoke_mc", "acc", 0.7))
    rows.append(_row(SMOKE, "maw", 0, "fp32", "smoke_ppl", "word_perplexity", 164.1))
    rows.append(_row(SMOKE, "maw", 0, "fp32", "smoke_mc", "acc", 0.81))
    for layer in range(3):
        for lv in (0, 10, 40):
            hurt = (1 + lv / 10) * (50 if layer == 0 else 1) if lv else 1
            rows.append(_row(SMOKE, "maw", lv, f"layer{layer:02d}", "calibration", "perplexity", 21.0 * hurt))
            rows.append(_row(SMOKE, "maw", lv, f"layer{layer:02d}", "smoke_ppl", "word_perplexity",
                             164.1 * hurt))
    for crit, tag, v10, v40 in (("maw", "spare3", 170.0, 400.0), ("maw", "owl", 280.0, 1800.0),
                                ("random", "", 190.0, 700.0)):
        rows.append(_row(SMOKE, crit, 10, tag, "smoke_ppl", "word_perplexity", v10))
        rows.append(_row(SMOKE, crit, 40, tag, "smoke_ppl", "word_perplexity", v40))
    return validate(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def df():
    return current(pd.concat([load_dir(DATA), smoke_rows()], ignore_index=True))


def test_each_model_gets_its_tables_from_its_suite_and_data(df):
    names = {e.name: e for e in per_model.level_tables(df)}
    assert names[f"levels-{SMOKE}"].tasks == ("smoke_ppl", "smoke_mc", "smoke_ifeval")  # suite order
    assert not names[f"levels-{SMOKE}"].in_paper_report
    assert names["benchmarks-llama-3.2-1b"].in_paper_report and "levels-llama-3.2-1b" not in names
    nt = per_model.neuron_tables(df)
    assert [(e.model, e.variant, e.criteria) for e in nt] == [(SMOKE, "fp32", ("maw", "random", "l2", "hybrid"))]
    assert per_model.dichotomy_models(df) == ["llama-3.2-1b-instruct", SMOKE]


def test_a_model_of_a_paper_suite_gets_the_paper_tables(df, monkeypatch):
    specs = dict(per_model.load_models())
    specs["qwen-test"] = dataclasses.replace(specs["llama-3.2-3b"], name="qwen-test", paper=False)
    monkeypatch.setattr(per_model, "load_models", lambda: specs)
    qwen = df[df.model == "llama-3.2-3b"].assign(model="qwen-test", source="reproduction")
    entries = {e.name: e for e in per_model.level_tables(pd.concat([df, qwen]))}
    assert {"benchmarks-qwen-test", "improving-qwen-test"} <= set(entries)
    assert not entries["benchmarks-qwen-test"].in_paper_report


def test_smoke_findings_are_labelled_and_never_in_the_paper_tables(df):
    tables = all_tables(df)
    levels = tables[f"levels-{SMOKE}"]
    assert "reproduction only" in levels["caption"] and [r["label"] for r in levels["rows"]][0] == "0% (baseline)"
    assert levels["rows"][2]["cells"][0] == {"text": "2000.00", "change": "+1118.8%", "improved": False}
    ns = tables[f"neuron-selection-{SMOKE}-fp32"]
    assert [r["label"] for r in ns["rows"]] == ["unpruned", "MAW", "RANDOM", "L2", "HYBRID"]
    for name in ("benchmarks-llama-3.2-1b", "neuron-selection", "widths"):
        assert "SmolLM2" not in str(tables[name])
    ext = tables[f"extensions-{SMOKE}"]
    assert [r["label"] for r in ext["rows"]] == ["unpruned", "MAW", "MAW, spare3", "MAW, owl", "RANDOM"]
    assert ext["rows"][2]["cells"][1]["text"] == "400.00" and ext["columns"] == ["10%", "40%"]
    assert "4-bit GGUF (Q4_1) dequantised" in ext["notes"][0] and "not one of the paper's" in ext["notes"][0]
    sens = tables[f"sensitivity-{SMOKE}-maw"]
    assert sens["columns"] == ["calibration PPL 10%", "calibration PPL 40%", "Smoke PPL 10%", "Smoke PPL 40%"]
    layer0 = sens["rows"][1]
    assert layer0["label"] == "layer 0" and layer0["cells"][1] == {"text": "5250.00", "change": "+24900.0%",
                                                                   "improved": False}


def test_heat_map_draws_layers_by_levels(df):
    fig = extensions.heat_map(figures._Figures(), df, SMOKE)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["MAW: calibration PPL", "MAW: Smoke PPL"]
    image = axes[0].images[0].get_array()
    assert image.shape == (3, 2) and image[0, 1] == pytest.approx(__import__("math").log10(250))


@pytest.mark.slow
def test_render_writes_the_sections_and_says_when_there_is_nothing(tmp_path, df):
    data = tmp_path / "data"
    write_csv(df[df.source == "paper"], data / "published.csv")
    write_csv(smoke_rows(), data / "reproduction" / "smoke.csv")
    assert render(data, tmp_path / "out") == 0
    ext = (tmp_path / "out" / "extensions.tex").read_text()
    assert r"\subsection{SmolLM2-135M-Instruct}" in ext and "sensitivity-smollm2-135m-instruct.pdf" in ext
    assert r"\input{generated/tables/extensions-smollm2-135m-instruct.tex}" in ext
    assert "never mixed with the paper" in ext
    models = (tmp_path / "out" / "models.tex").read_text()
    assert r"\input{generated/tables/levels-smollm2-135m-instruct.tex}" in models
    assert (tmp_path / "out" / "figures" / "dichotomy-smollm2-135m-instruct.pdf").is_file()
    # premise broken: the paper's cut alone (maw, uniform) is no extension -> the section says so
    write_csv(smoke_rows()[lambda d: (d.criterion == "maw") & (d.variant == "")],
              data / "reproduction" / "smoke.csv")
    assert render(data, tmp_path / "out2") == 0
    assert "No extension results" in (tmp_path / "out2" / "extensions.tex").read_text()
