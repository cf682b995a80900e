"""prune's output folders: named, checked before anything loads, and, when a run is stopped
(Ctrl-C, SIGTERM), what it saved and the command line that finishes it.

One target writes --out itself; several write one sub-folder each (`maw-level40`). A folder
is replaced only if prune wrote it (its sidecar, repro_prune.json) and --overwrite is given,
and never when it is or holds the source model (repro.core.outdir).
"""

from __future__ import annotations

from pathlib import Path

from repro.core.atomicio import check_destination, clean_stale
from repro.core.outdir import check_replaceable

SIDECAR = "repro_prune.json"  # written into every folder prune saves: its marker
_run: dict = {}  # this process's run: its targets, folders, and those saved so far


def folders(out: Path, model: str, crit: str, tag: str, targets: list, *,
            overwrite: bool) -> list[Path]:
    """The output folder of each target (`tag`: the allocation's, '' for uniform), each checked
    before anything loads or is touched."""
    name = "-".join(x for x in (crit, tag) if x)
    outs = [out] if len(targets) == 1 else [out / f"{name}-{t.label}" for t in targets]
    for o in outs:  # first what a killed prune left: its staging folder, a folder set aside
        clean_stale(o.parent)
    for o in outs:
        check_replaceable(o, "--out", marker=SIDECAR, overwrite=overwrite, keep=[model],
                          stage="prune")
        check_destination(o, "--out")
    _run.clear()
    _run.update(targets=list(targets), outs=outs, out=out, saved=[])
    return outs


def saved(out: Path) -> None:
    """A folder is in place, whole (repro.prune.save calls this)."""
    _run.setdefault("saved", []).append(Path(out))


def resume_hint() -> str:
    """What a stopped prune saved, and the command that finishes it: the targets left, each
    into the folder this run would have written (a folder already there was replaced in one
    rename, so it is whole: the old one or the new one)."""
    targets, outs, done = _run.get("targets"), _run.get("outs"), _run.get("saved", [])
    if not targets:
        return "nothing was written; run the same command again"
    left = [(t, o) for t, o in zip(targets, outs, strict=True) if o not in done]
    if not done:
        return (f"no folder was saved (what was at {_run['out']} is unchanged); run the same "
                "command again")
    if not left:
        return f"every folder was saved ({', '.join(map(str, done))}); nothing is left to do"
    option = "--levels" if left[0][0].level is not None else "--expansion"
    values = " ".join(f"{t.level if t.level is not None else t.expansion:g}" for t, _ in left)
    out = left[0][1] if len(left) == 1 else _run["out"]  # one target writes --out itself
    return (f"saved {', '.join(map(str, done))}; not saved: {', '.join(str(o) for _, o in left)}; "
            f"to finish, rerun the same command with {option} {values} --out {out} "
            "(the saved folders are kept)")
