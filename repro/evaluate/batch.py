"""Batch size is part of a result: lm-eval scores can move with it (lm-evaluation-harness issue
#2498: Llama-3.2-3B gsm8k 0.299 at batch 1, 0.130 at batch 128; generation pads on the left).

What a cell asked for (the task's own `batch_size` in suites.yaml, else the run's --batch-size)
is one of its settings, so changing it reruns the cell; what lm-eval resolved "auto" to is
recorded beside it (`resolved`: the sizes actually used, never "auto").

lm-eval 0.4.9.1's HFLM detects an "auto" size in `_detect_batch_size`, but keeps the answer only
for loglikelihood requests (in `batch_sizes`, reused by every later task of the same HFLM, whose
request lengths differ); rolling loglikelihood and generation keep it in a local variable. So
`BatchSizes` wraps the detector to record every answer, and starts each task afresh. A cell of
the fast setting (variant `fast`) asks for FAST instead of a size: its batching is fast.py's.
"""

from __future__ import annotations

import re

AUTO = re.compile(r"auto(:([1-9]\d*))?")
FAST = "fast"  # what a fast cell asks for (evaluation.yaml `fast:` says how it batches)


def requested(task, run_batch_size: str) -> str:
    """The batch size a task runs with: its own from suites.yaml, else the run's."""
    return str(task.batch_size) if task.batch_size else run_batch_size


def is_auto(batch: str) -> bool:
    return AUTO.fullmatch(batch) is not None


class BatchSizes:
    """Sets an HFLM's batch size per task and records what "auto" resolved to."""

    def __init__(self, lm):
        self.lm, self.detected, self.batch = lm, [], ""
        detect = lm._detect_batch_size

        def recorded(*args, **kwargs):
            size = detect(*args, **kwargs)
            self.detected.append(int(size))
            return size

        lm._detect_batch_size = recorded
        self.fast = None

    def start(self, batch: str) -> None:
        """Before a task: its batch size, no size detected for another task."""
        from repro.config.evaluation import evaluation
        from repro.evaluate.fast import FastBatches

        if self.fast is not None:
            self.fast.remove()
            self.fast = None
        if batch == FAST:
            self.batch, self.fast = batch, FastBatches(self.lm, evaluation().fast)
            self.fast.install()
            return
        auto = AUTO.fullmatch(batch)
        lm = self.lm
        lm.batch_size_per_gpu = "auto" if auto else int(batch)
        lm.batch_schedule = float(auto.group(2)) if auto and auto.group(2) else 1
        lm.batch_sizes = {}
        self.detected, self.batch = [], batch

    def effective(self) -> dict:
        """What the HFLM's own batch size reads as in this task (fast: the wrappers set it)."""
        return {"batch_size": FAST} if self.fast is not None else {}

    def record(self) -> dict:
        """After a task: what was asked for and the sizes used (in the order first used)."""
        if self.fast is not None:
            return self.fast.record()
        if not is_auto(self.batch):
            resolved = [int(self.batch)]
        else:
            resolved = list(dict.fromkeys(self.detected))
            if not resolved:
                raise RuntimeError(f"lm-eval ran with batch size {self.batch} but detected no "
                                   "size; the kit's hook on HFLM._detect_batch_size is stale")
        out = {"requested": self.batch, "resolved": resolved}
        if is_auto(self.batch):
            out["max_batch_size"] = self.lm.max_batch_size
        return out
