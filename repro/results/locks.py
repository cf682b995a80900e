"""Claims: a runner claims a cell before computing it, so that two runners on one results
folder (a rerun started beside a live one, two machines given the same shard) never compute
the same cell twice.

A claim is a file beside the cell, `<task>.json.claim`, created with O_EXCL (atomic on local
file systems and NFS) and holding its owner: host, pid, a random token and the time it was
taken. While the owner computes, a heartbeat thread touches its claims every HEARTBEAT_S
seconds. A claim is stale, and taken over, when its owner is a dead process on this host, or
its heartbeat is older than REPRO_CLAIM_STALE_S (default 600 s). Taking
over goes through a second O_EXCL file, `<claim>.break`, so two runners never both take over
one claim. Every claim, skip and take-over is logged.

    claims = Claims(root)
    if claims.acquire(cell):      # False: another live runner has it (logged)
        try: ... compute and write the cell ...
        finally: claims.release(cell)
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

from repro.core.atomicio import check_destination, clean_stale, pid_alive
from repro.results.cells import Cell

log = logging.getLogger("repro.claims")

HEARTBEAT_S = 30.0
SUFFIX = ".claim"


def stale_after() -> float:
    return float(os.environ.get("REPRO_CLAIM_STALE_S") or 600)


def _owner() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex,
            "since": time.time()}


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
        self.me = _owner()
        self.held: dict[Path, Cell] = {}
        self.heartbeat_s = heartbeat_s
        self._lock = threading.Lock()
        self._beat: threading.Thread | None = None

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

    def stale(self, path: Path) -> str | None:
        """Why the claim at `path` is stale (None: its owner is alive, or there is none)."""
        owner = _read(path)
        if owner is None:
            return None
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return None
        if owner.get("host") == self.me["host"] and owner.get("pid") is not None \
                and not pid_alive(owner["pid"]):
            return f"its owner {self.describe(owner)} has exited"
        if age > stale_after():
            return f"its owner {self.describe(owner)} sent no heartbeat for {age:.0f} s"
        return None

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
            if time.time() - _mtime(breaker) > stale_after():
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
    probe, removed = Claims.__new__(Claims), 0
    probe.me = _owner()
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
