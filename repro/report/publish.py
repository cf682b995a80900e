"""The report's output folder is written as one set: a command builds its whole output beside
--out, then swaps it in (two renames, core/atomicio.staged_dir). An interrupted `tables` never
leaves new tables beside old claims files: a reader sees the old set or the new one. A mount
point (`docker run -v "$PWD/out:/opt/repro/paper/generated"`) cannot be renamed: there the set is
staged inside it and swapped entry by entry (atomicio.staged_entries), and a run killed part-way
is rolled back to the old set by the next one.

What one command does not write (the tables and figures beside `claims`' own files) is carried
into the new set by hard links, so `claims` and `analyze` leave the rest as it was. A folder
that holds anything else is refused before any work, in one line: the swap would drop it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from repro.core.atomicio import check_destination, clean_stale, staged_dir, staged_entries
from repro.core.errors import ReproError

# everything the report commands write under --out
OUTPUTS = ("analysis", "claims.json", "claims.md", "claims.tex", "digest.tex", "extensions.tex",
           "figures", "models.tex", "report.html", "tables")
CLAIMS = ("claims.json", "claims.md", "claims.tex", "digest.tex")
ANALYSIS = ("analysis",)


def prepare(out: str | Path) -> Path:
    """--out checked before any work: a writable folder that holds only report outputs, cleared
    of what a killed run left (its temporary files, a set it was swapping in)."""
    out = check_destination(Path(out), "--out")
    clean_stale(out.parent, prefix=f".{out.name[:100]}.")  # a staged set a killed run left
    clean_stale(out, recursive=True)
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUTS)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise ReproError(f"--out {out} holds files the report does not write ({shown}); "
                             "choose an empty folder or the report's own (paper/generated)")
    return out


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links: a copy
        shutil.copy2(src, dst)


@contextmanager
def publish(out: Path, owned: tuple[str, ...] = OUTPUTS) -> Iterator[Path]:
    """Yield a staging folder for the outputs `owned`; on success it replaces `out` whole, with
    the other outputs already in `out` carried over. On any error `out` is left as it was."""
    if os.path.ismount(out):  # renaming it would fail (EBUSY): the entries are swapped instead
        with staged_entries(out, owned) as stage:
            yield stage
        return
    with staged_dir(out) as stage:
        if out.is_dir():
            for p in sorted(out.iterdir()):
                if p.name in OUTPUTS and p.name not in owned:
                    if p.is_dir():
                        shutil.copytree(p, stage / p.name, copy_function=_link)
                    else:
                        _link(p, stage / p.name)
        yield stage
