"""Who a process is, in a form another process can check later: its pid, and what makes that pid
mean the same process (Linux): the boot (a reboot reuses every pid), the pid namespace (each
container numbers its own processes) and the process's start time (a pid is reused once its
process has exited).

    me = identity()                    # {"pid": ..., "boot": ..., "pidns": ..., "start": ...}
    known_dead(record)                 # 'its pid 4711 now belongs to another process', or None

`known_dead` answers only where the record's pid can be checked from here: the same boot and
pid namespace. Elsewhere (another machine, another container) it returns None, and the caller
judges by time alone (a claim's heartbeat: repro.results.locks).
"""

from __future__ import annotations

import os
from pathlib import Path

from repro.core.atomicio import pid_alive


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii", errors="replace").strip() or None
    except OSError:
        return None


def boot_id() -> str | None:
    return _read("/proc/sys/kernel/random/boot_id")


def pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")  # 'pid:[4026531836]'
    except OSError:
        return None


def start_time(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot (/proc/<pid>/stat, field 22)."""
    stat = _read(f"/proc/{int(pid)}/stat")
    if stat is None:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return fields[19] if len(fields) > 19 else None


def identity() -> dict:
    pid = os.getpid()
    return {"pid": pid, "boot": boot_id(), "pidns": pid_namespace(), "start": start_time(pid)}


def same_namespace(record: dict, host_matches: bool) -> bool:
    """Whether `record`'s pid names a process of this boot and pid namespace. A record without
    them (an older kit's) counts as this machine's when its host name is this one's."""
    if record.get("boot") is None or record.get("pidns") is None:
        return host_matches
    return record.get("boot") == boot_id() and record.get("pidns") == pid_namespace()


def known_dead(record: dict, host_matches: bool) -> str | None:
    """Why the process `record` names has certainly ended (None: alive, or not checkable here)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or not same_namespace(record, host_matches):
        return None
    if not pid_alive(pid):
        return "has exited"
    started = record.get("start")
    if started is not None and start_time(pid) not in (None, started):
        return f"has exited (its pid {pid} now belongs to another process)"
    return None
