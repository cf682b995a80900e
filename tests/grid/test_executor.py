"""The grid executor with a stage that needs no model: one freshness rule, shards, claims,
waiting for other runners, a shard left incomplete, cells of a newer kit left alone, dry runs."""

from __future__ import annotations

import json
import threading

import pytest

from repro.core.errors import ReproError
from repro.grid.executor import GridStage, Group, IncompleteGrid, Job, Measured, run_grid
from repro.grid.options import GridOptions
from repro.results import cells as cellio
from repro.results.cells import Cell
from repro.results.locks import Claims

pytestmark = pytest.mark.light


class Toy(GridStage):
    """Measures 'value' = level + len(task); records what it did."""

    name = "evaluate"

    def __init__(self):
        self.loads, self.ranks, self.cuts, self.measured = [], [], [], []

    def load(self, model):
        self.loads.append(model)
        return {"model": model}

    def rank(self, loaded, criterion):
        self.ranks.append((loaded["model"], criterion))
        return criterion

    def group(self, cell):
        return Group(cell.level, cell.criterion, cell.variant)

    def prune(self, loaded, ranking, group, cells):
        self.cuts.append((loaded["model"], group))
        return None if group.part == "align64" else f"{ranking}@{group.level:g}"

    def measure(self, loaded, pruned, cells):
        for c in cells:
            self.measured.append(c)
            yield Measured(c, {"value": c.level + len(c.task), "settings": SETTINGS[c.model],
                               "pruned": pruned}, {"model": {"identity": IDENTITY}})


SETTINGS = {"a": {"limit": None, "seeds": [1, 2]}, "b": {"limit": 5}}
IDENTITY = "content:toy"


def jobs(models=("a", "b"), levels=(0.0, 10.0), tasks=("x", "yy"), variants=("",), settings=None):
    return [Job(Cell("evaluate", m, "maw", lv, t, v), (settings or SETTINGS)[m], IDENTITY)
            for m in models for lv in levels for t in tasks for v in variants]


def test_each_model_loads_once_each_criterion_ranks_once_each_group_is_cut_once(tmp_path):
    s = Toy()
    report = run_grid(s, jobs(), root=tmp_path, out=lambda line: None)
    assert s.loads == ["a", "b"] and s.ranks == [("a", "maw"), ("b", "maw")]
    assert [g.level for _, g in s.cuts] == [0.0, 10.0, 0.0, 10.0]
    assert len(report.written) == 8 and report.done == []
    rec = cellio.read(tmp_path, Cell("evaluate", "a", "maw", 10.0, "yy"))
    assert rec["payload"]["value"] == 12.0 and rec["payload"]["pruned"] == "maw@10"


def test_one_rule_for_up_to_date_every_setting_and_the_model(tmp_path, caplog):
    run_grid(Toy(), jobs(), root=tmp_path, out=lambda line: None)
    s = Toy()
    assert run_grid(s, jobs(), root=tmp_path, out=lambda line: None).written == [] and s.loads == []
    other = {"a": {"limit": None, "seeds": [1, 3]}, "b": SETTINGS["b"]}  # a setting of a's changed
    s = Toy()
    report = run_grid(s, jobs(settings=other), root=tmp_path, out=lambda line: None)
    assert {c.model for c in report.written} == {"a"} and len(report.written) == 4
    assert "computed with other settings (seeds)" in caplog.text
    s = Toy()  # another model's content: recomputed as well
    run_grid(s, [Job(j.cell, j.settings, "content:other") for j in jobs(settings=other)],
             root=tmp_path, out=lambda line: None)
    assert len(s.measured) == 8


def test_shards_split_the_whole_grid_whatever_is_done(tmp_path):
    grid = jobs()
    run_grid(Toy(), grid[:3], root=tmp_path, out=lambda line: None)  # some cells already there
    parts = [run_grid(Toy(), grid, root=tmp_path, shard=f"{i}/3", dry_run=True,
                      out=lambda line: None).shard for i in (1, 2, 3)]
    assert sorted(c for p in parts for c in p) == sorted(j.cell for j in grid)
    assert parts[0] == cellio.shard([j.cell for j in grid], "1/3")  # the same split as an empty folder's


def test_a_group_the_stage_does_not_measure_is_not_missing(tmp_path):
    s = Toy()
    report = run_grid(s, jobs(variants=("", "align64")), root=tmp_path, out=lambda line: None)
    assert len(report.skipped) == 8 and len(report.written) == 8


def test_dry_run_and_check_compute_nothing(tmp_path, capsys):
    s = Toy()
    report = run_grid(s, jobs(), root=tmp_path, dry_run=True)
    out = capsys.readouterr().out
    assert s.loads == [] and len(report.pending) == 8 and "pending  evaluate/a/maw/level-0/x" in out
    assert "8 cells in the grid, 8 in shard 1/1, 8 to compute" in out
    with pytest.raises(IncompleteGrid, match=r"8 cell\(s\) of shard 1/1 are missing") as exc:
        run_grid(s, jobs(), root=tmp_path, check=True)
    assert exc.value.exit_code == 3 and s.loads == []
    run_grid(Toy(), jobs(), root=tmp_path, out=lambda line: None)
    assert run_grid(s, jobs(), root=tmp_path, check=True).pending == []


def test_a_cell_of_a_newer_kit_is_left_alone_with_a_line(tmp_path, capsys):
    run_grid(Toy(), jobs(models=("a",)), root=tmp_path, out=lambda line: None)
    cell = Cell("evaluate", "a", "maw", 10.0, "x")
    rec = json.loads(cell.path(tmp_path).read_text())
    rec.update(format=cellio.FORMAT + 1, provenance={"kit_version": "2.0", "kit_commit": "feedbeef"})
    cell.path(tmp_path).write_text(json.dumps(rec))
    before = cell.path(tmp_path).read_bytes()
    s = Toy()
    report = run_grid(s, jobs(models=("a",)), root=tmp_path)
    out = capsys.readouterr().out
    assert report.newer == [cell] and s.measured == [] and cell.path(tmp_path).read_bytes() == before
    line = next(x for x in out.splitlines() if "newer kit" in x)
    assert "evaluate/a/maw/level-10/x" in line and "feedbeef" in line and "left alone" in line


def _held_by_another_runner(tmp_path, cell) -> Claims:
    other = Claims(tmp_path)
    other.me = {**other.me, "host": "elsewhere", "token": "another-runner"}
    assert other.acquire(cell)
    return other


def test_cells_another_runner_holds_are_waited_for_then_computed(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CLAIM_POLL_S", "0.05")
    cell = Cell("evaluate", "a", "maw", 10.0, "x")
    other = _held_by_another_runner(tmp_path, cell)
    lines = []

    def out(line):
        lines.append(line)
        if "waiting for" in line:  # the other runner stops without writing the cell
            threading.Timer(0.3, other.close).start()

    s = Toy()
    report = run_grid(s, jobs(models=("a",)), root=tmp_path, out=out)
    assert cell in report.written and len(report.written) == 4 and s.loads == ["a", "a"]
    assert any("waiting for 1 cell(s) other runners hold (e.g. evaluate/a/maw/level-10/x, by "
               "elsewhere:" in x for x in lines)


def test_cells_another_runner_finishes_are_not_computed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CLAIM_POLL_S", "0.05")
    cell = Cell("evaluate", "a", "maw", 10.0, "x")
    other = _held_by_another_runner(tmp_path, cell)

    def finish():
        cellio.write(tmp_path, cell, {"value": 13.0, "settings": SETTINGS["a"]},
                     {"model": {"identity": IDENTITY}})
        other.close()

    threading.Timer(0.3, finish).start()
    s = Toy()
    report = run_grid(s, jobs(models=("a",)), root=tmp_path, out=lambda line: None)
    assert cell not in s.measured and len(report.written) == 3 and s.loads == ["a"]


def test_a_shard_still_missing_cells_is_an_error_naming_how_many_and_why(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CLAIM_POLL_S", "0.05")
    cell = Cell("evaluate", "b", "maw", 0.0, "yy")
    other = _held_by_another_runner(tmp_path, cell)
    with pytest.raises(IncompleteGrid) as exc:
        run_grid(Toy(), jobs(), root=tmp_path, wait=0.2, out=lambda line: None)
    msg = str(exc.value)
    assert "1 cell(s) of shard 1/1 are still missing" in msg and "held by other runners" in msg
    assert "elsewhere:" in msg and "evaluate/b/maw/level-0/yy" in msg and "\n" not in msg
    assert len([p for p in tmp_path.rglob("*.json")]) == 7  # every other cell was written
    other.close()


def test_grid_options_check_each_value_once_where_they_enter():
    g = GridOptions(models=["a"], levels=["40"], criteria=["PPM"], shard="2/4", check=True)
    assert g.levels == (40.0,) and g.criteria == ("maw",) and g.dry_run
    for bad, match in [({"levels": [100]}, r"outside \[0, 100\)"), ({"criteria": ["x"]}, "unknown pruning"),
                       ({"tie_break": "lucky"}, "tie-break"), ({"shard": "3/2"}, "--shard"),
                       ({"device": "tpu"}, "not a device"), ({"dtype": "int8"}, "dtype")]:
        with pytest.raises(ReproError, match=match):
            GridOptions(**bad)
