"""The atomic writer's promises, one by one: whole files or none, a folder replaced in two
renames and rolled back after a kill between them, stale temporary files recognised by their
owner, a refused write as one line, and destinations checked before any work."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from repro.core import atomicio
from repro.core.errors import ReproError

pytestmark = pytest.mark.light


def test_a_failed_write_leaves_the_old_file_and_nothing_else(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    atomicio.write_text(target, "old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ReproError, match=r"cannot write .*a.txt: No space left on device; free some"):
        atomicio.write_text(target, "new")
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_files_get_the_umask_modes_not_private_ones(tmp_path):
    atomicio.write_text(tmp_path / "f", "x")
    with atomicio.staged_dir(tmp_path / "d") as d:
        (d / "x").write_text("x")
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == atomicio.FILE_MODE
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == atomicio.DIR_MODE


def test_staged_dir_replaces_a_folder_and_rolls_back_on_error(tmp_path):
    final = tmp_path / "model"
    with atomicio.staged_dir(final) as d:
        (d / "weights").write_text("v1")
    with pytest.raises(RuntimeError), atomicio.staged_dir(final) as d:
        (d / "weights").write_text("half")
        raise RuntimeError("killed while saving")
    assert (final / "weights").read_text() == "v1" and os.listdir(tmp_path) == ["model"]
    with atomicio.staged_dir(final) as d:
        (d / "weights").write_text("v2")
    assert (final / "weights").read_text() == "v2" and os.listdir(tmp_path) == ["model"]


def _tagged(parent, name, pid, old=False, host=None):
    p = parent / f".{name}.{'old-' if old else ''}abcd1234.{host or atomicio._host()}.{pid}.tmp"
    p.mkdir()
    (p / "weights").write_text("x")
    return p


def _dead_pid():
    import subprocess
    import sys

    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)


def test_clean_stale_removes_dead_writers_leftovers_and_restores_an_aside(tmp_path):
    dead = _dead_pid()
    staging = _tagged(tmp_path, "model", dead)           # a killed save: removed
    aside = _tagged(tmp_path, "model", dead, old=True)   # killed between the renames: moved back
    live = _tagged(tmp_path, "other", os.getpid())       # a live writer's: kept
    foreign = _tagged(tmp_path, "far", 1, host="elsewhere")  # another machine's, recent: kept
    (tmp_path / ".hidden.but.not.ours").write_text("kept")
    removed = atomicio.clean_stale(tmp_path)
    assert removed == [staging]
    assert not aside.exists() and (tmp_path / "model" / "weights").read_text() == "x"
    assert live.exists() and foreign.exists() and (tmp_path / ".hidden.but.not.ours").exists()


def test_check_destination_refuses_files_and_creates_nothing(tmp_path):
    (tmp_path / "f").write_text("x")
    for bad in (tmp_path / "f", tmp_path / "f" / "sub" / "deeper"):
        with pytest.raises(ReproError, match="is a file, not a folder"):
            atomicio.check_destination(bad, "--out")
    assert atomicio.check_destination(tmp_path / "new" / "folder", "--out") == tmp_path / "new" / "folder"
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_check_destination_refuses_an_unwritable_folder(tmp_path, monkeypatch):
    def readonly(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(atomicio.tempfile, "mkstemp", readonly)
    with pytest.raises(ReproError, match=r"--results .* is not writable \(Read-only file system\)"):
        atomicio.check_destination(tmp_path / "r", "--results")
