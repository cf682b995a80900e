"""`repro settings-diff` on the paper's own lm-eval task configurations (the rehearsal's tiny
Llama-3.2-1B stand-in and stand-in documents, offline): a group task (mmlu, 57 subtasks sharing
document ids), greedy generation with two filters (gsm8k), rolling perplexity (wikitext) and
multiple choice (hellaswag), each in both settings, compared request by request."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from repro.ops.settings_diff import table
from repro.rehearsal import sandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TASKS = ["mmlu", "gsm8k", "wikitext", "hellaswag"]


@pytest.fixture(scope="module")
def diffed(tmp_path_factory):
    box = tmp_path_factory.mktemp("settings") / "sandbox"
    sandbox.build(box, ["llama-3.2-1b"])
    sandbox.prefetch(box, TASKS)
    out = box.parent / "out"
    run = subprocess.run([sys.executable, "-m", "repro", "settings-diff", "--models", "llama-3.2-1b",
                          "--tasks", *TASKS, "--limit", "2", "--device", "cpu", "--out", str(out)],
                         env=sandbox.environment(box), cwd=box / "data", capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out, run.stdout


def test_every_task_is_compared_request_by_request(diffed):
    out, stdout = diffed
    rec = json.loads((out / "settings-diff.json").read_text())
    tasks = rec["models"]["llama-3.2-1b"]["levels"]["0"]
    assert set(tasks) == set(TASKS)
    # mmlu: 57 subtasks x 4 choices of the stand-in's one test document each (all doc_id 0: keyed
    # by document alone, they would collapse into 4)
    assert tasks["mmlu"]["kind"] == "loglikelihood" and tasks["mmlu"]["requests"] == 57 * 4
    assert tasks["hellaswag"]["requests"] == 2 * 4
    assert tasks["wikitext"]["requests"] == 2 and tasks["gsm8k"]["kind"] == "generation"
    assert tasks["gsm8k"]["requests"] == 2 and 0 <= tasks["gsm8k"]["outputs_differing"] <= 2
    for t in ("mmlu", "hellaswag", "wikitext"):
        c = tasks[t]
        assert c["max_abs_diff"] >= 0 and c["outside_tolerance"] <= c["requests"]
    # both filters' metric, fast - paper, each named
    assert "exact_match (strict-match) +" in tasks["gsm8k"]["metric_diff"]
    assert "exact_match (flexible-extract) +" in tasks["gsm8k"]["metric_diff"]
    assert rec["fast"]["token_budget"] > 0 and rec["limit"] == 2
    assert set(table(rec).splitlines()) <= set(stdout.splitlines())
    assert "generations differ" in stdout


def test_both_settings_cells_sit_side_by_side(diffed):
    out, _ = diffed
    root = out / "results" / "evaluate" / "llama-3.2-1b"
    assert {p.name for p in root.iterdir()} == {"maw", "maw-fast"}
    assert {p.stem for p in (root / "maw-fast" / "level-0").glob("*.json")} == set(TASKS)
