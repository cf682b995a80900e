"""Cells written off the critical path (repro/grid/writer.py): the executor's writer thread
writes a cell while the stage measures the next; a write's failure reaches the stage; a stage
stopped mid-grid keeps every cell it finished, each whole; attachments given as a call are made
in the writer's thread."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from repro.core import atomicio
from repro.grid.executor import GridStage, Group, Job, Measured, run_grid
from repro.grid.writer import CellWriter
from repro.results import cells as cellio
from repro.results.cells import Cell
from repro.results.locks import Claims

pytestmark = pytest.mark.light
IDENTITY = "content:toy"


class Stage(GridStage):
    name = "evaluate"

    def __init__(self, stop_after: int | None = None):
        self.stop_after, self.threads, self.order = stop_after, [], []

    def load(self, model):
        return model

    def rank(self, loaded, criterion):
        return criterion

    def group(self, cell):
        return Group(cell.level, cell.criterion, "")

    def prune(self, loaded, ranking, group, cells):
        return ranking

    def attachment(self, cell):
        def make() -> bytes:
            self.threads.append(threading.current_thread().name)
            return f"samples of {cell.task}".encode()
        return make

    def measure(self, loaded, pruned, cells):
        for i, c in enumerate(cells):
            if self.stop_after is not None and i == self.stop_after:
                raise KeyboardInterrupt
            self.order.append(("measured", c.task))
            yield Measured(c, {"value": i, "settings": {}}, {"model": {"identity": IDENTITY}},
                           {"samples.jsonl.gz": self.attachment(c)})


def jobs(n=3):
    return [Job(Cell("evaluate", "a", "maw", 0.0, f"t{i}"), {}, IDENTITY) for i in range(n)]


def test_the_next_cell_is_measured_while_the_last_is_written(tmp_path, monkeypatch):
    stage, first_written = Stage(), threading.Event()
    real = cellio.write

    def slow_write(root, cell, *a, **k):
        if cell.task == "t0":  # holds the writer until the stage has measured t1
            assert first_written.wait(10)
        stage.order.append(("written", cell.task))
        return real(root, cell, *a, **k)

    monkeypatch.setattr(cellio, "write", slow_write)
    orig = stage.measure

    def measure(loaded, pruned, cells):
        for m in orig(loaded, pruned, cells):
            yield m
            if m.cell.task == "t1":
                first_written.set()

    stage.measure = measure
    report = run_grid(stage, jobs(), root=tmp_path, out=lambda line: None)
    assert stage.order.index(("measured", "t1")) < stage.order.index(("written", "t0"))
    assert [c.task for c in report.written] == ["t0", "t1", "t2"]
    assert set(stage.threads) == {"repro-cell-writer"}  # samples compressed off the stage's thread
    for i in range(3):
        assert cellio.read(tmp_path, Cell("evaluate", "a", "maw", 0.0, f"t{i}"))["payload"]["value"] == i
        assert (tmp_path / "evaluate/a/maw/level-0" / f"t{i}.samples.jsonl.gz").read_bytes() == \
            f"samples of t{i}".encode()


def test_a_failed_write_reaches_the_stage_and_nothing_after_it_is_written(tmp_path, monkeypatch):
    real = cellio.write

    def full_disk(root, cell, *a, **k):
        if cell.task == "t1":
            raise OSError(28, "No space left on device")
        return real(root, cell, *a, **k)

    monkeypatch.setattr(cellio, "write", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        run_grid(Stage(), jobs(), root=tmp_path, out=lambda line: None)
    assert cellio.read(tmp_path, Cell("evaluate", "a", "maw", 0.0, "t0"))
    assert not cellio.read(tmp_path, Cell("evaluate", "a", "maw", 0.0, "t2"))
    assert not list(tmp_path.rglob(f"*{'.claim'}"))  # every claim released


def test_a_stopped_stage_keeps_every_cell_it_finished_each_whole(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_grid(Stage(stop_after=2), jobs(), root=tmp_path, out=lambda line: None)
    done = [t for t in ("t0", "t1", "t2") if cellio.read(tmp_path, Cell("evaluate", "a", "maw", 0.0, t))]
    assert done == ["t0", "t1"]
    assert not list(tmp_path.rglob("*.claim")) and not list(tmp_path.rglob("*.tmp"))
    assert Claims(tmp_path).holder(Cell("evaluate", "a", "maw", 0.0, "t2")) is None


def test_a_stop_while_the_stage_waits_for_the_writer_still_writes_the_cell_whole(tmp_path):
    """Ctrl-C (SIGTERM unwinds the same way in the CLI) arriving while the stage waits at close
    for the cell being written: the wait goes on, so the process never exits mid-write (CI found
    a cell's temporary file left behind by the fault suite's SIGTERM during evaluate)."""
    target = tmp_path / "cell.json"

    def write(item):
        time.sleep(0.2)  # the stage is waiting in close() by now
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)  # the write goes on after the stop arrived
        atomicio.write_bytes(target, item)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), CellWriter(write) as writer:
            writer.submit(b"whole")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert target.read_bytes() == b"whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell.json"]  # no temporary file


def test_after_a_failed_write_nothing_more_is_written_and_close_raises_it():
    seen = []

    def write(item):
        if item == 1:
            raise ValueError("bad cell")
        seen.append(item)

    w = CellWriter(write, depth=4)
    for item in (0, 1, 2, 3):
        w.submit(item)
    with pytest.raises(ValueError, match="bad cell"):
        w.close()
    assert seen == [0]
    w.close()  # raised once; closing again is quiet


def test_the_efficiency_stage_writes_inline():
    pytest.importorskip("torch")
    from repro.efficiency.grid import EfficiencyStage

    assert EfficiencyStage.background_writes is False  # a write beside a timed region would skew it


def test_a_stage_that_times_writes_each_cell_before_measuring_the_next(tmp_path):
    stage = Stage()
    stage.background_writes = False
    run_grid(stage, jobs(), root=tmp_path, out=lambda line: None)
    assert set(stage.threads) == {threading.main_thread().name}
