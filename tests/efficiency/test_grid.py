"""The efficiency grid: which cells a model gets, and where paper prompts come from."""

import pytest

from repro.config.efficiency import load_config
from repro.core.errors import ReproError
from repro.efficiency import grid
from repro.efficiency.workloads import workloads


def test_prompt_source_falls_back_to_synthetic_offline_and_says_so(monkeypatch):
    cfg = load_config()

    def offline(w, seed, num_prompts=None):
        raise ConnectionError("Couldn't reach the Hub (offline)")

    monkeypatch.setattr(grid, "dataset_prompts", offline)
    assert grid.resolve_prompt_source("auto", cfg, True) == "synthetic"
    assert grid.resolve_prompt_source("synthetic", cfg, True) == "synthetic"
    with pytest.raises(ReproError, match="cannot be loaded"):
        grid.resolve_prompt_source("datasets", cfg, True)
    monkeypatch.setattr(grid, "dataset_prompts", lambda w, seed, num_prompts=None: ["a prompt"])
    assert grid.resolve_prompt_source("auto", cfg, True) == "datasets"
    assert grid.resolve_prompt_source("auto", cfg, False) == "synthetic"  # random weights: no tokenizer


def test_plan_skips_aligned_widths_equal_to_unaligned():
    cfg = load_config()
    wls = [w for w in workloads(cfg) if w.name == "prefill_p128_b1"]
    cells = grid.plan("llama-3.2-1b", "maw", [0, 40, 50], ["unaligned", "align64", "align128"], wls,
                    variant_kw={}, prompt_source="synthetic", width=8192)
    got = {(g.cell.level, g.cell.variant) for g in cells}
    # 8192 at 0% and 4096 at 50% are already multiples of 128: no aligned variant
    assert got == {(0.0, ""), (40.0, ""), (40.0, "align64"), (40.0, "align128"), (50.0, "")}


def test_a_cell_is_up_to_date_only_with_this_runs_tie_break_dtype_prompts_and_workloads():
    """What the executor compares (repro/grid/executor.py) is read from what every efficiency
    cell records, so cells written before the executor resume; a change in any of them (e.g.
    the old default tie-break, `stable`) remeasures the cell."""
    cfg = load_config()
    wl = next(w for w in workloads(cfg) if w.kind == "paper")
    stage = grid.EfficiencyStage({}, {}, cfg, device="cpu", dtype=None, tie_break="topk",
                                 random_weights=False, prompt_source="datasets", open_meter=None)

    def record(rule="topk", dtype="float32", source="datasets", config=None):
        return {"payload": {"dtype": dtype, "rows": []},
                "provenance": {"prune": {"tie_break": rule}, "prompt_source": source,
                               "config": config or cfg.record(paper=True)}}

    want = grid.settings(cfg, wl, tie_break="topk", dtype="float32", prompt_source="datasets")
    assert stage.recorded(record()) == want
    moved = dict(cfg.record(paper=True), path="/elsewhere/efficiency.yaml", sha256="0" * 64)
    assert stage.recorded(record(config=moved)) == want  # the file's place and comments: no matter
    reps = dict(cfg.record(paper=True), corrected={**cfg.record(paper=True)["corrected"], "repetitions": 99})
    for other in (record(rule="stable"), record(dtype="bfloat16"), record(source="synthetic"),
                  record(config=reps)):
        assert stage.recorded(other) != want
