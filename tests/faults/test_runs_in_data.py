"""What the report is given is what was measured: of two reproduction runs of the same cells
the newest is shown (whatever the runs are named) and a line names both; two `aggregate`s
into one folder at once leave one run's whole set (CSV, provenance, per-document scores),
never a mix; a value that is NaN, not a number or outside its metric's range is named by
cell, task and metric, never dropped without a word."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from repro.cli import main
from repro.report.queries import current
from repro.results import cells as cellio
from repro.results.samples import load_samples
from repro.results.schema import load_dir, read_csv, validate
from tests.faults.harness import env, leftovers, ok, repro

pytestmark = pytest.mark.integration


def _row(run_id: str, ran_at: str, value: float) -> dict:
    return {"model": "llama-3.2-1b", "criterion": "maw", "level": 40.0, "variant": "",
            "task": "boolq", "metric": "acc", "filter": "none", "value": value, "stderr": None,
            "unit": "", "kept_width": 4916, "expansion_ratio": 2.4, "params": 913770496,
            "source": "reproduction", "run_id": run_id, "ran_at": ran_at}


@pytest.mark.light
def test_the_newest_run_of_a_cell_is_shown_not_the_last_name(tmp_path, caplog):
    data = tmp_path / "data"
    data.mkdir()
    for run_id, ran_at, value in (("run-9", "2026-10-01T08:00:00Z", 0.61),
                                  ("run-10", "2026-11-02T09:30:00Z", 0.64)):
        (data / f"{run_id}.csv").write_text(
            validate(pd.DataFrame([_row(run_id, ran_at, value)])).to_csv(index=False))
    with caplog.at_level(logging.WARNING, logger="repro.report"):
        shown = current(load_dir(data))
    assert shown.run_id.tolist() == ["run-10"] and shown.value.tolist() == [0.64]
    line = " ".join(r.getMessage() for r in caplog.records)
    assert "run-9" in line and "run-10" in line and "the newer" in line


def test_aggregate_records_when_each_cell_ran(ref_eval, tmp_path):
    ok(repro(["aggregate", "--results", str(ref_eval[0]), "--out", str(tmp_path), "--run-id", "r"]))
    df = read_csv(tmp_path / "r.csv")
    stamps = {}
    for path in ref_eval[0].rglob("*.json"):
        rec = json.loads(path.read_text())
        stamps[(rec["cell"]["task"], rec["cell"]["level"])] = rec["provenance"]["lm_eval"]["date"]
    import time

    for (task, level), date in stamps.items():
        got = set(df[(df.task == task) & (df.level == level)].ran_at)
        assert got == {time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(date))}, (task, level)
    assert set(load_samples(tmp_path).ran_at) == set(df.ran_at)


def _set_of(folder, run_id="same"):
    names = (f"{run_id}.csv", f"{run_id}.samples.csv.gz", f"{run_id}.provenance.json")
    return tuple((folder / n).read_bytes() for n in names)


@pytest.mark.slow
def test_two_aggregates_into_one_folder_never_mix(ref_eval, tmp_path):
    """Two runs' cells (one without a level), the same --run-id, started together: what is left
    is one run's three files exactly as that run writes them alone."""
    a = ref_eval[0]
    b = shutil.copytree(a, tmp_path / "b")
    shutil.rmtree(b / "evaluate" / next(p.name for p in (b / "evaluate").iterdir()) / "maw" / "level-10")
    alone = {}
    for name, res in (("a", a), ("b", b)):
        ok(repro(["aggregate", "--results", str(res), "--out", str(tmp_path / f"alone-{name}"),
                  "--run-id", "same"]))
        alone[name] = _set_of(tmp_path / f"alone-{name}")
    assert alone["a"] != alone["b"]
    for i in range(4):
        out = tmp_path / f"both-{i}"
        procs = [subprocess.Popen([sys.executable, "-m", "repro", "-q", "aggregate", "--results",
                                   str(res), "--out", str(out), "--run-id", "same"], env=env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for res in (a, b)]
        for p in procs:
            assert p.wait(timeout=300) == 0, p.stderr.read()
        assert _set_of(out) in (alone["a"], alone["b"]), f"try {i}: a mixed set"
        assert leftovers(out) == []


UNUSABLE = {  # what the cell's smoke_mc acc becomes -> what the line says
    "NaN": (float("nan"), "NaN"),
    "text": ("n/a", "not a number"),
    "negative accuracy": (-0.2, "outside the range acc can take ([0, 1])"),
    "accuracy above 1": (1.7, "outside the range acc can take ([0, 1])"),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_an_unusable_value_is_named_by_cell_and_task(case, ref_eval, tmp_path, capsys):
    value, needle = UNUSABLE[case]
    root = shutil.copytree(ref_eval[0], tmp_path / "results")
    path = next(p for p in sorted(root.rglob("smoke_mc.json")))
    rec = json.loads(path.read_text())
    cell = cellio.Cell(**rec["cell"])
    rec["payload"]["results"]["smoke_mc"]["acc,none"] = value
    cellio.write(root, cell, rec["payload"], rec["provenance"])  # an intact cell: checksum valid
    data = tmp_path / "data"
    assert main(["aggregate", "--results", str(root), "--out", str(data), "--run-id", "r"]) == 0
    out = capsys.readouterr()
    assert f"{cell.id}: smoke_mc acc,none = " in out.err and needle in out.err, out.err
    assert "1 value(s) left out as unusable" in out.out
    df = read_csv(data / "r.csv")
    left = df[(df.task == "smoke_mc") & (df.level == cell.level) & (df.metric == "acc")]
    assert left.empty  # no row, and no made-up number
    assert not df[(df.task == "smoke_mc") & (df.metric == "acc_norm")].empty  # the rest is kept
    listed = json.loads((data / "r.provenance.json").read_text())["unusable_values"]
    assert [(u["cell"], u["task"], u["metric"], u["problem"]) for u in listed] == \
        [(cell.id, "smoke_mc", "acc,none", needle)]
