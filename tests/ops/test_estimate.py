"""The run-time estimate: what each stage computes (counted from the stages' planners and the
configuration), the GPU table's roofline, the pricing of adaptive repetitions, and the
pipeline's --dry-run end to end. Accuracy against measured runs: benchmarks/estimate_check.py."""

from __future__ import annotations

import json
import math

import pytest

from repro.cli import main
from repro.config.costs import costs
from repro.config.efficiency import load_config
from repro.config.pipeline import pipeline
from repro.ops import cost_work
from repro.ops.cost_rates import Line, ModelRate, Rates, table_rates
from repro.ops.cost_work import Context, Job, shape_of
from repro.ops.estimate import estimate, extra_args, price, request_s

pytestmark = [pytest.mark.light, pytest.mark.usefixtures("online")]
PAPER = ("llama-3.2-1b", "llama-3.2-3b", "llama-3.2-1b-instruct")


def paper_context(device="cuda", stages=("neuron-selection", "evaluate", "efficiency")):
    return Context(models=PAPER, selection_models=("llama-3.2-1b",),
                   efficiency_models=PAPER[:2], levels=None, extra={}, device=device,
                   stages=stages)


def test_paper_profile_counts():
    ctx, paper = paper_context(), costs().settings["paper"]
    ev = cost_work.evaluate_work(ctx, paper)
    assert ev.cells == 7 * 13 + 7 * 13 + 4 * 7  # 1B, 3B (paper13), 1B-Instruct (instruct7)
    assert ev.lm_eval_cells == ev.cells
    # MMLU: 14,042 documents x 4 requests, one forward each (one-token continuations share it)
    one = cost_work.StageWork("x")
    one.add_lm_eval("llama-3.2-1b", 0.0, "mmlu", paper, "cuda", 2048)
    assert one.requests == 14042 * 4 and one.jobs[0].count == 14042 and one.jobs[0].batch == 1
    ns = cost_work.neuron_selection_work(ctx, paper)
    assert ns.cells == (1 + 7) * 4  # baseline and seven criteria at 10%, four tasks
    eff = cost_work.efficiency_work(ctx, paper)
    # per model: 7 levels x 12 workloads unaligned + 6 corrected workloads x 2 alignments at the
    # 5 levels whose kept width is not already a multiple of 128 (50% of 8192 is 4096)
    assert eff.cells == 2 * (7 * 12 + 6 * 2 * 5)
    assert eff.sleep_s == pytest.approx(35.0)  # one settle + 30 s calibration per session
    assert eff.written == 0  # its records are small JSONs: no samples to gzip and hash


def test_generation_runs_to_the_batch_longest_member_in_the_fast_setting():
    c, s = costs(), costs().settings
    for model, batch in (("llama-3.2-1b", 128), ("llama-3.2-3b", 55)):  # the KV budget's sizes
        w1, wb = cost_work.StageWork("x"), cost_work.StageWork("x")
        w1.add_lm_eval(model, 0.0, "ifeval", s["paper"], "cuda", 2048)
        wb.add_lm_eval(model, 0.0, "ifeval", s["fast"], "cuda", 2048)
        dec1 = next(j for j in w1.jobs if j.kind == "decode")
        decb = next(j for j in wb.jobs if j.kind == "decode")
        assert dec1.count == 541 * c.task("ifeval").generated and dec1.batch == 1
        assert decb.count == math.ceil(541 / batch) * 1280 and decb.batch == batch
        assert w1.generated_tokens == wb.generated_tokens  # the same answers, counted once


def test_the_fast_setting_is_priced_as_it_batches():
    from repro.config.evaluation import evaluation

    fast, paper, f = costs().settings["fast"], costs().settings["paper"], evaluation().fast
    mmlu, hella = costs().task("mmlu"), costs().task("hellaswag")
    assert fast.batch("loglikelihood", mmlu.tokens) == f.token_budget // int(mmlu.tokens)  # 25
    assert fast.batch("loglikelihood", hella.tokens) == f.max_batch_size  # short: capped
    assert fast.batch("loglikelihood", 10 * f.token_budget) == 1  # longer than the budget: alone
    one_b = shape_of("llama-3.2-1b").kv_bytes_per_token()
    assert fast.batch("generate", 834 + 256, one_b) == f.generate_batch_size  # gsm8k: capped
    assert fast.batch("generate", 10 ** 6, one_b) == 1  # a cache past the budget: alone
    assert fast.batch("rolling", 4680) == f.rolling_batch_size
    assert {paper.batch(k, 100) for k in ("loglikelihood", "generate", "rolling")} == {1}


def test_rolling_windows_follow_max_length():
    s = costs().settings["paper"]
    short, whole = cost_work.StageWork("x"), cost_work.StageWork("x")
    short.add_lm_eval("llama-3.2-1b", 0.0, "wikitext", s, "cuda", 2048)
    whole.add_lm_eval("llama-3.2-1b", 0.0, "wikitext", s, "cuda", 131072)
    assert short.jobs[0].count == pytest.approx(62 * 4680 / 2048)
    assert whole.jobs[0].count == 62  # the paper's setting: one window per document
    assert short.prompt_tokens == whole.prompt_tokens == 62 * 4680


def test_gpu_table_matches_names_and_the_papers_l4_timings():
    c = costs()
    for name, key in [("NVIDIA H100 80GB HBM3", "h100"), ("NVIDIA L4", "l4"), ("NVIDIA L40S", "l40s"),
                      ("NVIDIA A100-SXM4-80GB", "a100"), ("NVIDIA A10G", "a10g")]:
        assert c.device_for(name)[0] == key, name
    assert c.device_for("Some Other GPU") is None
    l4 = table_rates("l4")
    # the paper's Colab L4: 1B about 19-20 ms and 3B 33-35 ms per generated token at batch 1
    assert 0.016 < l4.decode_s(shape_of("llama-3.2-1b"), 0.0, 1) < 0.024
    assert 0.028 < l4.decode_s(shape_of("llama-3.2-3b"), 0.0, 1) < 0.045
    h100 = table_rates("h100")
    assert 0.008 < h100.decode_s(shape_of("llama-3.2-1b"), 0.0, 1) < 0.013  # gpu-cost.md: ~10 ms
    # pruning shrinks the compute-bound part
    big = h100.forward_s(shape_of("llama-3.2-1b"), 0.0, 64, 1024)
    assert h100.forward_s(shape_of("llama-3.2-1b"), 60.0, 64, 1024) < 0.8 * big
    with pytest.raises(Exception, match="not in repro/config/costs.yaml"):
        table_rates("tpu-v5")


def test_paper_profile_on_an_h100_is_the_documented_order_of_magnitude():
    got = estimate(["neuron-selection", "evaluate", "efficiency"], paper_context(), table_rates("h100"))
    ev = got["evaluate"].hours
    # reference/gpu-cost.md: ~50 h at batch 1 (IFEval and GSM8K one sequence at a time), ~3.6 h
    # with batching; the estimate's +-40%
    assert 30 < ev["paper"] < 80 and 2 < ev["fast"] < 6
    assert got["efficiency"].hours["paper"] < 5  # was ~10.9 h before issue 19


def rates_for(model, fwd=(0.01, 1e-5), dec=(0.02, 0.001)):
    return Rates(source="test", device="cuda", device_name="x", stage_start_s=10.0, cell_s=1.0,
                 request_ms=1.0, load_s_per_gb=1.0,
                 models={model: ModelRate(Line(*fwd), Line(*dec), shape_of(model).params())})


def test_adaptive_repetitions_are_priced_as_they_run():
    eff = load_config()
    shape = shape_of("llama-3.2-1b")
    r = rates_for("llama-3.2-1b", fwd=(0.01, 0.0), dec=(0.0, 0.0))  # a 10 ms request
    job = Job("request", "llama-3.2-1b", 0.0, 1, 1, 128, 1, warmups=2, metered=False)
    # min 5 reps and min 2 s: 200 reps of 10 ms, plus 2 warm-ups
    assert request_s(job, shape, r, eff) == pytest.approx(202 * 0.01)
    slow = rates_for("llama-3.2-1b", fwd=(1.0, 0.0), dec=(0.0, 0.0))  # 1 s: the minimum decides
    assert request_s(job, shape, slow, eff) == pytest.approx(7 * 1.0)
    metered = Job("request", "llama-3.2-1b", 0.0, 1, 1, 128, 1, warmups=2, metered=True)
    # energy: 5 blocks of >= 1 s (energy.min_window_s)
    assert request_s(metered, shape, r, eff) == pytest.approx(202 * 0.01 + 5 * 1.0)


def test_price_adds_starts_loads_cells_and_work():
    r = rates_for("llama-3.2-1b", fwd=(0.5, 0.0))
    w = cost_work.StageWork("evaluate", cells=3, written=3, starts=1, loads=["llama-3.2-1b"],
                            lm_eval_cells=3, lm_eval_requests=1000)
    w.jobs.append(Job("forward", "llama-3.2-1b", 0.0, 10, 1, 100))
    load = shape_of("llama-3.2-1b").weight_bytes() / 1e9
    kit = 3 * costs().host.kit_cell_s  # the kit's own writing per cell (host_factor 1)
    assert price(w, r, load_config()) == pytest.approx(10 + load + 3 * 1.0 + 1.0 + kit + 10 * 0.5)


def test_smoke_profile_work_reads_its_stage_arguments():
    prof = pipeline().profiles["smoke"]
    extra = {s: extra_args(a) for s, a in prof.extra.items()}
    assert extra["sensitivity"] == {"levels": [40.0], "tasks": ["smoke_mc"], "limit": 4}
    ctx = Context(models=("smollm2-135m-instruct",), selection_models=("smollm2-135m-instruct",),
                  efficiency_models=("smollm2-135m-instruct",), levels=prof.levels, extra=extra,
                  device="cpu", stages=prof.stages)
    s = costs().settings["fast"]
    assert cost_work.neuron_selection_work(ctx, s).cells == (1 + 3) * 2
    assert cost_work.evaluate_work(ctx, s).cells == 2 * 4
    sens = cost_work.sensitivity_work(ctx, s)
    assert sens.cells == 2 * 30 * 2 and sens.lm_eval_cells == 1 + 30  # baseline + each layer
    assert sens.lm_eval_requests == 31 * 4 * 4  # 4 documents, 4 choices
    # the extensions' maw rows at 0 and 40% are evaluate's cells: six rows left at 40%
    assert cost_work.extensions_work(ctx, s).cells == 6
    eff = cost_work.efficiency_work(ctx, s)
    assert eff.cells == 5 + 5 + 3 and eff.sleep_s == 0  # align64 at 40%: corrected only; CPU: no idle


def test_smoke_task_costs_match_the_built_task_files(tmp_path):
    from repro.evaluate.tasks.build import build

    root = build(tmp_path)
    data = root / "data"
    lines = {p.stem: sum(1 for _ in p.open()) for p in data.glob("*.jsonl")}
    c = costs()
    assert c.items("smoke_mc") == lines["smoke_mc"] and c.items("smoke_ppl") == lines["smoke_ppl"]
    assert c.items("smoke_gen") == lines["smoke_gen_test"]
    assert c.items("smoke_ifeval") == lines["smoke_ifeval"]
    docs = [json.loads(x) for x in (data / "smoke_mc.jsonl").open()]
    assert c.task("smoke_mc").requests == pytest.approx(
        sum(len(d["choices"]) for d in docs) / len(docs))
    for task in ("smoke_gen", "smoke_ifeval"):
        text = (root / f"{task}.yaml").read_text()
        assert f"max_gen_toks: {c.task(task).max_gen}" in text
    # the rolling task's documents: about 4 characters a token (SmolLM2's tokenizer: 948 and 372)
    chars = sum(len(json.loads(x)["page"]) for x in (data / "smoke_ppl.jsonl").open())
    assert 3.0 < chars / (2 * c.task("smoke_ppl").tokens) < 5.0


def test_every_suite_task_has_a_cost_entry_and_an_item_count():
    from repro.config import suites

    for name in suites.load_tasks():
        assert costs().items(name) > 0 and costs().task(name).tokens > 0


def test_pipeline_dry_run_prints_the_estimate_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pipeline", "--profile", "paper", "--dry-run", "--gpu", "h100", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "== pipeline: evaluate: repro evaluate --models llama-3.2-1b llama-3.2-3b" in text
    assert "efficiency --models llama-3.2-1b llama-3.2-3b --results" in text  # the paper's two
    assert "ESTIMATE, not measured" in text and "table row 'h100'" in text
    row = next(line for line in text.splitlines() if line.startswith("evaluate "))
    assert row.split()[1] == "210"
    assert not out.exists()  # nothing ran, nothing written


def test_preflight_prints_the_estimate_from_selftest_json_after_its_checks_pass(tmp_path, capsys):
    pytest.importorskip("torch")
    import argparse

    import torch

    from repro.ops import preflight as pf
    from tests.ops.test_preflight import probes

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: its own rates would be measured")
    rates = rates_for("llama-3.2-1b")
    rec = rates.record()
    rec.update(device="cpu", threads=None, source="the self-test of a test")
    rec["models"] = {m: rec["models"]["llama-3.2-1b"] for m in PAPER}
    (tmp_path / "selftest.json").write_text(json.dumps({"rates": rec}))
    args = argparse.Namespace(models=None, results=tmp_path, skip=[], min_free_gb=None,
                              no_estimate=False, selftest=tmp_path / "selftest.json")
    assert pf.run(args, probes()) == 0
    out = capsys.readouterr().out
    assert "preflight: all checks passed" in out and "== estimate:" in out
    assert f"rates: {tmp_path / 'selftest.json'} (the self-test of a test)" in out
    assert next(x for x in out.splitlines() if x.startswith("evaluate ")).split()[1] == "210"
    args.no_estimate = True
    assert pf.run(args, probes()) == 0 and "== estimate:" not in capsys.readouterr().out


def test_requests_are_built_once_per_model_and_task_and_priced_once():
    """lm-eval's building of requests (prompts, tokens) is reused at later levels
    (repro/evaluate/level_free.py): the estimate charges its tokens at the first level only."""
    from repro.config import models, suites

    ctx, paper = paper_context(), costs().settings["paper"]
    ev = cost_work.evaluate_work(ctx, paper)
    want = sum(costs().items(t.name) * costs().task(t.name).requests * costs().task(t.name).tokens
               for m in PAPER for t in suites.resolve(models.get(m).suite))
    assert ev.built_tokens == pytest.approx(want)
    one_level = cost_work.evaluate_work(Context(**{**ctx.__dict__, "levels": (0.0,)}), paper)
    assert one_level.built_tokens == ev.built_tokens and one_level.requests < ev.requests
    h100 = table_rates("h100")
    assert price(ev, h100, load_config()) - price(cost_work.StageWork("evaluate", built_tokens=0.0, **{
        k: getattr(ev, k) for k in ("cells", "requests", "jobs", "lm_eval_cells", "lm_eval_requests",
                                    "subtasks", "written", "written_gb", "rankings", "ranked_gb",
                                    "loads")}), h100, load_config()) == pytest.approx(
        want * costs().host.build_us_per_token / 1e6)


def test_the_corrected_protocol_alone_is_priced_beside_the_whole_run(tmp_path, capsys):
    """The efficiency stage's `--protocols` is read; the dry run also prints the fast setting
    with the corrected protocol only (the paper protocol's workloads left out)."""
    ctx, fast = paper_context(), costs().settings["fast"]
    lean = Context(**{**ctx.__dict__, "extra": {"efficiency": {"protocols": ["corrected"]}}})
    whole, corrected = cost_work.efficiency_work(ctx, fast), cost_work.efficiency_work(lean, fast)
    assert (whole.cells, corrected.cells) == (288, 2 * (7 * 6 + 6 * 2 * 5))
    h100, eff = table_rates("h100"), load_config()
    got = estimate(["neuron-selection", "evaluate", "efficiency"], ctx, h100)
    want = (got["neuron-selection"].hours["fast"] + got["evaluate"].hours["fast"]
            + price(corrected, h100, eff) / 3600)
    assert main(["pipeline", "--profile", "paper", "--dry-run", "--gpu", "h100", "--out",
                 str(tmp_path / "r"), "--estimate-json", str(tmp_path / "e.json")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "corrected protocol only" in x)
    assert line.endswith(f"{want:.1f} h")
    rec = json.loads((tmp_path / "e.json").read_text())
    tables = rec["stages"]["tables"]["seconds"]["fast"] + rec["stages"]["aggregate"]["seconds"]["fast"]
    assert rec["fast_corrected_only_s"] == pytest.approx(want * 3600 + tables, rel=1e-3)
