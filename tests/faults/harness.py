"""What the fault-injection tests share: running a stage as a real process (optionally killed
with SIGKILL at a random file-system event or a random moment, or failed with ENOSPC), snapshots
of a folder to prove that nothing was half-written, and the checks of one `error:` line."""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.offline import OFFLINE

SHIM = Path(__file__).resolve().parent / "shim"
SEED = int(os.environ.get("REPRO_FAULT_SEED") or 11)  # CI: fixed points; set it to explore others
# what a killed writer may leave: an owner-tagged temporary file or folder, or a claim
LEFTOVER = re.compile(r"^\..+\.(old-)?[a-z0-9_]{8}\.[^.]+\.\d+\.tmp$|\.claim(\.break)?$")


def rng(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_FAULT_")}
    out.update({**OFFLINE,
                "PYTHONPATH": os.pathsep.join([str(SHIM), os.environ.get("PYTHONPATH", "")]),
                "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"})
    out.update(extra)
    return out


@dataclass
class Run:
    rc: int
    err: str
    events: int | None = None
    seconds: float = 0.0


def repro(argv: list[str], *, roots: list[Path] = (), kill_at: int = 0, kill_after: float = 0.0,
          enospc_at: int = 0, count: Path | None = None, log: Path | None = None,
          timeout: float = 300, **extra_env) -> Run:
    """`python -m repro <argv>` in a fresh process. With `roots`, file-system events under them
    are counted (tests/faults/shim/sitecustomize.py); the process is SIGKILLed just before the
    `kill_at`-th, or fails with ENOSPC from the `enospc_at`-th; `kill_after` kills it after
    that many seconds instead."""
    e = env(**extra_env)
    if roots:
        e["REPRO_FAULT_ROOTS"] = os.pathsep.join(str(Path(r).resolve()) for r in roots)
        if kill_at:
            e["REPRO_FAULT_KILL_AT"] = str(kill_at)
        if enospc_at:
            e["REPRO_FAULT_ENOSPC_AT"] = str(enospc_at)
        if count is not None:
            e["REPRO_FAULT_COUNT_FILE"] = str(count)
        if log is not None:
            e["REPRO_FAULT_LOG"] = str(log)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "repro", "-q", *argv], env=e,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        if kill_after:
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    events = int(count.read_text()) if count is not None and count.exists() else None
    return Run(proc.returncode, err, events, time.monotonic() - t0)


def ok(run: Run) -> Run:
    assert run.rc == 0, run.err[-3000:]
    return run


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file (and '<dir>' for every folder) under root."""
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def leftovers(root: Path) -> list[str]:
    """The temporary files and folders, and claims, under root (not what is inside them)."""
    out = []
    for p in sorted(root.rglob("*")) if root.exists() else []:
        rel = p.relative_to(root).as_posix()
        if LEFTOVER.search(p.name) and not any(rel.startswith(o + "/") for o in out):
            out.append(rel)
    return out


def visible(root: Path) -> dict[str, str]:
    """snapshot() without the leftovers and what is inside them."""
    left = leftovers(root)
    return {k: v for k, v in snapshot(root).items()
            if not any(k == o or k.startswith(o + "/") for o in left)}


def one_error_line(err: str, rc: int, needle: str = "") -> str:
    """The message of a refused command: a non-zero exit, exactly one `error:` line, no traceback."""
    assert rc != 0, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert needle in lines[0], (needle, lines[0])
    return lines[0]


def copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    if src.exists():
        shutil.copytree(src, dst)
    return dst


def tmpfs_available() -> bool:
    """Whether this machine lets the tests mount a small tmpfs (user namespaces via unshare)."""
    if shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                        "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d"],
                       capture_output=True)
    return r.returncode == 0


def in_small_tmpfs(mount: Path, size: str, argv: list[str], *, ro: bool = False,
                   timeout: float = 300) -> Run:
    """Run `python -m repro <argv>` in a private mount namespace where `mount` is a tmpfs of
    `size` (read-only with `ro`). The tmpfs vanishes with the namespace, so its content is
    copied to <mount>.after for the test to inspect."""
    mount.mkdir(parents=True, exist_ok=True)
    after = mount.with_name(mount.name + ".after")
    opts = f"size={size}" + (",ro" if ro else "")
    script = (f"mount -t tmpfs -o {opts} tmpfs {_q(str(mount))} || exit 99; "
              f"{_q(sys.executable)} -m repro -q " + " ".join(_q(a) for a in argv)
              + f"; rc=$?; mkdir -p {_q(str(after))} && cp -a {_q(str(mount))}/. {_q(str(after))}/; exit $rc")
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                       env=env(), capture_output=True, text=True, timeout=timeout)
    assert r.returncode != 99, f"tmpfs could not be mounted: {r.stderr}"
    return Run(r.returncode, r.stderr)


def _q(a: str) -> str:
    return "'" + a.replace("'", "'\\''") + "'"
