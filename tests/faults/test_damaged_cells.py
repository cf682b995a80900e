"""Result cells damaged on disk or edited by hand: aggregation skips each with a warning naming
the file, never a traceback and never a wrong number, and a rerun recomputes exactly those."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from repro.cli import main
from repro.core.canonical import sha256_json
from repro.evaluate import runner
from repro.results import cells as cellio
from tests.faults.conftest import eval_argv


def _edit(path, change):
    rec = json.loads(path.read_text())
    change(rec)
    path.write_text(json.dumps(rec))


def _resum(rec):  # an editor who knows to redo the checksum
    rec["payload_sha256"] = sha256_json(rec["payload"])


def _bad_payload(rec):
    rec["payload"]["results"] = ["not", "a", "mapping"]
    _resum(rec)


def _metric_without_filter(rec):
    rec["payload"]["metrics_kept"] = ["acc"]
    _resum(rec)


DAMAGES = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "binary garbage": lambda p: p.write_bytes(os.urandom(256)),
    "a JSON list": lambda p: p.write_text("[1, 2, 3]"),
    "another kit format": lambda p: _edit(p, lambda r: r.update(format=0)),
    "value edited, checksum not": lambda p: _edit(
        p, lambda r: r["payload"]["results"][r["cell"]["task"]].update({"acc,none": 0.99})),
    "level as text": lambda p: _edit(p, lambda r: r["cell"].update(level="ten")),
    "extra key in the cell": lambda p: _edit(p, lambda r: r["cell"].update(shard=2)),
    "copied to another cell's path": None,  # set up in the test
    "attachment deleted": lambda p: p.with_name(p.stem + ".samples.jsonl.gz").unlink(),
    "attachment truncated": lambda p: p.with_name(p.stem + ".samples.jsonl.gz").write_bytes(b"\x1f\x8b"),
    "attachments not a mapping": lambda p: _edit(p, lambda r: r.update(attachments=["x"])),
    "provenance not a mapping": lambda p: _edit(p, lambda r: r.update(provenance="x")),
    "payload of the wrong shape, checksum redone": lambda p: _edit(p, _bad_payload),
    "metric key without filter, checksum redone": lambda p: _edit(p, _metric_without_filter),
    "a folder named like a cell": None,
}


@pytest.fixture
def run_copy(ref_eval, tmp_path):
    root = shutil.copytree(ref_eval[0], tmp_path / "results")
    target = sorted(root.rglob("*.json"))[0]
    return root, target


@pytest.mark.integration
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_aggregate_skips_a_damaged_cell_with_a_warning(damage, run_copy, tmp_path, capsys):
    root, target = run_copy
    if damage == "copied to another cell's path":
        other = sorted(root.rglob("*.json"))[1]
        shutil.copy(other, target)
    elif damage == "a folder named like a cell":
        (target.parent / "ghost.json").mkdir()
        target = target.parent / "ghost.json"
    else:
        DAMAGES[damage](target)
    rc = main(["aggregate", "--results", str(root), "--out", str(tmp_path / "d"), "--run-id", "r"])
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err, err
    if damage == "a folder named like a cell":
        assert "ghost.json" in err
    else:
        assert str(target) in err or target.name in err, err  # the warning names the file
    rows = (tmp_path / "d" / "r.csv").read_text()
    assert "0.99" not in rows  # an edited number never reaches the data


@pytest.mark.slow
@pytest.mark.integration
def test_a_rerun_recomputes_exactly_the_damaged_cells(fault_env, toy, run_copy, monkeypatch):
    root, _ = run_copy
    paths = sorted(root.rglob("*.json"))
    DAMAGES["truncated"](paths[0])
    DAMAGES["attachment deleted"](paths[1])
    DAMAGES["value edited, checksum not"](paths[2])
    calls = []
    real = runner.run_task
    monkeypatch.setattr(runner, "run_task", lambda lm, task, *a, **k: calls.append(task.name)
                        or real(lm, task, *a, **k))
    assert main(eval_argv(toy, root)) == 0
    assert len(calls) == 3
    assert all(cellio.read(root, cellio.Cell(**json.loads(p.read_text())["cell"])) for p in paths)
