"""Cells written off the critical path: one background thread compresses a cell's
attachments (lm-eval's samples), hashes and writes the cell atomically (repro/results/cells.py)
while the stage computes the next one; the GPU, or the CPU's other core, is not kept waiting.

    with CellWriter(write) as writer:     # write(measured): the executor's one write of a cell
        for m in stage.measure(...):
            writer.submit(m)              # returns at once unless `depth` cells already wait

A stage that times what it measures (efficiency) writes inline instead (InlineWriter): a
write never overlaps a timed region. At most `depth` measured cells wait, their samples in
memory. A failure of a write (a full disk) is raised in the stage at its next submit or at
close, never lost; after one, nothing more is written. Leaving the `with` block drains the
queue first, even when the stage was stopped (Ctrl-C, SIGTERM), or a stop came while it waited
there: every cell it finished computing is kept, each written whole.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("repro.grid")
_STOP = object()


class CellWriter:
    def __init__(self, write: Callable[[Any], None], depth: int = 1):
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stopping = False
        # set when the thread ends: waited on instead of Thread.join, which Python 3.11 marks
        # done when a signal interrupts it (bpo-45274's fix) though the thread still writes
        self._done = threading.Event()
        threading.Thread(target=self._run, name="repro-cell-writer", daemon=True).start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not _STOP:
                if self._error is None:
                    try:
                        self._write(item)
                    except BaseException as exc:  # raised again in the stage's thread
                        self._error = exc
        finally:
            self._done.set()

    def submit(self, item: Any) -> None:
        self._raise()
        self._queue.put(item)

    def close(self) -> None:
        """Write what is queued, stop the thread, and raise a write's failure if there was one."""
        try:
            self._drain()
        except BaseException:
            # stopped (Ctrl-C, SIGTERM) while waiting for the writer: wait again, else the
            # process could exit in the middle of a cell's write and leave its temporary file
            self._drain()
            raise
        self._raise()

    def _drain(self) -> None:
        if not self._done.is_set():
            if not self._stopping:
                self._queue.put(_STOP)
                self._stopping = True
            self._done.wait()

    def _raise(self) -> None:
        if self._error is not None:
            exc, self._error = self._error, None
            raise exc

    def __enter__(self) -> CellWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # the stage failed or was stopped: keep what it computed, and its own error
            self.close()
        except BaseException as failed:
            log.error("a cell could not be written while the stage stopped: %s", failed)


class InlineWriter:
    """The same interface, each cell written in the stage's thread before the next is measured."""

    def __init__(self, write: Callable[[Any], None]):
        self.submit = write

    def __enter__(self) -> InlineWriter:
        return self

    def __exit__(self, *exc) -> None:
        return None
