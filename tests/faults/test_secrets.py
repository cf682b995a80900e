"""The Hub token never reaches a command line (`ps` shows every argument to every user of a
shared node), a log or a result file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SBATCH = Path(__file__).resolve().parents[2] / "slurm" / "full-array.sbatch"
TOKEN = "hf_notARealTokenButLongEnough0123"


@pytest.mark.light
@pytest.mark.parametrize("finish", [False, True])
def test_slurm_passes_the_token_through_the_environment(tmp_path, finish):
    """A stand-in `apptainer` records what it was given: the token is in its environment
    (APPTAINERENV_HF_TOKEN, which --cleanenv passes into the container), not its arguments."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    fake = bin_ / "apptainer"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD.argv"\nenv > "$RECORD.env"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_}:{os.environ['PATH']}", "HF_TOKEN": TOKEN, "REPRO_OUT": str(tmp_path),
           "HOME": str(tmp_path), "RECORD": str(tmp_path / "call"),
           "SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}
    r = subprocess.run(["bash", str(SBATCH), *(["--finish"] if finish else [])], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    argv = (tmp_path / "call.argv").read_text()
    assert TOKEN not in argv and "HF_TOKEN" not in argv
    assert ("--shard\n2/4" in argv) != finish
    assert f"APPTAINERENV_HF_TOKEN={TOKEN}" in (tmp_path / "call.env").read_text().splitlines()
    assert TOKEN not in r.stdout + r.stderr
