"""Result cells: one file per (stage, model, criterion, variant, level, task), written
atomically with provenance and a checksum, so that a rerun skips finished cells and redoes
missing, truncated, corrupt or mismatched ones.

Layout: <root>/<stage>/<model>/<criterion>[-<variant>]/level-<level>/<task>.json
The key (`Cell`) has named fields; its variant's dimensions are named too (repro/core/variant.py:
`cell.dims`), and its text is the one serialisation used in the path, in the record's "cell" and
in the tidy rows: the names every earlier kit wrote, so their results folders resume as they are.
A cell file holds {"format": FORMAT, "cell": key, "payload": ..., "payload_sha256": ...,
"provenance": ..., "attachments": {name: sha256}}; attachments (e.g. lm-eval's gzipped samples)
sit beside it and are written before the cell file, which is the commit point (a write that
fails removes the attachments it wrote). The provenance names the model's identity (content, or
Hub id and revision: repro.config.models); `read(..., identity=...)` treats a cell of another
model as missing, so a resume recomputes it and never reuses it. A cell written by a newer kit
format is never overwritten by this one (`newer_kit`): the stages leave it alone and say which
kit wrote it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from repro.core.atomicio import write_bytes, write_text
from repro.core.canonical import sha256_json
from repro.core.options import parse_shard
from repro.core.variant import Variant

log = logging.getLogger("repro.cells")

FORMAT = 1  # bump when the cell file layout changes; older cells are then rerun, newer left alone
SCORE_STAGES = ("evaluate", "neuron_selection", "sensitivity")  # payload holds lm-eval's results
EFFICIENCY_STAGE = "efficiency"                   # payload holds its own tidy rows


@dataclass(frozen=True)
class Cell:
    """A result's key. `variant` is given as a Variant or its text and kept as the text (its
    canonical form: a text the kit would not write is refused with ValueError)."""

    stage: str
    model: str
    criterion: str
    level: float
    task: str
    variant: str = ""

    def __post_init__(self) -> None:
        v = self.variant
        object.__setattr__(self, "variant", str(v if isinstance(v, Variant) else Variant.parse(v)))

    @cached_property
    def dims(self) -> Variant:
        """The variant's dimensions, by name (chat, allocation, layer, align, dtype, ...)."""
        return Variant.parse(self.variant)

    def _order(self) -> tuple:
        return (self.stage, self.model, self.criterion, self.level, self.task, self.variant)

    def __lt__(self, other: Cell) -> bool:
        return self._order() < other._order()

    @property
    def id(self) -> str:
        crit = self.criterion + (f"-{self.variant}" if self.variant else "")
        return f"{self.stage}/{self.model}/{crit}/level-{self.level:g}/{self.task}"

    def path(self, root: str | Path) -> Path:
        return Path(root) / f"{self.id}.json"

    def key(self) -> dict[str, Any]:
        return {"stage": self.stage, "model": self.model, "criterion": self.criterion,
                "level": self.level, "task": self.task, "variant": self.variant}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(root: str | Path, cell: Cell, payload: dict, provenance: dict,
          attachments: dict[str, bytes] | None = None) -> Path:
    """Write attachments, then the cell file (the commit point), each atomically."""
    path = cell.path(root)
    hashes, written = {}, []
    try:
        for name, data in (attachments or {}).items():
            att = path.with_name(f"{path.stem}.{name}")
            write_bytes(att, data)
            written.append(att)
            hashes[name] = _sha(data)
        record = {"format": FORMAT, "cell": cell.key(), "payload": payload,
                  "payload_sha256": sha256_json(payload), "attachments": hashes,
                  "provenance": provenance}
        write_text(path, json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
    except BaseException:
        for att in written:  # no attachment without its cell
            att.unlink(missing_ok=True)
        raise
    return path


def identity_of(record: dict) -> str | None:
    """The model identity a cell was computed from (None: not recorded)."""
    model = (record.get("provenance") or {}).get("model") if isinstance(record, dict) else None
    return model.get("identity") if isinstance(model, dict) else None


def read(root: str | Path, cell: Cell, identity: str | None = None) -> dict | None:
    """The cell's record if it is complete and intact (and, given `identity`, computed from
    that model), else None with the reason logged."""
    path = cell.path(root)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        log.warning("%s is truncated or corrupt; it will be recomputed", path)
        return None
    except OSError as exc:
        log.warning("%s cannot be read (%s); it will be recomputed", path, exc.strerror or exc)
        return None
    newer = newer_kit(record)
    if newer:  # never recomputed, never overwritten: a newer kit may read what this one cannot
        log.warning("%s was written by a newer kit (%s); left alone: use that kit or a newer one",
                    path, newer)
        return None
    problem = None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        problem = "was written by another kit format"
    elif record.get("cell") != cell.key():
        problem = f"holds another cell ({record.get('cell')})"
    elif record.get("payload_sha256") != sha256_json(record.get("payload")):
        problem = "fails its checksum"
    elif not isinstance(record.get("attachments", {}), dict) or \
            not isinstance(record.get("provenance", {}), dict):
        problem = "has a damaged record (attachments or provenance)"
    else:
        for name, digest in record.get("attachments", {}).items():
            att = path.with_name(f"{path.stem}.{name}")
            if not att.is_file() or _sha(att.read_bytes()) != digest:
                problem = f"has a missing or damaged attachment {att.name}"
                break
    if problem is None and identity is not None and identity_of(record) != identity:
        problem = f"was computed from another model ({identity_of(record)}, not {identity})"
    if problem:
        log.warning("%s %s; it will be recomputed", path, problem)
        return None
    return record


def newer_kit(record: Any) -> str | None:
    """Which kit wrote a record of a newer cell format than this kit's (None: not newer)."""
    fmt = record.get("format") if isinstance(record, dict) else None
    if not (isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT):
        return None
    prov = record.get("provenance") if isinstance(record.get("provenance"), dict) else {}
    return (f"format {fmt}, repro {prov.get('kit_version', '?')} at commit "
            f"{prov.get('kit_commit', '?')}; this kit reads format {FORMAT}")


def written_by_newer_kit(root: str | Path, cell: Cell) -> str | None:
    """The kit that wrote `cell`'s file when it is newer than this one: this kit must leave the
    file alone (its format cannot be checked here, and overwriting would lose its result)."""
    try:
        return newer_kit(json.loads(cell.path(root).read_text(encoding="utf-8-sig")))
    except (OSError, ValueError):
        return None


def scan(root: str | Path, stages: Iterable[str]) -> Iterator[tuple[Cell, dict]]:
    """(Cell, record) for every intact cell file of these stages under root; files that are
    not cells, sit at another cell's path, or fail their checks are skipped with a warning."""
    for stage in stages:
        base = Path(root) / stage
        for path in sorted(base.rglob("*.json")) if base.is_dir() else []:
            try:
                cell = Cell(**json.loads(path.read_text(encoding="utf-8-sig"))["cell"])
                where = cell.path(root).resolve()
            except (ValueError, UnicodeDecodeError, KeyError, TypeError, OSError):
                log.warning("%s is truncated, unreadable or not a cell; skipped (rerun the stage)", path)
                continue
            if where != path.resolve():
                log.warning("%s holds cell %s of another path; skipped", path, cell.id)
                continue
            rec = read(root, cell)
            if rec is not None:
                yield cell, rec


def shard(cells: Sequence[Cell], spec: str | None) -> list[Cell]:
    """Round-robin over the sorted cell list, so shards are disjoint and their union is all."""
    i, n = parse_shard(spec)
    return [c for k, c in enumerate(sorted(cells)) if k % n == i - 1]


class Progress:
    """One line per finished cell: count, the cell, its time, elapsed time and ETA for the grid."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.done, self.clock = total, 0, clock
        self.start = clock()

    @staticmethod
    def _fmt(s: float) -> str:
        s = int(round(s))
        return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"

    def step(self, cell: Cell, seconds: float) -> str:
        self.done += 1
        elapsed = self.clock() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        line = (f"[{self.done}/{self.total}] {cell.id} {seconds:.1f}s | "
                f"elapsed {self._fmt(elapsed)} | ETA {self._fmt(eta)}")
        log.info(line)
        return line
