"""The rehearsal profile is the paper profile: same models, neuron-selection models, stages and
order, with only what a CPU and tiny stand-ins need beside (the module docstring of
repro/rehearsal/cli.py), and the REHEARSAL mark."""

from __future__ import annotations

import pytest

from repro.config.pipeline import pipeline
from repro.core import rehearsal

pytestmark = pytest.mark.light


def test_the_rehearsal_profile_runs_what_the_paper_profile_runs():
    cfg = pipeline()
    paper, reh = cfg.profiles["paper"], cfg.profiles["rehearsal"]
    assert (reh.models, reh.selection_models, reh.stages) == (paper.models, paper.selection_models,
                                                             paper.stages)
    # the paper profile passes nothing extra to a stage; the rehearsal only preflight's CPU options
    # (no run-time estimate either: it would price the real models, not the tiny stand-ins)
    assert paper.extra == {} and reh.extra == {"preflight": ("--skip", "gpu", "--min-free-gb", "1",
                                                             "--no-estimate"),
                                               "efficiency": ("--profile", "quick", "--widths",
                                                              "unaligned")}
    assert reh.run_id == rehearsal.MARK and reh.env[rehearsal.ENV] == "1"
    assert reh.env["HF_HUB_OFFLINE"] == reh.env["HF_DATASETS_OFFLINE"] == "1"
    assert reh.out != paper.out


def test_the_mark_is_read_in_one_place(monkeypatch):
    monkeypatch.setenv(rehearsal.ENV, "1")
    assert rehearsal.active()
    monkeypatch.setenv(rehearsal.ENV, "0")
    assert not rehearsal.active()
    assert rehearsal.is_rehearsal_run("REHEARSAL") and not rehearsal.is_rehearsal_run("full")
