"""No folder lost: an output option replaces only a folder the kit wrote itself. prune
--overwrite pointed at a folder of the user's files, at the source model, at a folder holding
it, or through a symbolic link, and selftest --out pointed at the kit's own cache or the
working folder: one `error:` line, and every file where it was."""

from __future__ import annotations

import os
import shutil

import pytest

from repro.cli import main
from repro.core.stack import run_stack_problem
from tests.faults.harness import leftovers, one_error_line, snapshot

pytestmark = pytest.mark.integration


def prune(model, out, *extra):
    return ["-q", "prune", "--model", str(model), "--levels", "40", "--dtype", "float32",
            "--out", str(out), *extra]


@pytest.fixture
def home(toy, tmp_path):
    """A user's folder: the model, notes, a photo folder and a git repository."""
    h = tmp_path / "home"
    shutil.copytree(toy, h / "model")
    (h / "thesis.tex").write_text("\\section{Results}")
    (h / "photos").mkdir()
    (h / "photos" / "a.jpg").write_bytes(b"\xff\xd8 jpeg")
    (h / ".git").mkdir()
    (h / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return h


CASES = {  # what --out is -> what the one line says
    "a folder of the user's files": (lambda h: h, "holds the source model"),
    "the source model itself": (lambda h: h / "model", "is the source model"),
    "a folder holding the source model": (lambda h: h, "holds the source model"),
    "a user folder without the model": (lambda h: h / "photos", "is not a folder prune wrote"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_overwrite_never_replaces_what_prune_did_not_write(case, home, capsys):
    where, needle = CASES[case]
    before = snapshot(home)
    rc = main(prune(home / "model", where(home), "--overwrite"))
    one_error_line(capsys.readouterr().err, rc, needle)
    assert snapshot(home) == before  # every file where it was, the model's bytes included


def test_overwrite_refuses_a_folder_with_subfolders_even_if_marked(home, tmp_path, capsys):
    out = tmp_path / "pruned"
    assert main(prune(home / "model", out)) == 0
    (out / ".git").mkdir()  # the user versioned the pruned folder
    before = snapshot(out)
    rc = main(prune(home / "model", out, "--overwrite"))
    one_error_line(capsys.readouterr().err, rc, "sub-folders prune never writes (.git)")
    assert snapshot(out) == before


def test_overwrite_replaces_a_folder_prune_wrote(home, tmp_path, capsys):
    out = tmp_path / "pruned"
    assert main(prune(home / "model", out)) == 0
    rc = main(prune(home / "model", out))  # without --overwrite: says how
    one_error_line(capsys.readouterr().err, rc, "pass --overwrite to replace it")
    (out / "config.json").write_text("{}")  # damaged: --overwrite puts it right
    assert main(prune(home / "model", out, "--overwrite")) == 0
    assert "intermediate_size" in (out / "config.json").read_text()


def test_a_symlink_as_out_is_one_line_and_leaves_nothing(home, tmp_path, capsys):
    target = tmp_path / "real"
    assert main(prune(home / "model", target)) == 0
    link = tmp_path / "link"
    os.symlink(target, link)
    before = snapshot(tmp_path)
    for extra in ((), ("--overwrite",)):
        rc = main(prune(home / "model", link, *extra))
        one_error_line(capsys.readouterr().err, rc, "is a symbolic link")
        assert link.is_symlink() and snapshot(tmp_path) == before
        assert leftovers(tmp_path) == []  # no .link.old-*.tmp set aside


@pytest.mark.skipif(run_stack_problem() is not None, reason="the self-test needs lm-eval's stack")
def test_selftest_out_never_clears_the_cache_or_the_working_folder(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    (cache / "smollm2").mkdir(parents=True)
    (cache / "selftest.log").write_text("a log a user saved here")
    monkeypatch.setenv("REPRO_CACHE", str(cache))
    before = snapshot(cache)
    rc = main(["selftest", "--device", "cpu", "--out", str(cache)])
    one_error_line(capsys.readouterr().err, rc, "the kit's cache")
    work = tmp_path / "work"
    work.mkdir()
    (work / "selftest.log").write_text("nox -s selftest > selftest.log")
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    rc = main(["selftest", "--device", "cpu", "--out", "."])
    one_error_line(capsys.readouterr().err, rc, "the working folder")
    assert snapshot(cache) == before and (work / "notes.txt").read_text() == "mine"
