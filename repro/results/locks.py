"""Claims: a runner claims a cell before computing it, so that two runners on one results
folder (a rerun started beside a live one, two machines given the same shard) never compute
the same cell twice, and a killed runner's cells are taken over as soon as it is known dead.

A claim is a file beside the cell, `<task>.json.claim`, created with O_EXCL (atomic on local
file systems and NFS) and holding its owner: host, pid, boot id, pid namespace and process
start time (repro.core.process), a random token, the time it was taken and its heartbeat
interval. While the owner computes, a heartbeat thread touches its claims every HEARTBEAT_S
(30 s). A claim is stale, and taken over, when
  - its owner is a process of this boot and pid namespace that has exited, or whose pid now
    belongs to another process (start time differs): known at once;
  - or its heartbeat has lapsed for LAPSE_BEATS (4) heartbeat intervals, 120 s by default
    (REPRO_CLAIM_STALE_S overrides): the only sign from another machine or container (each
    `docker run --rm` has its own host name and pid namespace; a SLURM requeue lands on
    another node). Ages are measured on the file system's clock (atomicio.fs_now), so
    machines whose clocks disagree still agree on a claim's age.
Taking over goes through a second O_EXCL file, `<claim>.break`, so two runners never both take
over one claim. Every claim, skip and take-over is logged. A runner that finds a cell held by
a live claim can wait for it (`wait`, `stale_in`) instead of leaving the grid incomplete.

    claims = Claims(root)
    if claims.acquire(cell):      # False: another live runner has it (logged)
        try: ... compute and write the cell ...
        finally: claims.release(cell)
    elif claims.wait(cell, timeout=None):   # released, or its owner known dead
        ...check whether it was finished meanwhile, else acquire it...
    claims.close()                # releases what is left (a killed runner's go stale)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from repro.core import process
from repro.core.atomicio import check_destination, clean_stale, fs_now
from repro.results.cells import Cell

log = logging.getLogger("repro.claims")

HEARTBEAT_S = 30.0
LAPSE_BEATS = 4  # missed heartbeats after which an owner is taken for dead
SUFFIX = ".claim"
CLOCK_REFRESH_S = 60.0


def stale_after(owner: dict | None = None) -> float:
    """Seconds without a heartbeat after which `owner` is taken for dead: REPRO_CLAIM_STALE_S,
    else LAPSE_BEATS of its own heartbeat interval (120 s at the default 30 s)."""
    if os.environ.get("REPRO_CLAIM_STALE_S"):
        return float(os.environ["REPRO_CLAIM_STALE_S"])
    beat = (owner or {}).get("heartbeat_s")
    beat = beat if isinstance(beat, int | float) and not isinstance(beat, bool) and beat > 0 \
        else HEARTBEAT_S
    return LAPSE_BEATS * float(beat)


def _owner(heartbeat_s: float = HEARTBEAT_S) -> dict:
    return {"host": socket.gethostname(), **process.identity(), "token": uuid.uuid4().hex,
            "since": time.time(), "heartbeat_s": heartbeat_s}


def _read(path: Path) -> dict | None:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
        return owner if isinstance(owner, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        return {}  # half-written by a killed runner: an owner without a name, stale by age


class Claims:
    def __init__(self, root: str | Path, *, heartbeat_s: float = HEARTBEAT_S):
        self.root = Path(root)
        self.me = _owner(heartbeat_s)
        self.held: dict[Path, Cell] = {}
        self.heartbeat_s = heartbeat_s
        self._lock = threading.Lock()
        self._beat: threading.Thread | None = None
        self._clock: dict[Path, tuple[float, float]] = {}  # folder -> (offset, when measured)

    def path(self, cell: Cell) -> Path:
        p = cell.path(self.root)
        return p.with_name(p.name + SUFFIX)

    def _create(self, path: Path) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.me, f)
        return True

    def _now(self, folder: Path) -> float:
        """The file system's clock for `folder` (its offset from ours, measured once a minute)."""
        offset, when = self._clock.get(folder, (0.0, -CLOCK_REFRESH_S))
        if time.monotonic() - when >= CLOCK_REFRESH_S:
            offset = fs_now(folder) - time.time()
            self._clock[folder] = (offset, time.monotonic())
        return time.time() + offset

    def _judge(self, path: Path) -> tuple[dict | None, str | None, float]:
        """(the claim's owner or None, why it is stale or None, seconds until its heartbeat
        lapses: <= 0 once it has)."""
        owner = _read(path)
        if owner is None:
            return None, None, 0.0
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None, None, 0.0
        dead = process.known_dead(owner, owner.get("host") == self.me["host"])
        if dead:
            return owner, f"its owner {self.describe(owner)} {dead}", 0.0
        age = self._now(path.parent) - mtime
        left = stale_after(owner) - age
        if left < 0:
            return owner, (f"its owner {self.describe(owner)} sent no heartbeat for {age:.0f} s "
                           f"(a claim lapses after {stale_after(owner):.0f} s)"), left
        return owner, None, left

    def stale(self, path: Path) -> str | None:
        """Why the claim at `path` is stale (None: its owner is alive, or there is none)."""
        return self._judge(path)[1]

    def stale_in(self, cell: Cell) -> float | None:
        """Seconds until `cell`'s claim goes stale if its owner sends no further heartbeat: 0
        when it is stale now; None when the cell is unclaimed or claimed by this runner."""
        owner, why, left = self._judge(self.path(cell))
        if owner is None or owner.get("token") == self.me["token"]:
            return None
        return 0.0 if why else max(left, 0.0)

    def wait(self, cell: Cell, timeout: float | None = None, *, poll: float = 5.0) -> bool:
        """Wait until `cell`'s claim is released or its owner is known dead (a killed runner
        elsewhere: once its heartbeat lapses). True: the cell is free to `acquire` (check
        first whether it was finished meanwhile); False: `timeout` seconds passed while a
        live owner still held it. Looks every `poll` seconds, sooner when the claim lapses."""
        deadline = None if timeout is None else time.monotonic() + timeout
        said = False
        while True:
            left = self.stale_in(cell)
            if left is None or left <= 0:
                return True
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            if not said:
                log.info("%s: claimed by %s; waiting for it to finish (or, if it was killed, "
                         "for its claim to lapse in %.0f s)", cell.id,
                         self.describe(self.holder(cell) or {}), left)
                said = True
            nap = min(poll, left + 0.05)
            time.sleep(max(0.01, nap if deadline is None else min(nap, deadline - now)))

    @staticmethod
    def describe(owner: dict) -> str:
        return f"{owner.get('host', '?')}:{owner.get('pid', '?')}"

    def holder(self, cell: Cell) -> dict | None:
        """The owner of another live runner's claim on `cell` (None: free, mine or stale); quiet."""
        path = self.path(cell)
        owner = _read(path)
        if owner is None or owner.get("token") == self.me["token"] or self.stale(path):
            return None
        return owner

    def busy(self, cell: Cell) -> bool:
        """Held by another live runner (a cheap look, before loading a model for nothing)."""
        owner = self.holder(cell)
        if owner is None:
            return False
        log.info("%s: claimed by %s, left to it", cell.id, self.describe(owner))
        return True

    def acquire(self, cell: Cell) -> bool:
        """Claim `cell`; False when another live runner holds it."""
        path = self.path(cell)
        if self._create(path):
            return self._took(path, cell)
        why = self.stale(path)
        if why is None:
            owner = _read(path) or {}
            if owner.get("token") == self.me["token"]:
                return True
            log.info("%s: claimed by %s, left to it", cell.id, self.describe(owner))
            return False
        breaker = path.with_name(path.name + ".break")
        if not self._create(breaker):
            if self._now(path.parent) - _mtime(breaker) > stale_after():
                breaker.unlink(missing_ok=True)  # a taker killed mid-takeover
            return False
        try:
            if self.stale(path) is None and path.exists():
                return False  # taken over by another runner meanwhile
            path.unlink(missing_ok=True)
            if not self._create(path):
                return False
        finally:
            breaker.unlink(missing_ok=True)
        log.warning("%s: took over a stale claim (%s)", cell.id, why)
        return self._took(path, cell)

    def _took(self, path: Path, cell: Cell) -> bool:
        with self._lock:
            self.held[path] = cell
            if self._beat is None or not self._beat.is_alive():  # runs while claims are held
                self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                              name="repro-claims-heartbeat")
                self._beat.start()
        return True

    def release(self, cell: Cell) -> None:
        path = self.path(cell)
        with self._lock:
            self.held.pop(path, None)
        owner = _read(path)
        if owner and owner.get("token") == self.me["token"]:
            path.unlink(missing_ok=True)
        elif owner is not None:
            log.warning("%s: its claim was taken over by %s while this runner computed it",
                        cell.id, self.describe(owner))

    def _heartbeat(self) -> None:
        while True:
            time.sleep(self.heartbeat_s)
            with self._lock:
                paths = list(self.held)
                if not paths:
                    self._beat = None
                    return
            for p in paths:
                try:
                    os.utime(p)
                except OSError:
                    pass

    def close(self) -> None:
        """Release every claim still held (the heartbeat stops with the last one)."""
        for cell in list(self.held.values()):
            self.release(cell)

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sweep(folder: str | Path) -> int:
    """Remove the stale claims under `folder` (left by killed runners, of cells finished or
    not); live runners' claims stay. Returns how many were removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    probe, removed = Claims(folder), 0
    for path in folder.rglob(f"*{SUFFIX}"):
        why = probe.stale(path)
        if why:
            path.unlink(missing_ok=True)
            removed += 1
            log.info("%s: removed a stale claim (%s)", path, why)
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def open_results(results: Path, stage: str, *, dry_run: bool) -> None:
    """A stage's --results, checked before any heavy work: never a file, in a dry run too;
    otherwise writable, with what killed runs left under the stage removed (temporary files,
    claims of dead runners)."""
    check_destination(results, "--results", probe=not dry_run)
    if not dry_run:
        clean_stale(results / stage, recursive=True)
        sweep(results / stage)
