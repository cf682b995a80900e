"""Which output folders a command may replace: only a folder the kit wrote itself.

A stage that writes a whole folder (prune's model folders, the self-test's working folder)
replaces an existing one only when that folder carries the stage's own marker file and holds
nothing the stage never writes (sub-folders, e.g. a `.git`); never when it is, or holds, the
model being read, nor a symbolic link (replacing it would swap the link for a folder).
Everything else is one `error:` line before anything is touched.

    check_replaceable(out, "--out", marker="repro_prune.json", overwrite=args.overwrite,
                      keep=[model_folder], stage="prune")
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from repro.core.errors import ReproError


def _real(p: str | os.PathLike) -> Path:
    return Path(os.path.realpath(p))


def holds(folder: str | os.PathLike, inner: str | os.PathLike) -> bool:
    """Whether `inner` is `folder` itself or lies inside it (symbolic links resolved)."""
    f, i = _real(folder), _real(inner)
    return i == f or f in i.parents


def check_replaceable(out: str | os.PathLike, option: str, *, marker: str, overwrite: bool,
                      keep: Iterable = (), stage: str = "this stage",
                      subfolders: bool = False) -> None:
    """Refuse, in one line and before anything is written, an output folder that must not be
    replaced: a symbolic link; a `keep` path (the source model; or a (path, label) pair) or a
    folder holding one; an existing,
    non-empty folder without `marker` (or with sub-folders, unless `subfolders`); and a
    kit-written one when `overwrite` is not given."""
    out = Path(out)
    if out.is_symlink():
        raise ReproError(f"{option} {out} is a symbolic link (to {os.readlink(out)}); give the "
                         f"folder it points to, or another {option}")
    for item in keep:
        src, label = item if isinstance(item, tuple) else (item, "the source model")
        if Path(src).exists() and holds(out, src):
            verb = "is" if _real(out) == _real(src) else "holds"
            raise ReproError(f"{option} {out} {verb} {label} {src}; choose another {option} "
                             f"({label} is never replaced)")
    if not out.is_dir():
        return
    try:
        entries = list(out.iterdir())
    except OSError as exc:
        raise ReproError(f"{option} {out} cannot be read ({exc.strerror or exc}); choose "
                         "another folder") from None
    if not entries:
        return
    if not (out / marker).is_file():
        raise ReproError(f"{option} {out} exists and is not a folder {stage} wrote (no {marker}); "
                         f"choose another {option} or empty it yourself (--overwrite replaces "
                         f"only folders {stage} wrote)")
    dirs = sorted(e.name for e in entries if e.is_dir())
    if dirs and not subfolders:
        raise ReproError(f"{option} {out} holds sub-folders {stage} never writes "
                         f"({', '.join(dirs[:3])}); choose another {option} or move them out")
    if not overwrite:
        raise ReproError(f"{option} {out} already holds a result of {stage}; pass --overwrite "
                         f"to replace it, or choose another {option}")
