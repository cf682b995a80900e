"""One executor for every grid stage: a stage says what it measures on one pruned model; the
executor does the rest, once.

    class MyStage(GridStage):            # what a stage supplies
        name = "evaluate"                #   results/<name>/...
        def load(self, model): ...       #   the model's weights (once per model)
        def rank(self, loaded, criterion): ...
        def group(self, cell): ...       #   (level, criterion, part): cells measured on one cut
        def prune(self, loaded, ranking, group, cells): ...   # the cut (None: not measured)
        def measure(self, loaded, pruned, cells): ...         # yields Measured, one per cell
    report = run_grid(MyStage(), jobs, root=..., shard="2/4")

The executor: sorts the grid and keeps this shard's part (round robin over the sorted cells);
decides per cell whether it is up to date (one rule: the file is intact, of this model's
identity, and its recorded settings equal the job's, i.e. every setting that can change its
result); leaves cells written by a newer kit alone, with a line; per model, skips cells other
runners hold before loading anything, loads once, ranks once per criterion, and per group
claims its cells (repro.results.locks), checks them again, prunes, measures and writes each
cell atomically (repro.results.cells) with a progress line, the writing (samples compressed,
hashed) in a background thread while the next cell is measured (repro/grid/writer.py). Cells
other runners hold are then waited for (a claim whose owner stopped goes stale and is taken
over); a shard still missing cells at the end is an error naming how many and why, so no stage
exits 0 on an incomplete grid.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import os
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from repro.core.canonical import canonical_json
from repro.core.errors import ReproError
from repro.grid.writer import CellWriter, InlineWriter
from repro.results import cells as cellio
from repro.results.cells import Cell
from repro.results.locks import Claims, open_results

log = logging.getLogger("repro.grid")


def poll_seconds() -> float:
    """How often a runner looks again at cells other runners hold."""
    return float(os.environ.get("REPRO_CLAIM_POLL_S") or 15)


class IncompleteGrid(ReproError):
    """Cells of this shard are still missing when the stage ends."""

    exit_code = 3


@dataclass(frozen=True)
class Job:
    """A cell to have, and what its result must match: `settings`, everything that can change
    it beyond the key (as the stage records it); `identity`, the model's content identity."""

    cell: Cell
    settings: Any
    identity: str | None = None


class Group(NamedTuple):
    """Cells measured on one pruned model; groups run in this tuple's order."""

    level: float
    criterion: str
    part: Hashable = ""


@dataclass
class Measured:
    cell: Cell
    payload: dict
    provenance: dict
    attachments: dict[str, bytes | Callable[[], bytes]] | None = None  # a callable: made when written
    seconds: float = 0.0


class GridStage:
    """What a grid stage supplies (see the module docstring)."""

    name: str = ""
    background_writes: bool = True  # False: each cell written before the next is measured (timings)

    def recorded(self, record: dict) -> Any:
        """The settings a cell's record holds (compared with its job's)."""
        return (record.get("payload") or {}).get("settings")

    def prepare(self) -> None:
        """Once, before the first model loads (checks that need no weights)."""

    def load(self, model: str) -> Any:
        raise NotImplementedError

    def unload(self, loaded: Any) -> None:
        """After a model's last group (a line about what was reused, memory)."""

    def rank(self, loaded: Any, criterion: str) -> Any:
        raise NotImplementedError

    def group(self, cell: Cell) -> Group:
        raise NotImplementedError

    def prune(self, loaded: Any, ranking: Any, group: Group, cells: list[Cell]) -> Any | None:
        raise NotImplementedError

    def measure(self, loaded: Any, pruned: Any, cells: list[Cell]) -> Iterator[Measured]:
        raise NotImplementedError


@dataclass
class GridReport:
    stage: str
    grid: int                 # cells in the whole grid
    shard: list[Cell]         # this shard's
    done: list[Cell] = field(default_factory=list)      # up to date before this run
    written: list[Cell] = field(default_factory=list)
    newer: list[Cell] = field(default_factory=list)     # written by a newer kit: left alone
    skipped: list[Cell] = field(default_factory=list)   # the stage measures nothing there
    pending: list[Cell] = field(default_factory=list)   # a dry run's to-do


def _plain(obj: Any) -> Any:
    return json.loads(canonical_json(obj))


class _Run:
    def __init__(self, stage: GridStage, jobs: dict[Cell, Job], root: Path, claims: Claims, out):
        self.stage, self.jobs, self.root, self.claims, self.out = stage, jobs, root, claims, out
        self.prepared = False

    def fresh(self, cell: Cell, *, quiet: bool = False) -> bool:
        """The one rule: intact, of this model, computed with these settings."""
        job = self.jobs[cell]
        rec = cellio.read(self.root, cell, job.identity)
        if rec is None:
            return False
        old, new = _plain(self.stage.recorded(rec)), _plain(job.settings)
        if old != new:
            if quiet:
                return False
            keys = (sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
                    if isinstance(old, dict) and isinstance(new, dict) else ["settings"])
            log.warning("%s was computed with other settings (%s); it will be recomputed",
                        cell.id, ", ".join(keys))
            return False
        return True

    def one_pass(self, todo: list[Cell], progress: cellio.Progress, report: GridReport) -> list[Cell]:
        """Compute what can be claimed of `todo`; return the cells other runners hold."""
        left: list[Cell] = []
        for model in dict.fromkeys(c.model for c in todo):
            mine = [c for c in todo if c.model == model]
            busy = {c for c in mine if self.claims.busy(c)}  # before loading for nothing
            left += [c for c in mine if c in busy]
            pending = [c for c in mine if c not in busy]
            if pending:
                left += self.model(model, pending, progress, report)
        return left

    def model(self, model: str, cells: list[Cell], progress, report: GridReport) -> list[Cell]:
        stage, left = self.stage, []
        if not self.prepared:
            stage.prepare()
            self.prepared = True
        loaded = stage.load(model)
        rankings: dict[str, Any] = {}
        groups: dict[Group, list[Cell]] = {}
        for c in cells:
            groups.setdefault(stage.group(c), []).append(c)
        for key in sorted(groups):
            claimed = []
            for c in groups[key]:
                if not self.claims.acquire(c):
                    left.append(c)
                elif self.fresh(c):
                    self.claims.release(c)
                    log.info("%s: finished by another runner meanwhile", c.id)
                else:
                    claimed.append(c)
            if not claimed:
                continue
            if key.criterion not in rankings:
                rankings[key.criterion] = stage.rank(loaded, key.criterion)
            pruned = stage.prune(loaded, rankings[key.criterion], key, claimed)
            if pruned is None:
                for c in claimed:
                    self.claims.release(c)
                report.skipped += claimed
                continue
            make = CellWriter if stage.background_writes else InlineWriter
            with make(functools.partial(self.write, progress=progress, report=report)) as writer:
                for m in stage.measure(loaded, pruned, claimed):
                    writer.submit(m)  # compressed, hashed and written while the next is measured
            del pruned
            gc.collect()
        stage.unload(loaded)
        del loaded, rankings
        gc.collect()
        return left

    def write(self, m: Measured, *, progress, report: GridReport) -> None:
        """One measured cell to disk (the writer's thread): attachments made now (compressed
        samples), then the cell atomically; its claim released."""
        attachments = {k: v() if callable(v) else v for k, v in (m.attachments or {}).items()}
        cellio.write(self.root, m.cell, m.payload, m.provenance, attachments=attachments)
        self.claims.release(m.cell)
        report.written.append(m.cell)
        progress.step(m.cell, m.seconds)

    def wait(self, left: list[Cell], limit: float | None, started: float) -> list[Cell]:
        """Wait (one poll at least, so a claim that cannot be taken yet never spins) until some
        of `left` can be claimed, their holder having released them or gone stale; return the
        cells still to compute. [] when none is left or the limit passed (the caller then
        reports what is missing)."""
        shown = None
        while left:
            if limit is not None and time.monotonic() - started >= limit:
                return []
            held = next(((c, h) for c in left if (h := self.claims.holder(c))), None)
            if held and shown != len(left):
                self.out(f"{self.stage.name}: waiting for {len(left)} cell(s) other runners hold "
                         f"(e.g. {held[0].id}, by {Claims.describe(held[1])}); a claim whose "
                         "owner stopped is taken over once stale")
                shown = len(left)
            lapses = [t for t in (self.claims.stale_in(c) for c in left) if t is not None]
            time.sleep(max(0.05, min([poll_seconds(), *(t + 0.05 for t in lapses)])))  # a dead
            left = [c for c in left if not self.fresh(c, quiet=True)]  # owner's, once it lapses
            if any(self.claims.holder(c) is None for c in left):
                return left
        return []


def run_grid(stage: GridStage, jobs: Iterable[Job], *, root: str | Path, shard: str | None = None,
             dry_run: bool = False, check: bool = False, wait: float | None = None,
             out: Callable[[str], None] = print) -> GridReport:
    """Compute this shard's cells of `jobs` that are not up to date (see the module docstring);
    raise IncompleteGrid when some are still missing at the end. dry_run: list each cell's
    state instead; check: compute nothing, and raise IncompleteGrid when cells are missing."""
    dry_run = dry_run or check
    root = Path(root)
    open_results(root, stage.name, dry_run=dry_run)
    by_cell = {j.cell: j for j in jobs}
    mine = cellio.shard(list(by_cell), shard)
    report = GridReport(stage.name, len(by_cell), mine)
    with Claims(root) as claims:  # every claim released at the end, an interrupted cell's too
        run = _Run(stage, by_cell, root, claims, out)
        todo = []
        for c in mine:
            newer = cellio.written_by_newer_kit(root, c)
            if newer:
                out(f"{c.id}: written by a newer kit ({newer}); left alone")
                report.newer.append(c)
            elif run.fresh(c):
                report.done.append(c)
            else:
                todo.append(c)
        if dry_run:
            report.pending = todo
        if dry_run and not check:
            newer, pending = set(report.newer), set(todo)
            for c in mine:
                state = "newer" if c in newer else "pending" if c in pending else "done"
                out(f"{state:8} {c.id}")
        out(f"{stage.name}: {len(by_cell)} cells in the grid, {len(mine)} in shard "
            f"{shard or '1/1'}, {len(todo)} to compute")
        if check and todo:
            raise IncompleteGrid(f"{stage.name}: {len(todo)} cell(s) of shard {shard or '1/1'} are "
                                 f"missing or out of date (e.g. {todo[0].id})")
        if dry_run:
            return report
        progress = cellio.Progress(len(todo))
        started = time.monotonic()
        while todo:
            left = run.one_pass(todo, progress, report)
            todo = run.wait(left, wait, started)
        accounted = {*report.done, *report.written, *report.newer, *report.skipped}
        missing = [c for c in mine if c not in accounted and not run.fresh(c, quiet=True)]
        held = [h for h in (claims.holder(c) for c in missing) if h]
    if missing:
        waited = f" after waiting {wait:g} s" if wait is not None else ""
        why = (f"{len(held)} held by other runners{waited} (e.g. by {Claims.describe(held[0])})"
               if held else "")
        rest = len(missing) - len(held)
        why += ("; " if why and rest else "") + (f"{rest} not computed" if rest else "")
        raise IncompleteGrid(f"{stage.name}: {len(missing)} cell(s) of shard {shard or '1/1'} are "
                             f"still missing ({why}, e.g. {missing[0].id}); rerun the stage to "
                             "finish them")
    out(f"{stage.name}: {len(report.written)} cell(s) written, {len(report.done)} already up to "
        f"date{f', {len(report.newer)} left to a newer kit' if report.newer else ''} under {root}")
    return report
