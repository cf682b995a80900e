"""Allocations as named variants of evaluate cells: planning, names and refusals."""

from __future__ import annotations

import pytest

from repro.cli import main
from repro.config import models, suites
from repro.core.pruning import UNIFORM, Allocation
from repro.core.ties import rule_of
from repro.core.variant import Variant
from repro.evaluate.plan import ModelPlan, Settings
from repro.results.cells import Cell


def test_allocations_and_variants_round_trip():
    for base in (Variant(), Variant(chat=True), Variant(tie_break="stable"),
                 Variant(chat=True, tie_break="stable")):
        for alloc in (UNIFORM, Allocation("owl"), Allocation("spare", 3)):
            v = base.replace(allocation=alloc)
            back = Variant.parse(str(v))
            assert back == v and back.replace(allocation=UNIFORM) == base
            assert back.chat == base.chat and rule_of(str(v)) == rule_of(str(base))
    assert Variant.parse("fp16").allocation == UNIFORM and Variant.parse("fp16").dtype == "fp16"
    assert str(Variant(chat=True, allocation=Allocation("owl"))) == "chat-owl"
    assert str(Variant(chat=True, allocation=Allocation("owl"), tie_break="stable")) == "chat-owl-stable"


def test_allocation_cells_skip_the_unpruned_level_and_leave_the_paper_cells_alone():
    owl, spare3 = Allocation("owl"), Allocation("spare", 3)
    spec, tasks = models.get("smollm2-135m-instruct"), suites.resolve("smoke", ["smoke_ppl"])
    plan = ModelPlan(spec, tasks, [0.0, 10.0], [("maw", UNIFORM), ("maw", owl)])
    assert plan.cells() == sorted([Cell("evaluate", "smollm2-135m-instruct", "maw", lv, "smoke_ppl", v)
                                   for lv, v in ((0.0, ""), (10.0, ""), (10.0, "owl"))])
    plan = ModelPlan(spec, tasks, [0.0, 10.0], [("maw", spare3), ("l2", UNIFORM)])
    assert {(c.criterion, c.level, c.variant) for c in plan.cells()} == {
        ("maw", 0.0, ""), ("maw", 10.0, "spare3"), ("l2", 10.0, "")}
    plan.variants = [Variant(tie_break="stable")]  # the corrected tie-break's token stays last
    assert {c.variant for c in plan.cells()} == {"stable", "spare3-stable"}


def test_settings_of_calibrated_criteria_record_the_text():
    from repro.prune.criteria import CALIBRATED

    s = Settings(device="cpu", batch_size="8", limit=None, bootstrap_iters=0)
    spec = models.get("smollm2-135m-instruct")
    for crit in ("maw", "l2", "random", *CALIBRATED):
        assert ("calibration" in s.for_cell(spec, "float32", crit)) == (crit in CALIBRATED), crit
    assert s.for_cell(spec, "float32", "maw", allocation={"rule": "owl"})["allocation"] == {"rule": "owl"}


@pytest.mark.parametrize("argv, match", [
    (["evaluate", "--models", "smollm2-135m-instruct", "--allocations", "spare0"],
     "argument --allocations: unknown allocation 'spare0'"),
    (["evaluate", "--models", "smollm2-135m-instruct", "--levels", "10", "--tasks", "smoke_ppl",
      "--allocations", "spare3", "--dry-run"],
     "no complete sensitivity scan of smollm2-135m-instruct with criterion maw"),
    (["sensitivity", "--models", "smollm2-135m-instruct", "--levels", "0", "10", "--dry-run"],
     "level 0 (the unpruned model) is always measured"),
    (["extensions", "--models", "smollm2-135m-instruct", "--criteria", "vow", "--dry-run"],
     "--criteria vow matches no row"),
])
def test_bad_input_is_one_line(capsys, tmp_path, argv, match):
    rc = main([*argv, "--results", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and "\n" not in err and match in err, err


def test_lm_eval_environment_is_collected_once_per_process(monkeypatch):
    import lm_eval.evaluator as evaluator

    from repro.evaluate import runner

    calls = []

    def fake(storage):
        calls.append(1)
        storage.update(pretty_env_info=f"collected {len(calls)}", lm_eval_version="0.4.9.1")

    monkeypatch.setattr(evaluator, "add_env_info", fake)
    monkeypatch.setattr(runner, "_ENV_INFO", {})
    records = []
    for _ in range(3):
        with runner.env_info_once():
            rec = {"results": {}}
            evaluator.add_env_info(rec)
            records.append(rec)
    assert calls == [1] and records[0] == records[2] == {
        "results": {}, "pretty_env_info": "collected 1", "lm_eval_version": "0.4.9.1"}
    assert evaluator.add_env_info is fake  # restored after each call
