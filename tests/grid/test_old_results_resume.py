"""A results folder written by the kit before the grid executor (main at 9fd6768: every grid
stage, evaluate with allocations and the stable tie-break, neuron selection, the sensitivity
scan, efficiency; tests/fixtures/old_results.py wrote it) resumes under this kit without
recomputing a finished cell: every stage's rerun computes nothing and leaves every file's bytes
as they were, and the tidy rows read the same."""

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


def test_its_tidy_rows_read_back(old, tmp_path):
    from repro.results.schema import read_csv

    _, results, _ = old
    assert main(["aggregate", "--results", str(results), "--out", str(tmp_path / "data"),
                 "--run-id", "old"]) == 0
    rows = read_csv(tmp_path / "data" / "old.csv")
    assert set(rows.variant) == {"", "owl", "spare1", "stable", "fp32", "layer00", "layer01",
                                 "cpu-float32", "align64-cpu-float32", "cpu-float32-synthetic",
                                 "align64-cpu-float32-synthetic"}
