"""A killed run resumed anywhere: the claims a dead runner left are taken over as soon as it
can be known dead. From another container or machine (`docker run --rm` gives each run a new
host name and pid namespace; a SLURM requeue lands on another node) only its heartbeat can
tell: it lapses after 4 heartbeats (120 s). On this machine a claim whose pid now belongs to
an unrelated live process is dead at once. A runner that meets a live foreign claim can wait
for it (`Claims.wait`), instead of leaving its grid incomplete."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from repro.core import process
from repro.results import locks
from repro.results.cells import Cell
from repro.results.locks import HEARTBEAT_S, Claims, stale_after
from tests.faults.harness import env

pytestmark = pytest.mark.light  # torch-free: the light install's claims are the same code

CELL = Cell("evaluate", "m", "maw", 10.0, "t")
UNSHARE = ["unshare", "--user", "--map-root-user", "--uts", "--pid", "--fork", "--mount-proc"]


def _namespaces_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run([*UNSHARE, "true"], capture_output=True).returncode == 0


def claim_in_a_container(root, hostname: str = "ctr-4f2a") -> dict:
    """A runner in a container of its own (new host name, new pid namespace) claims CELL and
    is killed with SIGKILL while it holds it. Returns the claim it left."""
    code = ("import sys, time; from repro.results.locks import Claims; "
            "from repro.results.cells import Cell; "
            f"c = Claims({str(root)!r}); assert c.acquire(Cell('evaluate', 'm', 'maw', 10.0, 't')); "
            "print('held', flush=True); time.sleep(600)")
    script = f"hostname {hostname} && exec {sys.executable} -c \"{code}\""
    proc = subprocess.Popen([*UNSHARE, "sh", "-c", script], env=env(), stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "held"
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9: no release, no cleanup
    proc.wait()
    return json.loads(Claims(root).path(CELL).read_text())


def test_the_default_lapse_is_four_heartbeats(monkeypatch):
    monkeypatch.delenv("REPRO_CLAIM_STALE_S", raising=False)
    assert stale_after() == 4 * HEARTBEAT_S == 120.0
    assert stale_after({"heartbeat_s": 5}) == 20.0  # an owner's own interval counts


@pytest.mark.skipif(not _namespaces_available(), reason="no user namespaces (unshare) here")
def test_a_claim_from_a_killed_container_is_taken_over_once_it_lapses(tmp_path, monkeypatch):
    monkeypatch.delenv("REPRO_CLAIM_STALE_S", raising=False)
    owner = claim_in_a_container(tmp_path)
    assert owner["host"] == "ctr-4f2a" and owner["pidns"] != process.pid_namespace()
    path = Claims(tmp_path).path(CELL)
    with Claims(tmp_path) as rerun:  # at once: its pid cannot be checked from here
        assert rerun.busy(CELL) and not rerun.acquire(CELL)
        assert 100 < rerun.stale_in(CELL) <= 120 and rerun.describe(rerun.holder(CELL)) == f"ctr-4f2a:{owner['pid']}"
    lapsed = time.time() - 121
    os.utime(path, (lapsed, lapsed))  # two minutes without a heartbeat
    with Claims(tmp_path) as rerun:
        assert rerun.stale_in(CELL) == 0 and rerun.acquire(CELL)
        assert json.loads(path.read_text())["token"] == rerun.me["token"]
    still = time.time() - 60
    claim_in_a_container(tmp_path)
    os.utime(path, (still, still))  # one minute: maybe a busy machine, left to it
    with Claims(tmp_path) as rerun:
        assert not rerun.acquire(CELL)


@pytest.mark.skipif(not _namespaces_available(), reason="no user namespaces (unshare) here")
def test_a_rerun_waits_for_a_dead_containers_claim_and_takes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CLAIM_STALE_S", "1.5")
    claim_in_a_container(tmp_path)
    with Claims(tmp_path) as rerun:
        assert not rerun.acquire(CELL)
        assert rerun.wait(CELL, timeout=0.2, poll=0.05) is False  # still within its lapse
        t0 = time.monotonic()
        assert rerun.wait(CELL, timeout=30, poll=0.05) is True
        assert time.monotonic() - t0 < 3 and rerun.acquire(CELL)


def test_wait_returns_when_a_live_owner_releases(tmp_path, monkeypatch):
    monkeypatch.delenv("REPRO_CLAIM_STALE_S", raising=False)
    owner, other = Claims(tmp_path), Claims(tmp_path)
    other.me = {**other.me, "host": "elsewhere", "boot": "another-boot"}
    assert owner.acquire(CELL)

    def release_soon():
        time.sleep(0.3)
        owner.release(CELL)

    import threading

    threading.Thread(target=release_soon).start()
    t0 = time.monotonic()
    assert other.wait(CELL, timeout=10, poll=0.05) and time.monotonic() - t0 < 5
    assert other.stale_in(CELL) is None and other.acquire(CELL)
    other.close()


def test_a_claim_whose_pid_was_reused_is_dead_at_once(tmp_path, monkeypatch):
    monkeypatch.delenv("REPRO_CLAIM_STALE_S", raising=False)
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        me = Claims(tmp_path)
        path = me.path(CELL)
        path.parent.mkdir(parents=True, exist_ok=True)
        start = process.start_time(unrelated.pid)
        assert start is not None
        dead_owner = {**me.me, "pid": unrelated.pid, "token": "killed-runner",
                      "start": str(int(start) - 1000)}  # the runner that had this pid earlier
        path.write_text(json.dumps(dead_owner))
        why = me.stale(path)
        assert why and "now belongs to another process" in why
        assert me.acquire(CELL)
        me.close()
        path.write_text(json.dumps({**dead_owner, "start": start}))  # the live owner itself
        assert Claims(tmp_path).stale(path) is None
    finally:
        unrelated.kill()
        unrelated.wait()


def test_another_containers_pid_is_never_checked_here(tmp_path, monkeypatch):
    """Same host name (docker run --hostname), another pid namespace: a pid that is dead here
    says nothing; only the heartbeat counts."""
    monkeypatch.delenv("REPRO_CLAIM_STALE_S", raising=False)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    me = Claims(tmp_path)
    path = me.path(CELL)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**me.me, "pid": int(gone), "token": "x", "pidns": "pid:[1]"}))
    assert me.stale(path) is None and not me.acquire(CELL)
    me.close()


def test_ages_are_measured_on_the_file_systems_clock(tmp_path, monkeypatch):
    """A runner whose clock is ahead by an hour does not take over a fresh foreign claim."""
    monkeypatch.delenv("REPRO_CLAIM_STALE_S", raising=False)
    path = Claims(tmp_path).path(CELL)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": "elsewhere", "pid": 7, "token": "t", "since": 0}))
    real = time.time
    monkeypatch.setattr(locks.time, "time", lambda: real() + 3600)
    with Claims(tmp_path) as fast:
        assert fast.stale(path) is None and not fast.acquire(CELL)
