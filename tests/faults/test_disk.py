"""Full and read-only disks: a destination that cannot take the output is refused before any
heavy work; a disk that fills up during the run ends in one `error:` line and leaves only
whole files (no orphan samples, no temporary files), and the rerun on a disk with room
finishes the job byte for byte.

Real disks: a small tmpfs mounted in a private user namespace (unshare), where the machine
allows it; everywhere: ENOSPC injected at a random file-system event of the run
(tests/faults/shim/sitecustomize.py).
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import eval_argv, points, prune_argv
from tests.faults.harness import (
    in_small_tmpfs,
    leftovers,
    ok,
    one_error_line,
    repro,
    snapshot,
    tmpfs_available,
)
from tests.faults.test_kill import cell_view, only_whole_cells, only_whole_files

pytestmark = [pytest.mark.slow, pytest.mark.integration]
needs_tmpfs = pytest.mark.skipif(not tmpfs_available(),
                                 reason="no user namespaces here: the injected ENOSPC tests stand in")


def orphans(root):
    """Attachments (samples) without their cell: what a full disk left before."""
    return [p for p in root.rglob("*.jsonl.gz") if not p.with_name(p.name.split(".")[0] + ".json").exists()]


@needs_tmpfs
def test_prune_onto_a_small_disk_is_refused_before_loading(toy, tmp_path):
    disk = tmp_path / "disk"
    r = in_small_tmpfs(disk, "256k", prune_argv(toy, disk / "pruned"))
    one_error_line(r.err, r.rc, "the pruned model(s) need about")
    assert snapshot(tmp_path / "disk.after") == {}


@needs_tmpfs
@pytest.mark.parametrize("stage", ["prune", "evaluate", "aggregate", "tables"])
def test_read_only_destination_is_refused_first(stage, toy, ref_eval, ref_data, tmp_path):
    disk = tmp_path / "ro"
    argv = {"prune": prune_argv(toy, disk / "pruned"),
            "evaluate": eval_argv(toy, disk / "results"),
            "aggregate": ["aggregate", "--results", str(ref_eval[0]), "--out", str(disk / "d")],
            "tables": ["tables", "--data", str(ref_data), "--out", str(disk / "g")]}[stage]
    r = in_small_tmpfs(disk, "1m", argv, ro=True)
    one_error_line(r.err, r.rc, "is not writable (Read-only file system)")


@needs_tmpfs
def test_evaluate_when_the_disk_fills_up(toy, ref_eval, tmp_path):
    disk = tmp_path / "disk"
    r = in_small_tmpfs(disk, "28k", eval_argv(toy, disk / "results"))
    one_error_line(r.err, r.rc, "No space left on device")
    after = tmp_path / "disk.after" / "results"
    assert leftovers(after) == [] and orphans(after) == []
    only_whole_cells(after, ref_eval[0])


@needs_tmpfs
def test_tables_when_the_disk_fills_up(ref_data, ref_tables, tmp_path):
    disk = tmp_path / "disk"
    r = in_small_tmpfs(disk, "160k", ["tables", "--data", str(ref_data), "--out", str(disk / "g")])
    one_error_line(r.err, r.rc, "No space left on device")
    after = tmp_path / "disk.after" / "g"
    assert leftovers(after) == []
    only_whole_files(after, ref_tables[0])  # a truncated PDF before: never now


@pytest.mark.parametrize("stage", ["evaluate", "aggregate", "tables"])
def test_injected_enospc_then_resume(stage, fault_env, toy, ref_eval, ref_data, ref_tables, tmp_path):
    out = tmp_path / "out"
    argv, ref = {
        "evaluate": (eval_argv(toy, out), ref_eval[0]),
        "aggregate": (["aggregate", "--results", str(ref_eval[0]), "--out", str(out), "--run-id", "toy-run"],
                      ref_data / "reproduction"),
        "tables": (["tables", "--data", str(ref_data), "--out", str(out)], ref_tables[0]),
    }[stage]
    events = {"evaluate": ref_eval[1], "tables": ref_tables[1]}.get(stage)
    if events is None:  # a first run counts them; the disk fills at one of its writes (a
        log, counted = tmp_path / "log", tmp_path / "counted"  # rename allocates nothing)
        ok(repro([a.replace(str(out), str(counted)) for a in argv], roots=[counted], log=log))
        writes = [int(n) for n, call, _ in (ln.split("\t") for ln in log.read_text().splitlines())
                  if call in ("open", "write", "fsync")]
        at = writes[points(f"enospc-{stage}", len(writes), 1)[0] - 1]
    else:
        at = points(f"enospc-{stage}", events, 1)[0]
    roots = [out.parent] if stage == "tables" else [out]  # tables stages its set beside --out
    r = repro(argv, roots=roots, enospc_at=at)
    one_error_line(r.err, r.rc, "No space left on device")
    assert leftovers(out) == [] and orphans(out) == []
    (only_whole_cells if stage == "evaluate" else only_whole_files)(out, ref)
    ok(repro(argv))
    if stage == "evaluate":
        assert cell_view(out) == cell_view(ref)
    else:
        assert snapshot(out) == snapshot(ref)


def test_a_full_disk_inside_save_pretrained_is_one_line(tmp_path):
    """safetensors reports ENOSPC as its own error type, with the OS code in its text."""
    from repro.core.errors import ReproError
    from repro.prune.save import _save_error

    rust = Exception("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                     'message: "No space left on device" })')
    assert isinstance(_save_error(tmp_path / "out", rust), ReproError)
    other = ValueError("a kit bug")
    assert _save_error(tmp_path / "out", other) is other  # anything else keeps its traceback
