"""repro/config/suites.yaml against repro/suites.py and the paper's configuration."""

from __future__ import annotations

import pytest

from repro import suites
from repro.errors import ReproError

PAPER13 = ["wikitext", "lambada_openai", "mmlu", "arc_challenge", "hellaswag", "winogrande",
           "piqa", "boolq", "truthfulqa_mc1", "truthfulqa_mc2", "gsm8k", "ifeval", "leaderboard_musr"]


def test_paper_suites():
    s = suites.load_suites()
    assert s["paper13"] == PAPER13
    assert sorted(s["instruct7"]) == sorted(["leaderboard_musr", "truthfulqa_mc1", "truthfulqa_mc2",
                                             "lambada_openai", "mmlu", "gsm8k", "ifeval"])
    assert s["neuron_selection"] == ["wikitext", "lambada_openai", "boolq", "piqa"]
    tasks = suites.load_tasks()
    shots = {t: tasks[t].shots for t in PAPER13}
    assert {t for t, n in shots.items() if n} == {"mmlu", "gsm8k"}
    assert shots["mmlu"] == shots["gsm8k"] == 5


def test_metrics_cover_the_tables():
    """Every metric the tables report (config/metrics.yaml) is kept by the suite."""
    import yaml

    from repro.suites import CONFIG

    tasks = suites.load_tasks()
    metrics = yaml.safe_load((CONFIG.parent / "metrics.yaml").read_text())
    for task, col in metrics["columns"].items():
        assert f"{col['metric']},{col['filter']}" in tasks[task].metrics, task
    assert "acc_norm,none" in tasks["piqa"].metrics  # the 3B table's PIQA
    assert tasks["leaderboard_musr"].subtasks


def test_smoke_suites_are_local():
    tasks = suites.load_tasks()
    for name in suites.load_suites()["smoke"]:
        assert tasks[name].local


def test_filter_and_unknown():
    got = suites.resolve("paper13", ["gsm8k", "mmlu"])
    assert [t.name for t in got] == ["mmlu", "gsm8k"]  # suite order
    with pytest.raises(ReproError, match="unknown task.*mmlu_pro"):
        suites.resolve("paper13", ["mmlu_pro"])
    with pytest.raises(ReproError, match="not in this suite"):
        suites.resolve("instruct7", ["hellaswag"])
    with pytest.raises(ReproError, match="unknown suite"):
        suites.resolve("paper14")


@pytest.mark.integration
@pytest.mark.slow
def test_paper_tasks_exist_in_pinned_lm_eval():
    """Every non-local task name is known to the installed (pinned) lm-eval."""
    from repro.evaluate import check_tasks_exist, task_manager

    specs = [t for t in suites.load_tasks().values() if not t.local]
    check_tasks_exist(task_manager(specs), specs)
