"""The rehearsal's estimate (`python -m repro rehearsal --dry-run`): under REPRO_REHEARSAL=1 the
estimate prices the tiny stand-ins and the stand-in tasks' sizes of repro/config/rehearsal.yaml,
and the sandbox's setup; outside it, the real shapes and sizes. Against a measured rehearsal:
benchmarks/estimate_check.py --profile rehearsal; the sizes against a rehearsal's own cells:
tests/rehearsal/test_rehearsal.py."""

from __future__ import annotations

import pytest

from repro.cli import main
from repro.config.costs import costs
from repro.config.efficiency import load_config
from repro.config.rehearsal import rehearsal_config
from repro.core import rehearsal
from repro.core.errors import ReproError
from repro.ops import cost_work
from repro.ops.cost_work import shape_of, task_cost
from tests.ops.test_estimate import paper_context

pytestmark = [pytest.mark.light]


@pytest.fixture
def rehearsing(monkeypatch):
    monkeypatch.setenv(rehearsal.ENV, "1")


def test_outside_a_rehearsal_the_real_shapes_and_sizes_are_priced(monkeypatch):
    monkeypatch.delenv(rehearsal.ENV, raising=False)
    assert (shape_of("llama-3.2-3b").hidden, shape_of("llama-3.2-3b").layers) == (3072, 28)
    assert task_cost("mmlu")[1] == 14042


def test_a_rehearsal_prices_the_stand_ins_shapes_and_sizes(rehearsing):
    s = shape_of("llama-3.2-3b")
    assert (s.hidden, s.intermediate, s.layers, s.vocab, s.kv_dim, s.tied) == (96, 256, 3, 600, 32, True)
    assert s.weight_bytes() < 1e6
    cfg = rehearsal_config()
    w = cost_work.evaluate_work(paper_context(), costs().settings["paper"])
    per_level = {"llama-3.2-1b": 13, "llama-3.2-3b": 13, "llama-3.2-1b-instruct": 7}
    levels = {"llama-3.2-1b": 7, "llama-3.2-3b": 7, "llama-3.2-1b-instruct": 4}
    assert w.cells == sum(per_level[m] * levels[m] for m in per_level) == 210
    from repro.config import models, suites

    want = sum(levels[m] * sum(cfg.tasks[t.name].items * cfg.tasks[t.name].requests
                               for t in suites.resolve(models.get(m).suite)) for m in levels)
    assert w.requests == want == 8600  # not the real 2.16 million
    assert w.subtasks == 18 * (56 + 2)  # beyond the first: mmlu's 57 subjects, musr's 3 splits (18 cells each)


def test_a_task_without_a_stand_in_size_fails_naming_the_file(rehearsing):
    with pytest.raises(ReproError, match="task 'smoke_mc' has no stand-in size in repro/config/rehearsal.yaml"):
        task_cost("smoke_mc")


def test_the_paper_protocol_runs_to_the_stand_ins_end_token(monkeypatch):
    ctx = paper_context(device="cpu", stages=("efficiency",))
    ctx = cost_work.Context(**{**ctx.__dict__, "extra": {"efficiency": {"profile": "quick",
                                                                        "widths": ["unaligned"]}}})
    monkeypatch.delenv(rehearsal.ENV, raising=False)
    real = cost_work.efficiency_work(ctx, costs().settings["paper"])
    monkeypatch.setenv(rehearsal.ENV, "1")
    tiny = cost_work.efficiency_work(ctx, costs().settings["paper"])
    assert tiny.cells == real.cells == 140
    cfg, eff = rehearsal_config(), load_config(profile="quick")
    want = 0
    for wl in eff.paper.workloads.values():  # per model and level: batch 1 and batch 8
        for b in eff.paper.batch_sizes:
            calls = -(-wl.num_prompts // b) * len(eff.paper.seeds)
            want += calls * b * cfg.new_tokens(wl.new_tokens, b)
    assert tiny.generated_tokens == 2 * 7 * want < real.generated_tokens


def test_the_rehearsals_dry_run_prices_its_sandbox_and_writes_nothing(rehearsing, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pipeline", "--profile", "rehearsal", "--dry-run", "--gpu", "h100", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in text.splitlines()
            if line.split() and line.split()[0] in ("sandbox", "evaluate", "tables")}
    assert rows["sandbox"][-2:] == [f"{rehearsal_config().setup_s / 60:.1f}", "min"]
    assert rows["evaluate"][1:3] == ["210", "8600"]
    assert not out.exists()


def test_the_rehearsal_profile_outside_its_sandbox_is_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(rehearsal.ENV, raising=False)
    rc = main(["pipeline", "--profile", "rehearsal", "--dry-run", "--gpu", "h100", "--out", str(tmp_path / "r")])
    assert rc == 2
    assert ("profile rehearsal runs tiny stand-ins in their sandbox: use `python -m repro rehearsal` "
            "(with --dry-run for its estimate)") in capsys.readouterr().err
