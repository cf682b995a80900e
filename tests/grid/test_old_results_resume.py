"""A results folder written by the kit before the grid executor (main at 9fd6768: every grid
stage, evaluate with allocations and the stable tie-break, neuron selection, the sensitivity
scan, efficiency; tests/fixtures/old_results.py wrote it) resumes under this kit without
recomputing a finished cell: every lm-eval stage's rerun computes nothing and leaves every file's
bytes as they were, and the tidy rows read the same. Its efficiency cells were measured under
efficiency.yaml version 1 (idle power before every workload, a fixed number of repetitions);
issue 19 changed what those numbers mean (version 2), so they are listed to be measured again,
never read as current."""

from __future__ import annotations

import shutil

import pytest

from repro.cli import main
from tests.fixtures import old_results
from tests.offline import offline_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def old(tmp_path, monkeypatch):
    mp = offline_env(tmp_path)
    results = shutil.copytree(old_results.FOLDER, tmp_path / "results")
    model = old_results.toy(tmp_path)
    yield model, results, old_results.calibration_file(tmp_path)
    mp.undo()


def _nothing_is_computed(monkeypatch):
    from repro.efficiency import grid
    from repro.evaluate import runner
    from repro.extensions import scan

    def refuse(*a, **k):
        raise AssertionError("a finished cell was recomputed")

    for module, name in ((runner, "run_task"), (scan, "perplexity"), (grid, "measure_cell")):
        monkeypatch.setattr(module, name, refuse)


def test_a_folder_of_the_old_kit_resumes_without_recomputing_a_cell(old, monkeypatch, capsys):
    model, results, cal = old
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    assert sum(1 for p in before if p.suffix == ".json") == 26
    _nothing_is_computed(monkeypatch)
    for argv in old_results.stages(model, results, cal):
        if argv[0] == "efficiency":
            continue  # its protocol changed since (version 2): the next test
        capsys.readouterr()
        assert main(argv) == 0, argv
        out = capsys.readouterr().out
        assert " 0 to compute" in out and "0 cell(s) written" in out, (argv[0], out)
        assert main([*argv, "--check"]) == 0
    after = {p: p.read_bytes() for p in results.rglob("*") if p.is_file() and p.suffix != ".md"}
    assert after == before  # not a byte moved
    # under today's defaults (batch 1, the model's own max_length: issue 18) they are out of date
    argv = old_results.stages(model, results, cal)[1]
    i = argv.index(old_results.OLD_DEFAULTS[0])
    assert main([*argv[:i], *argv[i + len(old_results.OLD_DEFAULTS):], "--check"]) == 3


def test_its_efficiency_cells_are_measured_again_under_the_new_protocol(old, tmp_path, monkeypatch, capsys):
    model, results, cal = old
    before = {p: p.read_bytes() for p in (results / "efficiency").rglob("*") if p.is_file()}
    argv = next(a for a in old_results.stages(model, results, cal) if a[0] == "efficiency")
    capsys.readouterr()
    assert main(argv) == 2  # the old file itself: refused in one line, nothing measured
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "'alignment': unknown key" in err
    at = argv.index("--config") + 1
    argv = [*argv[:at], str(old_results.config_now(tmp_path)), *argv[at + 1:]]
    _nothing_is_computed(monkeypatch)
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    pending = [x.split()[1] for x in out.splitlines() if x.startswith("pending ")]
    # 0% and 40% unaligned, both workloads; 40% align64 the corrected one only (the paper
    # protocol no longer runs at aligned widths): every one of them there, and out of date
    assert "efficiency: 5 cells in the grid, 5 in shard 1/1, 5 to compute" in out, out
    assert all((results / f"{c}.json").is_file() for c in pending), pending
    assert main([*argv, "--check"]) == 3
    assert {p: p.read_bytes() for p in (results / "efficiency").rglob("*") if p.is_file()} == before


def test_its_tidy_rows_read_back(old, tmp_path):
    from repro.results.schema import read_csv

    _, results, _ = old
    assert main(["aggregate", "--results", str(results), "--out", str(tmp_path / "data"),
                 "--run-id", "old"]) == 0
    rows = read_csv(tmp_path / "data" / "old.csv")
    assert set(rows.variant) == {"", "owl", "spare1", "stable", "fp32", "layer00", "layer01",
                                 "cpu-float32", "align64-cpu-float32", "cpu-float32-synthetic",
                                 "align64-cpu-float32-synthetic"}
