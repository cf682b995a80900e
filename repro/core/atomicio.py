"""Atomic writes: a reader sees the old file or the whole new one, never half of it.

Temporary files and folders are hidden siblings named after their owner,
`.<name>.<random>.<host>.<pid>.tmp`, so that a process killed mid-write leaves something
`clean_stale` can recognise and remove (or, for a folder being replaced, roll back) on the next
run, while a live writer's files, on this host or another one sharing the folder, are left
alone. A write the system refuses (disk full, read-only, no permission) is one ReproError
naming the file, and leaves nothing behind. `check_destination` finds an unusable output
folder before any heavy work starts.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from repro.core.errors import ReproError

log = logging.getLogger("repro.atomicio")

PROBE = ".repro-probe."
STALE_FOREIGN_S = 24 * 3600  # another host's temporary files are removed after a day
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<old>old-)?[a-z0-9_]{8}\.(?P<host>[^.]+)\.(?P<pid>\d+)\.tmp$")
_FIX = {errno.ENOSPC: "free some space or choose another folder",
        errno.EDQUOT: "free some space (disk quota) or choose another folder",
        errno.EROFS: "choose a writable folder", errno.EACCES: "choose a folder you can write to",
        errno.EPERM: "choose a folder you can write to",
        errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
        errno.EEXIST: "a part of the path is a file, not a folder; choose another path",
        errno.ENAMETOOLONG: "choose a shorter name"}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp and mkdtemp make private files (0600) and folders (0700); what the kit writes gets
# the modes the user's umask gives, so a results folder shared by a group stays readable
FILE_MODE, DIR_MODE = 0o666 & ~_umask(), 0o777 & ~_umask()


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname() or "host")[:40]


def _suffix() -> str:
    return f".{_host()}.{os.getpid()}.tmp"


def write_error(path: str | os.PathLike, exc: OSError) -> ReproError | None:
    """A write the system refused, as one line (None for failures that are kit bugs)."""
    fix = _FIX.get(exc.errno)
    if fix is None:
        return None
    return ReproError(f"cannot write {path}: {exc.strerror or exc}; {fix}")


@contextmanager
def _mapped(path: str | os.PathLike) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        mapped = write_error(path, exc)
        if mapped is None:
            raise
        raise mapped from exc


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    with _mapped(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.", suffix=_suffix())
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any, **dump_kwargs: Any) -> None:
    dump_kwargs.setdefault("indent", 2)
    dump_kwargs.setdefault("sort_keys", True)
    write_text(path, json.dumps(obj, **dump_kwargs) + "\n")


def write_together(folder: str | os.PathLike, files: dict[str, bytes]) -> None:
    """Write a set of files into `folder` so that they are one run's set, never a mix of two:
    each is staged whole (synced) first, then all are moved in while holding an exclusive
    lock on the folder (flock), in the given order (put the file readers look for last). Two
    writers at once leave one writer's whole set; a writer killed while staging changes
    nothing."""
    import fcntl

    folder = Path(folder)
    staged: list[tuple[str, Path]] = []
    with _mapped(folder):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            for name, data in files.items():
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name[:100]}.", suffix=_suffix())
                staged.append((name, Path(tmp)))
                os.fchmod(fd, FILE_MODE)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            lock = os.open(folder, os.O_RDONLY)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                for name, tmp in staged:
                    os.replace(tmp, folder / name)
            finally:
                os.close(lock)  # releases the lock
        finally:
            for _, tmp in staged:
                tmp.unlink(missing_ok=True)


@contextmanager
def staged_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder that replaces `final` only if the block succeeds.

    The replacement is two renames: the old folder aside, the new one in; the old one is then
    deleted. A process killed between them leaves the old folder aside, and `clean_stale`
    (run before the next write) moves it back."""
    final = Path(final)
    if final.is_symlink():  # os.replace would swap the link for a folder, or fail half-way
        raise ReproError(f"{final} is a symbolic link; give the folder it points to")
    with _mapped(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name[:100]}.", suffix=_suffix()))
        tmp.chmod(DIR_MODE)
    try:
        yield tmp
        with _mapped(final):
            aside = None
            if final.exists():
                aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name[:100]}.old-",
                                              suffix=_suffix()))
                os.replace(final, aside)
            os.replace(tmp, final)
            if aside is not None:
                shutil.rmtree(aside)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


ENTRIES = "entries"  # the folder a staged_entries swap sets the old entries aside in


@contextmanager
def staged_entries(folder: str | os.PathLike, names: tuple[str, ...]) -> Iterator[Path]:
    """staged_dir for a folder that cannot itself be renamed (a mount point: `docker run -v`):
    yield a staging folder inside it; on success each of `names` in `folder` is replaced by the
    staged entry of that name (or removed), one rename each, the old entries held together aside
    until every new one is in. On an error, and in `clean_stale` after a kill part-way, the old
    entries are put back."""
    folder = Path(folder)
    with _mapped(folder):
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".stage.", suffix=_suffix()))
    aside = None
    moved: list[Path] = []
    try:
        yield tmp
        with _mapped(folder):
            aside = Path(tempfile.mkdtemp(dir=folder, prefix=f".{ENTRIES}.old-", suffix=_suffix()))
            for name in names:
                if os.path.lexists(folder / name):
                    os.replace(folder / name, aside / name)
            for new in sorted(tmp.iterdir()):
                os.replace(new, folder / new.name)
                moved.append(folder / new.name)
            shutil.rmtree(aside)
    except BaseException:
        if aside is not None and aside.is_dir():
            for new in moved:  # the new entries out, then the old ones back in
                shutil.rmtree(new) if new.is_dir() and not new.is_symlink() else new.unlink()
            _put_back(aside)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)


def _put_back(aside: Path) -> None:
    """Each entry a staged_entries swap set aside back in its place, over a newer one."""
    for old in sorted(aside.iterdir()):
        dst = aside.parent / old.name
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        os.replace(old, dst)
    aside.rmdir()


def pid_alive(pid) -> bool:
    """Whether process `pid` of this machine runs (one of another user's counts; a value that
    is no pid is taken as alive, so nothing of a live writer is ever removed)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


def fs_now(folder: str | os.PathLike) -> float:
    """The clock of the file system holding `folder`: the modification time of a probe file
    created there (on NFS the server's time, which a heartbeat's utime also sets), so ages of
    files written from other machines are measured without their clocks' skew. Falls back on
    this machine's clock where the folder cannot be written."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=PROBE, suffix=_suffix())
    except OSError:
        return time.time()
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        os.unlink(tmp)


def _alive(host: str, pid: int) -> bool:
    return host != _host() or pid_alive(pid)  # another machine's process: only its age tells


def clean_stale(folder: str | os.PathLike, *, recursive: bool = False,
                prefix: str = ".") -> list[Path]:
    """Remove the temporary files and folders that killed writers left under `folder`, and
    move back a folder a killed `staged_dir` had set aside. Returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    dirs = [folder]
    while dirs:
        d = dirs.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError:
            continue
        for p in entries:
            m = _TMP.match(p.name) if p.name.startswith(prefix) else None
            if m is None:
                if recursive and p.is_dir() and not p.is_symlink():
                    dirs.append(p)
                continue
            try:
                age = time.time() - p.lstat().st_mtime
            except OSError:
                continue
            if _alive(m["host"], int(m["pid"])) and (m["host"] == _host() or age < STALE_FOREIGN_S):
                continue
            final = p.with_name(m["name"])
            if m["old"] and m["name"] == ENTRIES and p.is_dir():
                _put_back(p)  # a swap of entries killed part-way: the old set whole again
                log.warning("%s: restored the entries an interrupted swap had set aside", d)
                continue
            if m["old"] and p.is_dir() and not final.exists():
                os.replace(p, final)  # the replacement never arrived: the old folder stays
                log.warning("%s: restored the folder an interrupted overwrite had set aside", final)
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run under %s", len(removed), folder)
    return removed


def check_destination(path: str | os.PathLike, option: str, *, probe: bool = True) -> Path:
    """Fail in one line, before any heavy work, when `path` cannot become a writable folder:
    a part of it is a file, the file system is read-only, permission is missing, or the disk is
    full. Creates nothing (the probe file is removed). probe=False (a dry run, which writes
    nothing) checks only that no part of the path is a file."""
    path = Path(path)
    probe_dir = path
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        where = f"{option} {path}" + ("" if probe_dir == path else f": {probe_dir}")
        raise ReproError(f"{where} is a file, not a folder; choose a folder")
    if not probe:
        return path
    clean_stale(probe_dir, prefix=PROBE)  # a probe a killed run left
    try:
        fd, tmp = tempfile.mkstemp(dir=probe_dir, prefix=PROBE, suffix=_suffix())
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        fix = _FIX.get(exc.errno, "choose another folder")
        raise ReproError(f"{option} {path} is not writable ({exc.strerror or exc}); {fix}") from None
    return path
