"""Per-document scores (repro/results/samples.py): what lm-eval logs, turned into rows whose
corpus value is lm-eval's own value; a metric that does not add up is left out."""

from __future__ import annotations

import gzip
import json
import math

import pytest

from repro.results import samples
from repro.results.cells import Cell

pytestmark = pytest.mark.light

CELL = Cell("evaluate", "toy", "maw", 40.0, "wikitext")


def logged(rows: list[dict]) -> bytes:
    return gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode(), mtime=0)


def test_perplexity_tuples_give_lm_evals_weighted_perplexity():
    docs = [{"task": "wikitext", "doc_id": i, "filter": "none", "metrics": ["word_perplexity"],
             "word_perplexity": [ll, words]} for i, (ll, words) in enumerate([(-300.0, 100), (-50.0, 20)])]
    want = math.exp(350.0 / 120)
    payload = {"metrics_kept": ["word_perplexity,none"],
               "results": {"wikitext": {"word_perplexity,none": want}}}
    rows = samples.rows_for(CELL, payload, logged(docs), "run")
    assert [(r["doc"], r["value"], r["weight"]) for r in rows] == [
        ("wikitext/0", -300.0, 100.0), ("wikitext/1", -50.0, 20.0)]
    assert samples.corpus_value("word_perplexity", [-300.0, -50.0], [100, 20]) == pytest.approx(want)
    assert samples.corpus_value("bits_per_byte", [-300.0], [100]) == pytest.approx(3 / math.log(2))


def test_a_metric_that_does_not_add_up_is_left_out(caplog):
    docs = [{"task": "mmlu_x", "doc_id": i, "filter": "none", "metrics": ["acc"], "acc": float(i % 2)}
            for i in range(4)]
    payload = {"metrics_kept": ["acc,none"], "results": {"wikitext": {"acc,none": 0.9}}}
    assert samples.rows_for(CELL, payload, logged(docs), "run") == []
    assert "left out" in caplog.text
    payload["results"]["wikitext"]["acc,none"] = 0.5
    rows = samples.rows_for(CELL, payload, logged(docs), "run")
    assert len(rows) == 4 and rows[0]["doc"] == "mmlu_x/0"  # a group keeps its subtask's name


def test_only_kept_metrics_and_numbers():
    docs = [{"task": "t", "doc_id": 0, "filter": "none", "metrics": ["acc", "exact", "text"],
             "acc": True, "exact": 1.0, "text": "abc"}]
    payload = {"metrics_kept": ["acc,none", "text,none"], "results": {}}
    rows = samples.rows_for(CELL, payload, logged(docs), "run")
    assert [(r["metric"], r["value"]) for r in rows] == [("acc", 1.0)]


def test_the_file_is_deterministic_and_round_trips(tmp_path):
    import pandas as pd

    rows = [{"model": "toy", "criterion": "maw", "level": lv, "variant": "", "task": "t",
             "metric": "acc", "filter": "none", "doc": f"t/{d}", "value": float(d % 2),
             "weight": 1.0, "run_id": "r"} for lv in (40.0, 0.0) for d in (2, 1)]
    df = pd.DataFrame(rows, columns=samples.COLUMNS)
    assert samples.to_bytes(df) == samples.to_bytes(df.iloc[::-1])
    samples.write_samples(df, tmp_path / "reproduction" / f"r{samples.SUFFIX}")
    back = samples.load_samples(tmp_path)
    assert len(back) == 4 and back.variant.tolist() == [""] * 4
    assert back.sort_values(["level", "doc"]).value.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert samples.load_samples(tmp_path / "none").empty
