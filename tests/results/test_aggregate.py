"""Aggregation from cells to the tidy schema, on hand-written cells (no model, no torch)."""

from __future__ import annotations

import json

import pytest

from repro.cli import main
from repro.results import cells
from repro.results.schema import read_csv

pytestmark = pytest.mark.light


def _payload(task, results, metrics, kept=(96, 3.0, 1000), subtasks=False, groups=None):
    return {"task": task, "metrics_kept": metrics, "subtasks_kept": subtasks, "results": results,
            "groups": groups or {}, "group_subtasks": {task: list(results)} if subtasks else {},
            "versions": {task: 1.0}, "prune": {"kept_width": kept[0], "expansion_ratio": kept[1],
                                               "params_after": kept[2]}}


def test_cells_become_tidy_rows_with_stderr_and_provenance(tmp_path, capsys):
    prov = {"kit_commit": "abc", "lm_eval": {"version": "0.4.9.1", "task_config_sha256": {"t": "h"}},
            "packages": {"torch": "2.13.0"}, "host": {"processor": "x86_64"}}
    cells.write(tmp_path, cells.Cell("evaluate", "m", "maw", 40.0, "ifeval"),
                _payload("ifeval", {"ifeval": {"prompt_level_strict_acc,none": 0.25,
                                               "prompt_level_strict_acc_stderr,none": 0.01,
                                               "inst_level_strict_acc,none": 0.5,
                                               "inst_level_strict_acc_stderr,none": "N/A"}},
                         ["prompt_level_strict_acc,none", "inst_level_strict_acc,none"]), prov)
    cells.write(tmp_path, cells.Cell("neuron_selection", "m", "vow", 10.0, "wikitext", "fp16"),
                _payload("wikitext", {"wikitext": {"word_perplexity,none": 50.5}},
                         ["word_perplexity,none", "bits_per_byte,none"]), prov)
    (tmp_path / "evaluate" / "m" / "junk.json").write_text("{not json")  # skipped, with a warning
    assert main(["aggregate", "--results", str(tmp_path), "--out", str(tmp_path / "out"),
                 "--run-id", "r1"]) == 0
    df = read_csv(tmp_path / "out" / "r1.csv").set_index(["task", "metric"])
    strict = df.loc[("ifeval", "prompt_level_strict_acc")]
    assert (strict.value, strict.stderr, strict.level, strict.kept_width) == (0.25, 0.01, 40.0, 96)
    assert df.loc[("ifeval", "inst_level_strict_acc")].stderr != df.loc[("ifeval", "inst_level_strict_acc")].stderr  # 'N/A': NaN
    ppl = df.loc[("wikitext", "word_perplexity")]
    assert (ppl.variant, ppl.criterion, ppl.value) == ("fp16", "vow", 50.5)
    assert ("wikitext", "bits_per_byte") not in df.index  # kept but not reported: no row
    prov_out = json.loads((tmp_path / "out" / "r1.provenance.json").read_text())
    assert prov_out["cells"] == 2 and prov_out["kit_commits"] == ["abc"]
    assert prov_out["task_versions"] == {"ifeval": [1.0], "wikitext": [1.0]}


def test_nothing_to_aggregate_is_one_line(tmp_path, capsys):
    (tmp_path / "evaluate").mkdir()
    assert main(["aggregate", "--results", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: no finished cells under")
    assert main(["aggregate", "--results", str(tmp_path / "none")]) == 2
    assert "--results" in capsys.readouterr().err


def test_a_group_of_groups_gets_its_shots_row():
    """mmlu's subtasks are groups (mmlu_stem...) whose own subtasks carry the shots: the n_shot
    row comes from those leaves (found by the rehearsal: the claims report's shots-mmlu had no
    reproduction row), and disagreeing leaves give none."""
    from repro.results.aggregate import _shots

    payload = {"n-shot": {"mmlu_anatomy": 5, "mmlu_philosophy": 5},
               "group_subtasks": {"mmlu": ["mmlu_stem", "mmlu_humanities"],
                                  "mmlu_stem": ["mmlu_anatomy"], "mmlu_humanities": ["mmlu_philosophy"]}}
    cell = cells.Cell("evaluate", "m", "maw", 0.0, "mmlu")
    assert _shots(cell, payload) == 5.0
    payload["n-shot"]["mmlu_philosophy"] = 0
    assert _shots(cell, payload) is None


def test_rehearsal_cells_aggregate_only_under_their_run_id(tmp_path, capsys):
    """A rehearsal's cell (provenance rehearsal: true) under a real run id, or a real cell under
    REHEARSAL, is refused in one line; a rehearsal is never written into the kit's data/."""
    from repro.core.provenance import KIT_ROOT

    cells.write(tmp_path / "r", cells.Cell("evaluate", "m", "maw", 0.0, "boolq"),
                _payload("boolq", {"boolq": {"acc,none": 0.5}}, ["acc,none"]), {"rehearsal": True})
    assert main(["aggregate", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "o"),
                 "--run-id", "full"]) == 2
    assert "rehearsal cells aggregate only as --run-id REHEARSAL" in capsys.readouterr().err
    assert main(["aggregate", "--results", str(tmp_path / "r"), "--out",
                 str(KIT_ROOT / "data" / "reproduction"), "--run-id", "REHEARSAL"]) == 2
    assert "is the kit's own data/reproduction" in capsys.readouterr().err
    assert not (KIT_ROOT / "data" / "reproduction" / "REHEARSAL.csv").exists()
    assert main(["aggregate", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "o"),
                 "--run-id", "REHEARSAL"]) == 0
    cells.write(tmp_path / "real", cells.Cell("evaluate", "m", "maw", 0.0, "boolq"),
                _payload("boolq", {"boolq": {"acc,none": 0.5}}, ["acc,none"]), {})
    assert main(["aggregate", "--results", str(tmp_path / "real"), "--out", str(tmp_path / "o2"),
                 "--run-id", "REHEARSAL"]) == 2
    assert "is a real run's cell" in capsys.readouterr().err
