"""Every message says the truth and the fix: a run stopped by Ctrl-C or SIGTERM (what SLURM and
`docker stop` send) says what it saved and how to resume, and the resume it names works;
lm-eval's stages where lm-eval cannot run, and a file or an empty folder given as a model,
fail when the command line is read, in one line."""

from __future__ import annotations

import shutil

import pytest

from repro.cli import main
from repro.core import stack
from tests.faults.conftest import eval_argv, prune_argv
from tests.faults.harness import leftovers, ok, one_error_line, repro, snapshot

pytestmark = pytest.mark.integration


def _event_after(log, path) -> int:
    """The index of the file-system event just after the folder `path` was moved into place
    (the rename of its staging folder, `.<name>.<random>.<host>.<pid>.tmp`)."""
    events = [line.split("\t") for line in log.read_text().splitlines()]
    staged = f"{path.parent.resolve()}/.{path.name}."
    return next(int(n) for n, call, p in events if call == "replace" and p.startswith(staged)
                and "/" not in p[len(staged):]) + 1


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_a_stopped_prune_names_what_it_saved_and_the_resume_works(sig, fault_env, toy, ref_prune,
                                                                   tmp_path):
    ref = ref_prune[0]
    probe, real = tmp_path / "probe", tmp_path / "real"  # the same events in each
    probe.mkdir()
    real.mkdir()
    log = tmp_path / "events.log"
    ok(repro(prune_argv(toy, probe / "pruned"), roots=[probe], log=log))
    at = _event_after(log, probe / "pruned" / "maw-level10")
    out = real / "pruned"
    run = repro(prune_argv(toy, out), roots=[real], kill_at=at, REPRO_FAULT_SIGNAL=sig)
    line = one_error_line(run.err, run.rc, "saved")
    how = "interrupted (Ctrl-C)" if sig == "INT" else "stopped by SIGTERM"
    assert run.rc == (130 if sig == "INT" else 143) and line.startswith(f"error: {how}: saved ")
    assert f"not saved: {out / 'maw-level40'}" in line
    assert snapshot(out / "maw-level10") == snapshot(ref / "maw-level10")
    assert not (out / "maw-level40").exists() and leftovers(real) == []
    resume = line.split("rerun the same command with ")[1].split(" (the saved")[0].split()
    assert resume == ["--levels", "40", "--out", str(out / "maw-level40")]
    argv = prune_argv(toy, out)
    argv[argv.index("--levels") + 1: argv.index("--levels") + 3] = ["40"]
    argv[argv.index("--out") + 1] = resume[3]
    ok(repro(argv))  # the command it named finishes the job
    assert snapshot(out) == snapshot(ref)


@pytest.mark.slow
def test_sigterm_during_evaluate_keeps_the_cells_and_the_same_command_resumes(fault_env, toy,
                                                                            ref_eval, tmp_path):
    ref, events, _ = ref_eval
    out = tmp_path / "results"
    run = repro(eval_argv(toy, out), roots=[out], kill_at=events // 2, REPRO_FAULT_SIGNAL="TERM")
    line = one_error_line(run.err, run.rc, "stopped by SIGTERM")
    assert run.rc == 143 and f"kept under {out}; the same command resumes" in line
    assert leftovers(out) == []  # claims released, temporary files removed: SIGTERM unwinds
    ok(repro(eval_argv(toy, out)))
    assert sorted(p.relative_to(out) for p in out.rglob("*.json")) == \
        sorted(p.relative_to(ref) for p in ref.rglob("*.json"))


LM_EVAL_STAGES = {
    "evaluate": ["evaluate", "--models", "{toy}", "--suite", "smoke", "--results", "{w}"],
    "evaluate --dry-run": ["evaluate", "--models", "{toy}", "--suite", "smoke", "--results", "{w}",
                           "--dry-run"],
    "neuron-selection": ["neuron-selection", "--models", "{toy}", "--results", "{w}", "--dry-run"],
    "sensitivity": ["sensitivity", "--models", "{toy}", "--results", "{w}"],
    "extensions": ["extensions", "--models", "{toy}", "--results", "{w}", "--dry-run"],
}


@pytest.mark.parametrize("why", ["not installed", "beside transformers 5"])
@pytest.mark.parametrize("stage", list(LM_EVAL_STAGES))
def test_lm_evals_stages_name_the_install_when_it_cannot_run(stage, why, toy, tmp_path,
                                                              monkeypatch, capsys):
    if why == "not installed":
        monkeypatch.setattr(stack.importlib.util, "find_spec",
                            lambda name: None if name == "lm_eval" else shutil.which)
        needle = "lm-eval is not installed; pip install 'repro[run]'"
    else:
        real = stack._version
        monkeypatch.setattr(stack, "_version",
                            lambda d: "5.25.0" if d == "transformers" else real(d) or "0.4.9.1")
        needle = "cannot import beside transformers 5.25.0 (it needs 4.x); pip install 'repro[run]'"
    argv = [a.format(toy=toy, w=tmp_path / "w") for a in LM_EVAL_STAGES[stage]]
    rc = main(argv)
    one_error_line(capsys.readouterr().err, rc, needle)
    assert not (tmp_path / "w").exists()


def test_preflight_names_a_missing_lm_eval(monkeypatch, capsys):
    monkeypatch.setattr(stack.importlib.util, "find_spec", lambda name: None)
    assert main(["preflight", "--skip", "gpu", "disk", "hf", "data"]) == 2
    assert "FAIL lm-eval: lm-eval is not installed; pip install 'repro[run]'" in capsys.readouterr().out


@pytest.mark.parametrize("what", ["a file", "an empty folder", "a folder without config.json"])
@pytest.mark.parametrize("dry", [True, False])
def test_a_file_or_empty_folder_as_a_model_fails_when_the_command_is_read(what, dry, tmp_path,
                                                                          capsys):
    p = tmp_path / "m"
    if what == "a file":
        p.write_text("weights?")
        needle = "is a file, not a model folder"
    else:
        p.mkdir()
        if what == "an empty folder":
            needle = "is an empty folder"
        else:
            (p / "notes.txt").write_text("x")
            needle = "holds no config.json"
    argv = ["evaluate", "--models", str(p), "--suite", "smoke", "--results", str(tmp_path / "r")]
    rc = main(argv + (["--dry-run"] if dry else []))
    line = one_error_line(capsys.readouterr().err, rc, needle)
    assert "argument --models" in line  # the command line is refused, before anything runs
    assert not (tmp_path / "r").exists()
