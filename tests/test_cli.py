"""The command line: every command's help, global options anywhere, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from repro.cli import COMMANDS, main


@pytest.mark.light
def test_top_level_help_lists_every_command(capsys):
    assert main([]) == 0 and main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(c in out for c in COMMANDS)


@pytest.mark.light
@pytest.mark.parametrize("command", ["pipeline", "aggregate", "analyze", "claims", "tables"])
def test_light_commands_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"usage: repro {command}" in capsys.readouterr().out


@pytest.mark.light
def test_quiet_works_before_and_after_the_command(tmp_path, capsys):
    data = str(tmp_path / "nowhere")
    for argv in (["-q", "analyze", "--data", data], ["analyze", "--data", data, "-q"],
                 ["analyze", "-q", "--data", data]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: no result CSV files under") and err.count("\n") == 1


@pytest.mark.light
def test_unknown_command_and_unknown_option_are_one_line(capsys):
    assert main(["bogus"]) == 2
    assert capsys.readouterr().err.startswith("error: argument command: invalid choice: 'bogus'")
    assert main(["tables", "--colour", "red"]) == 2
    err = capsys.readouterr().err
    assert err == "error: unrecognized arguments: --colour red (see repro tables --help)\n"


@pytest.mark.slow
def test_every_command_help_in_a_fresh_interpreter():
    """Each command's module imports and configures its parser (torch stages included)."""
    for command in COMMANDS:
        r = subprocess.run([sys.executable, "-m", "repro", command, "--help"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and f"usage: repro {command}" in r.stdout, (command, r.stderr)


FORKED = """
import multiprocessing, os, signal, time
from repro.cli import _sigterm_as_interrupt
_sigterm_as_interrupt()
ctx = multiprocessing.get_context("fork")  # as lm-eval's bootstrap pool forks its workers
ready = ctx.Event()
def idle():
    ready.set()
    time.sleep(60)
worker = ctx.Process(target=idle)
worker.start()
ready.wait(30)
os.kill(worker.pid, signal.SIGTERM)  # what a pool's terminate() sends its workers
worker.join(60)
print(worker.exitcode)
"""


@pytest.mark.light
def test_sigterm_stops_a_forked_worker_as_by_default():
    """The SIGTERM handler unwinds the kit's own process only: a forked worker has the default
    back and dies of the signal (exit -15) as multiprocessing expects (with the handler, a pool
    worker blocked on a lock never stopped, or unwound holding the pool's queue lock, and
    lm-eval's bootstrap hung the stage; found by the rehearsal)."""
    run = subprocess.run([sys.executable, "-c", FORKED], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "-15" and "Terminated" not in run.stderr, run.stderr[-2000:]
