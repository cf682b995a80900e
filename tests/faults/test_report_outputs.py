"""The report's output folder under faults: `tables` killed at any point leaves the old output
set whole (never new tables beside old claims files) and a rerun completes it; a model named
with LaTeX's special characters reaches paths, labels and text escaped, and the PDF compiles."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from repro.results.schema import load_dir, write_csv
from tests.faults.harness import ok, one_error_line, repro, rng, snapshot

PUBLISHED = Path(__file__).resolve().parents[2] / "data" / "published"
PAPER = Path(__file__).resolve().parents[2] / "paper"
ODD = "toy#1%_a&b{x}"  # every LaTeX special a folder name can hold

pytestmark = pytest.mark.light


def _data(root: Path, bump: float = 1.0) -> Path:
    """The published data; bump != 1 changes one score, so every output set differs."""
    df = load_dir(PUBLISHED)
    at = (df.model == "llama-3.2-1b") & (df.task == "mmlu") & (df.level == 40.0)
    df.loc[at, "value"] = df.loc[at, "value"] * bump
    write_csv(df, root / "published.csv")
    return root


@pytest.mark.slow
def test_an_interrupted_tables_leaves_the_old_output_set_whole(tmp_path):
    old_data, new_data = _data(tmp_path / "old"), _data(tmp_path / "new", bump=0.97)
    ref = tmp_path / "ref"
    ok(repro(["tables", "--data", str(new_data), "--out", str(ref)]))
    new = snapshot(ref)
    count = tmp_path / "events"
    out = tmp_path / "work" / "generated"
    ok(repro(["tables", "--data", str(old_data), "--out", str(out)]))
    old = snapshot(out)
    assert old != new and old.keys() >= {"claims.md", "report.html", "tables", "figures"}
    ok(repro(["tables", "--data", str(new_data), "--out", str(out)], roots=[out.parent], count=count))
    events = int(count.read_text())
    assert snapshot(out) == new and events > 50
    r = rng("tables-kill")
    sets = {"old": (old_data, old), "new": (new_data, new)}
    state = "new"
    for at in sorted(r.sample(range(1, events), 4)) + [events - 1]:
        target = "old" if state == "new" else "new"
        run = repro(["tables", "--data", str(sets[target][0]), "--out", str(out)],
                    roots=[out.parent], kill_at=at)
        assert run.rc == -9, (at, run.err[-2000:])
        now = snapshot(out)
        # whole sets only: the one before, or (killed after the swap) the new one
        assert now in (sets[state][1], sets[target][1]), f"killed at event {at}: a mixed output set"
        state = target if now == sets[target][1] else state
    ok(repro(["tables", "--data", str(new_data), "--out", str(out)]))
    assert snapshot(out) == new
    assert sorted(p.name for p in out.parent.iterdir()) == ["generated"], "leftovers of the kills"


def test_tables_refuses_a_folder_of_other_files_before_any_work(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    run = repro(["tables", "--data", str(PUBLISHED), "--out", str(out)])
    one_error_line(run.err, run.rc, "holds files the report does not write (thesis.tex)")
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_a_mount_point_gets_the_new_set_entry_by_entry(tmp_path, monkeypatch, capsys):
    """`docker run -v "$PWD/out:/opt/repro/paper/generated"`: the folder is a mount point, which
    rename() refuses (EBUSY); the new set replaces the old one entry by entry inside it."""
    import errno

    from repro.cli import main

    old_data, new_data = _data(tmp_path / "old"), _data(tmp_path / "new", bump=0.97)
    ref = tmp_path / "ref"
    assert main(["tables", "--data", str(new_data), "--out", str(ref)]) == 0
    out = tmp_path / "mnt"
    out.mkdir()
    real_replace = os.replace

    def replace(src, dst):
        if Path(src) == out or Path(dst) == out:
            raise OSError(errno.EBUSY, "Device or resource busy", str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == out)
    assert main(["tables", "--data", str(old_data), "--out", str(out)]) == 0
    assert snapshot(out) != snapshot(ref)
    assert main(["tables", "--data", str(new_data), "--out", str(out)]) == 0
    assert snapshot(out) == snapshot(ref)  # nothing hidden left inside, nothing of the old set
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnt", "new", "old", "ref"]


def test_a_swap_of_entries_killed_part_way_is_rolled_back(tmp_path):
    """Killed between the renames of a swap inside a mount point: the next run puts the old
    entries back over the new ones, so the folder holds the old set whole."""
    from repro.core import atomicio

    out = tmp_path / "mnt"
    (out / "tables").mkdir(parents=True)
    (out / "claims.md").write_text("new claims")  # already swapped in
    (out / "tables" / "t.tex").write_text("new table")
    dead = next(pid for pid in range(4_000_000, 4_100_000) if not atomicio.pid_alive(pid))
    aside = out / f".{atomicio.ENTRIES}.old-abcd1234.{atomicio._host()}.{dead}.tmp"
    (aside / "tables").mkdir(parents=True)
    (aside / "claims.md").write_text("old claims")
    (aside / "tables" / "t.tex").write_text("old table")
    (aside / "report.html").write_text("old page")  # not yet replaced by anything
    atomicio.clean_stale(out, recursive=True)
    assert snapshot(out) == {"claims.md": _sha("old claims"), "report.html": _sha("old page"),
                             "tables": "<dir>", "tables/t.tex": _sha("old table")}


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _odd_model(root: Path) -> Path:
    """The published data plus a model named with LaTeX's specials (the instruct rows, renamed)."""
    df = load_dir(PUBLISHED)
    odd = df[df.model == "llama-3.2-1b-instruct"].assign(model=ODD)
    write_csv(df, root / "published.csv")
    write_csv(odd, root / "odd.csv")
    return root


def test_latex_specials_in_a_model_name_are_escaped_in_paths_and_labels(tmp_path):
    out = tmp_path / "paper" / "generated"
    ok(repro(["tables", "--data", str(_odd_model(tmp_path / "data")), "--out", str(out)]))
    files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert not [f for f in files if any(c in f for c in "#%&{} ")], "special characters in file names"
    models = (out / "models.tex").read_text()
    assert r"toy\#1\%\_a\&b\{x\}" in models  # the name as text: escaped
    for line in models.splitlines():  # the name in \input, \includegraphics, \label: a slug
        if line.startswith(("\\input", "\\includegraphics", "\\label")):
            assert not any(c in line for c in "#%&_") and "{x}" not in line, line
    if not (shutil.which("latexmk") and shutil.which("pdflatex")):
        if os.environ.get("REPRO_REQUIRE_TEX") == "1":
            pytest.fail("REPRO_REQUIRE_TEX=1 but no latexmk/pdflatex: install Debian's texlive")
        pytest.skip("no TeX installation (latexmk, pdflatex) to compile the report here; CI "
                    "installs one and runs this test with REPRO_REQUIRE_TEX=1 (paper/ci-compile.sh)")
    shutil.copy(PAPER / "report.tex", out.parent / "report.tex")
    done = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error",
                           "-outdir=build", "report.tex"], cwd=out.parent, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (out.parent / "build" / "report.pdf").stat().st_size > 100_000
