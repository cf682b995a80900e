"""The rehearsal's mark: results of a dress rehearsal (tiny random models under the paper's
names, stand-in documents; `python -m repro rehearsal`) are never mistaken for real ones.

A run is a rehearsal when REPRO_REHEARSAL=1 (the `rehearsal` pipeline profile sets it). Then
every result file's provenance says `rehearsal: true`, aggregate accepts only the run id
REHEARSAL for its cells (and real cells never under it), refuses to write into the kit's own
data/reproduction, and the report marks every table, figure and claims file REHEARSAL.
"""

from __future__ import annotations

import os

ENV = "REPRO_REHEARSAL"
MARK = "REHEARSAL"
NOTE = ("REHEARSAL: tiny random models under the paper's names and stand-in documents; "
        "every number is noise, not a result")


def active() -> bool:
    return os.environ.get(ENV, "").strip() == "1"


def is_rehearsal_run(run_id: object) -> bool:
    """Rows whose run id is the rehearsal's (how tidy data carries the mark)."""
    return run_id == MARK
