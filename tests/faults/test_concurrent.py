"""Two runners on one results folder (a rerun started beside a live one, two machines given the
same shard): each cell is computed once, and the log says who left what to whom."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from repro.results import cells as cellio
from repro.results.locks import SUFFIX, Claims, sweep
from tests.faults.conftest import eval_argv
from tests.faults.harness import env, leftovers

CELL = cellio.Cell("evaluate", "m", "maw", 10.0, "t")


@pytest.mark.light
def test_a_claim_is_held_once_and_released(tmp_path):
    with Claims(tmp_path) as a, Claims(tmp_path) as b:
        assert a.acquire(CELL) and not b.acquire(CELL) and b.busy(CELL)
        owner = json.loads(a.path(CELL).read_text())
        assert owner["pid"] == os.getpid() and owner["token"] == a.me["token"]
        a.release(CELL)
        assert not a.path(CELL).exists() and b.acquire(CELL)
    assert not list(tmp_path.rglob(f"*{SUFFIX}"))  # close() releases what is left


def _claim_of(tmp_path, **owner):
    """A claim file as another runner wrote it."""
    c = Claims(tmp_path)
    p = c.path(CELL)
    c.close()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "t", "since": 0, **owner}))
    return p


@pytest.mark.light
def test_stale_claims_are_taken_over_live_ones_are_not(tmp_path, monkeypatch):
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    p = _claim_of(tmp_path, host=socket.gethostname(), pid=int(dead))  # a killed runner here
    with Claims(tmp_path) as c:
        assert c.acquire(CELL) and json.loads(p.read_text())["token"] == c.me["token"]
    p = _claim_of(tmp_path)  # another machine, heartbeat fresh: left to it
    with Claims(tmp_path) as c:
        assert not c.acquire(CELL) and c.busy(CELL)
    old = time.time() - 3600
    os.utime(p, (old, old))  # ... and silent for an hour: taken over
    monkeypatch.setenv("REPRO_CLAIM_STALE_S", "600")
    with Claims(tmp_path) as c:
        assert c.acquire(CELL)
    p = _claim_of(tmp_path)
    os.utime(p, (old, old))
    assert sweep(tmp_path) == 1 and not p.exists()  # what a rerun does first


@pytest.mark.light
def test_the_heartbeat_keeps_a_claim_fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CLAIM_STALE_S", "0.5")
    with Claims(tmp_path, heartbeat_s=0.05) as mine:
        assert mine.acquire(CELL)
        old = time.time() - 60
        os.utime(mine.path(CELL), (old, old))
        time.sleep(0.3)  # several heartbeats
        other = Claims(tmp_path)
        other.me = {**other.me, "host": "elsewhere"}  # judged as another machine would
        assert other.stale(mine.path(CELL)) is None and not other.acquire(CELL)
        other.close()


@pytest.mark.slow
@pytest.mark.integration
def test_two_runners_on_one_folder_compute_each_cell_once(fault_env, toy, ref_eval, tmp_path):
    """Both started together on the same grid; each logs the cells it computed. The HF token
    in their environment reaches no file they write."""
    results = tmp_path / "results"
    token = "hf_faultSuiteToken0123456789"
    e = env(HF_TOKEN=token, REPRO_FAULT_ROOTS="")
    procs = [subprocess.Popen([sys.executable, "-m", "repro", *eval_argv(toy, results)], env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    logs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    done = [set(re.findall(r"\] (evaluate/\S+) [\d.]+s \|", err)) for _, err in logs]
    grid = {p.relative_to(results).with_suffix("").as_posix()
            for p in results.rglob("*.json")}
    assert len(grid) == 4 and done[0] | done[1] == grid
    print(f"[fault] two runners computed {len(done[0])} and {len(done[1])} of {len(grid)} cells")
    assert not done[0] & done[1], "a cell was computed twice"
    both = "".join(err + out for out, err in logs)
    if done[0] and done[1]:  # they overlapped: the claims said so
        assert "left to it" in both or "finished by another runner" in both
    assert leftovers(results) == []
    for p in results.rglob("*"):
        assert p.is_dir() or token.encode() not in p.read_bytes(), p
    ref = ref_eval[0]
    for p in ref.rglob("*.json"):
        a = json.loads(p.read_text())["payload"]
        b = json.loads((results / p.relative_to(ref)).read_text())["payload"]
        assert a == b
