"""kill -9 at random points of every stage, then a rerun: the result is the uninterrupted
run's, byte for byte, and what the kill left behind is only what the next run clears.

Kill points are random but seeded (REPRO_FAULT_SEED; REPRO_FAULT_POINTS for more of them):
either just before the n-th change the stage makes to its output folder (a temporary file
created or synced, a rename, a removal, a claim), n drawn from the reference run's count, or at
a random moment of the reference run's duration. After the kill: every cell or file present is
complete, the only other things are owner-tagged temporary files and claims; after the rerun:
none of those, and the same bytes as the reference.
"""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from repro.results import cells as cellio
from tests.faults.conftest import PUBLISHED, eval_argv, points, prune_argv
from tests.faults.harness import leftovers, ok, repro, rng, snapshot, visible

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def cell_view(root):
    """A results folder as comparable bytes: the file list; every cell's record without its
    provenance (run time and date differ between runs); every attachment's bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_dir():
            out[rel] = "<dir>"
        elif p.suffix == ".json":
            rec = json.loads(p.read_text())
            rec.pop("provenance", None)
            out[rel] = json.dumps(rec, sort_keys=True)
        elif p.name.endswith(".gz"):
            out[rel] = gzip.decompress(p.read_bytes())
        else:
            out[rel] = p.read_bytes()
    return out


def only_whole_cells(root, ref):
    """After a kill: every visible file is a whole cell (or its attachment or summary), as the
    reference has it; anything else is a tagged leftover the next run clears."""
    for rel in visible(root):
        p = root / rel
        if p.suffix == ".json":  # never truncated: the cell file is the commit point
            rec = json.loads(p.read_text())
            assert cellio.read(root, cellio.Cell(**rec["cell"])) is not None, p
        assert (ref / rel).exists(), rel


def only_whole_files(root, ref):
    """After a kill: every visible file is byte-identical to the reference's."""
    whole = snapshot(ref)
    for rel, digest in visible(root).items():
        assert digest == whole.get(rel), rel


def killed_then_resumed(argv, out, ref, *, at=0, after=0.0, check=only_whole_cells):
    run = repro(argv, roots=[out], kill_at=at, kill_after=after)
    assert run.rc in (-9, 0), run.err[-2000:]  # 0: the point fell after the last change
    left = leftovers(out)
    print(f"[fault] {argv[0]} killed (rc {run.rc}) at event {at or '-'} / {after:.1f} s; "
          f"left behind: {left or 'nothing'}")
    if out.exists():
        check(out, ref)
    ok(repro(argv))
    assert leftovers(out) == [], "the rerun left temporary files or claims behind"
    return run.rc, left


@pytest.mark.parametrize("kind", ["event", "moment"])
def test_evaluate(fault_env, toy, ref_eval, kind):
    ref, events, seconds = ref_eval
    cases = ([("event", i, 0.0) for i in points("evaluate", events, 1)] if kind == "event"
             else [("moment", 0, rng("evaluate-t").uniform(0.4, 0.95) * seconds)])
    for _, at, after in cases:
        out = fault_env / f"kill-eval-{kind}-{at}"
        rc, _ = killed_then_resumed(eval_argv(toy, out), out, ref, at=at, after=after)
        assert rc == -9 or kind == "moment"
        assert cell_view(out) == cell_view(ref)
        # the tidy data from it: the same rows, but for when each cell ran
        for r in (ref, out):
            ok(repro(["aggregate", "--results", str(r), "--out", str(r.parent / f"{r.name}-data"),
                      "--run-id", "x"]))
        assert tidy_view(out.parent / f"{out.name}-data") == tidy_view(ref.parent / f"{ref.name}-data")


def tidy_view(data):
    """aggregate's rows and per-document scores, without the times the cells ran."""
    from repro.results.samples import load_samples
    from repro.results.schema import load_dir

    return (load_dir(data).drop(columns="ran_at").to_csv(),
            load_samples(data).drop(columns="ran_at").to_csv())


def test_neuron_selection(fault_env, toy):
    argv = lambda r: ["neuron-selection", "--models", str(toy), "--suite", "smoke_neuron_selection",  # noqa: E731
                      "--tasks", "smoke_ppl", "--criteria", "random", "--limit", "1",
                      "--bootstrap-iters", "0", "--dtype", "float32", "--results", str(r)]
    ref = fault_env / "ref" / "ns"
    count = fault_env / "ns.count"
    ok(repro(argv(ref), roots=[ref], count=count))
    for at in points("neuron-selection", int(count.read_text()), 1):
        out = fault_env / f"kill-ns-{at}"
        assert killed_then_resumed(argv(out), out, ref, at=at)[0] == -9
        assert cell_view(out) == cell_view(ref)  # the summary table included


def test_prune(fault_env, toy, ref_prune):
    ref, events, _ = ref_prune
    for at in points("prune", events, 1):
        out = fault_env / f"kill-prune-{at}" / "pruned"
        out.parent.mkdir()
        rc, _ = killed_then_resumed(prune_argv(toy, out, "--overwrite"), out.parent, ref.parent,
                                    at=at, check=lambda o, r: only_whole_pruned(o, ref))
        assert rc == -9
        assert snapshot(out) == snapshot(ref)  # the whole folder: weights, tokenizer, sidecar


def only_whole_pruned(parent, ref):
    for level in ("maw-level10", "maw-level40"):
        if (parent / "pruned" / level).exists():
            assert snapshot(parent / "pruned" / level) == snapshot(ref / level), level


def test_prune_overwrite_killed_mid_replace(fault_env, toy, ref_prune):
    """--overwrite killed after the old folder was moved aside and before the new one moved in:
    the next run moves the old one back; it never finds half a model."""
    ref, _, _ = ref_prune
    out = fault_env / "kill-overwrite" / "pruned"
    shutil.copytree(ref, out)
    log = fault_env / "overwrite.log"
    ok(repro(prune_argv(toy, out, "--overwrite"), roots=[out.parent], log=log))
    events = [line.split("\t") for line in log.read_text().splitlines()]
    final = str((out / "maw-level40").resolve())
    aside = next(int(n) for n, call, path in events if call == "replace" and path == final)
    run = repro(prune_argv(toy, out, "--overwrite"), roots=[out.parent], kill_at=aside + 1)
    assert run.rc == -9
    assert not (out / "maw-level40").exists()  # the kill fell between the two renames
    assert [p for p in leftovers(out) if ".old-" in p], leftovers(out)
    r = repro(prune_argv(toy, out))  # without --overwrite: the old folder is back, and kept
    assert r.rc == 2 and "--overwrite" in r.err
    assert snapshot(out) == snapshot(ref) and leftovers(out) == []


def test_efficiency(fault_env, toy):
    from tests.efficiency.test_protocols import small_config

    cfg = small_config(fault_env)
    argv = lambda r: ["efficiency", "--models", str(toy), "--device", "cpu", "--config", str(cfg),  # noqa: E731
                      "--levels", "0", "40", "--protocols", "corrected", "--widths", "unaligned",
                      "--workloads", "prefill_p8_b1", "decode_p8_n4_b1", "--results", str(r)]
    ref = fault_env / "ref" / "eff"
    count = fault_env / "eff.count"
    ok(repro(argv(ref), roots=[ref], count=count))
    at = points("efficiency", int(count.read_text()), 1)[0]
    out = fault_env / f"kill-eff-{at}"
    assert killed_then_resumed(argv(out), out, ref, at=at)[0] == -9

    def measured_free(root):  # timings differ between any two runs; everything else may not
        view = {}
        for p in sorted(root.rglob("*.json")):
            pay = json.loads(p.read_text())["payload"]
            view[p.relative_to(root).as_posix()] = (
                pay["workload"], pay["model_info"], pay["labels"],
                sorted((r["metric"], r["unit"]) for r in pay["rows"]))
        return view

    assert measured_free(out) == measured_free(ref)


def test_aggregate(fault_env, ref_eval):
    argv = lambda o: ["aggregate", "--results", str(ref_eval[0]), "--out", str(o), "--run-id", "r"]  # noqa: E731
    ref = fault_env / "ref" / "agg"
    count = fault_env / "agg.count"
    ok(repro(argv(ref), roots=[ref], count=count))
    for at in points("aggregate", int(count.read_text()), 3):
        out = fault_env / f"kill-agg-{at}"
        assert killed_then_resumed(argv(out), out, ref, at=at, check=only_whole_files)[0] == -9
        assert snapshot(out) == snapshot(ref)


def test_tables(fault_env, ref_data, ref_tables):
    """Killing `tables` (15 of 41 tries left a 0-byte PDF before figures went through the atomic
    writer): every file present after the kill is whole, and the rerun is byte-identical."""
    ref, events, seconds = ref_tables
    cases = [(at, 0.0) for at in points("tables", events, 2)]
    cases.append((0, rng("tables-t").uniform(0.3, 0.95) * seconds))
    for at, after in cases:
        out = fault_env / f"kill-tables-{at}-{after:.2f}" / "generated"
        out.parent.mkdir()  # the output set is staged beside --out, then swapped in
        killed_then_resumed(["tables", "--data", str(ref_data), "--out", str(out)], out.parent,
                            ref.parent, at=at, after=after,
                            check=lambda o, r: only_whole_files(o / "generated", ref))
        assert snapshot(out) == snapshot(ref)


def test_pipeline(fault_env, ref_eval):
    """Killing the pipeline kills the stage it runs (no orphan left computing beside the
    rerun), and the rerun's data and report are the uninterrupted run's bytes."""
    import subprocess
    import time

    def prepared(name):
        out = fault_env / name
        shutil.copytree(ref_eval[0], out / "results")
        return out

    argv = lambda out: ["pipeline", "--profile", "smoke", "--stages", "aggregate", "tables",  # noqa: E731
                        "--out", str(out), "--published", str(PUBLISHED)]
    ref = prepared("pipe-ref")
    ok(repro(argv(ref)))
    out = prepared("pipe-killed")
    import os
    import signal
    import sys

    from tests.faults.harness import env

    proc = subprocess.Popen([sys.executable, "-m", "repro", "-q", *argv(out)], env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stage = f"tables --data {out}"
    deadline = time.monotonic() + 120
    while stage not in subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout:
        assert proc.poll() is None and time.monotonic() < deadline, "the tables stage never started"
        time.sleep(0.05)
    time.sleep(rng("pipeline-t").uniform(0.0, 1.0))  # somewhere in the tables stage
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    assert stage not in ps, "a stage outlived the killed pipeline"
    killed = proc.returncode
    print(f"[fault] pipeline killed (rc {killed}) during tables; left behind: {leftovers(out) or 'nothing'}")
    ok(repro(argv(out)))
    for part in ("data", "generated"):
        assert snapshot(out / part) == snapshot(ref / part), part
    assert leftovers(out) == []
