"""The paper's protocol (notebook 03_Evaluate_*_CARBON): greedy generate() that stops at EOS,
whole-call time at batch 1 and 8, its seeds and prompt selection, its padded token counts, its
idle power (calibrated once per session, 30 s) and its J/token outlier filter, so its figures
compare like for like; plus the real token counts and, across levels, the breakdown of latency
changes into output length and per-token speed (repro/results).
"""

from __future__ import annotations

from repro.efficiency.bench import Bench, idle_baseline
from repro.efficiency.energy import Reading, net_energy_j, per_unit
from repro.efficiency.prompts import (
    dataset_prompts,
    eos_set,
    left_pad,
    paper_new_tokens,
    real_new_tokens,
    special_ids,
    synthetic_prompts,
)
from repro.efficiency.timing import warmup_count
from repro.efficiency.workloads import Workload


def paper_prompt_rows(bench: Bench, wl: Workload, seed: int) -> list[list[int]]:
    w = bench.cfg.paper.workloads[wl.source]
    if bench.prompt_source == "datasets":
        texts = dataset_prompts(w, seed)
        return [bench.tokenizer(t)["input_ids"] for t in texts]
    return synthetic_prompts(w, seed, bench.vocab_size, special_ids(bench.model, bench.tokenizer))


def run_paper_workload(bench: Bench, wl: Workload) -> dict:
    """The notebook's protocol, one run per seed; every call timed whole, as the paper did, but
    synchronised; energy over the measured calls only (and, for comparison, the whole run)."""
    import torch

    p = bench.cfg.paper
    eos = eos_set(bench.model, bench.tokenizer)
    pad = min(eos) if eos else 0   # the paper: pad_token_id = eos_token_id
    runs = []
    for seed in p.seeds:
        prompts = paper_prompt_rows(bench, wl, seed)
        batches = [prompts[i:i + wl.batch_size] for i in range(0, len(prompts), wl.batch_size)]
        n_warm = warmup_count(len(batches))
        torch.manual_seed(seed)
        warm_s: list[float] = []
        e_start, t_start = bench.meter.energy_j(), bench.clock()

        def call(ids, mask):
            with torch.inference_mode():
                return bench.model.generate(input_ids=ids, attention_mask=mask,
                                            max_new_tokens=wl.new_tokens, do_sample=False,
                                            pad_token_id=pad)

        def inputs(rows):  # tokenised already; padding is host work between calls, as the paper's
            ids, mask = left_pad(rows, pad, p.truncation if wl.batch_size > 1 else None)
            return ids.to(bench.device), mask.to(bench.device)

        for rows in batches[:n_warm]:
            ids, mask = inputs(rows)
            warm_s.append(bench.timer.time(lambda ids=ids, mask=mask: call(ids, mask))[0])
        # the session's idle calibration (30 s once, as the paper), not a sleep per seed
        base = idle_baseline(bench) if bench.meter.available else None
        idle = base.session() if base else bench.meter.idle(0.0)
        passes: list[list[dict]] = []

        def measured(todo=batches[n_warm:], passes=passes):
            """The measured calls, repeated whole until the energy window is long enough for
            the counter (the first pass's figures are the paper's; the others only add energy)."""
            t0 = bench.clock()
            while not passes or (bench.meter.available
                                 and bench.clock() - t0 < bench.cfg.energy.min_window_s):
                passes.append([])
                for rows in todo:
                    ids, mask = inputs(rows)
                    s, out = bench.timer.time(lambda ids=ids, mask=mask: call(ids, mask))
                    real = real_new_tokens(out[:, ids.shape[1]:], eos)
                    passes[-1].append({
                        "seconds": s, "rows": len(rows), "input_len": int(ids.shape[1]),
                        "output_len": int(out.shape[1]), "real_tokens": sum(real),
                        "paper_tokens": paper_new_tokens(out.shape[1], ids.shape[1], len(rows))})

        reading, _ = bench.meter.region(measured)  # one window: the counter's steps matter less
        e_end, t_end = bench.meter.energy_j(), bench.clock()
        calls = passes[0]
        secs = sum(c["seconds"] for c in calls)
        real = sum(c["real_tokens"] for c in calls)
        counted = sum(c["paper_tokens"] for c in calls)
        # energy per token over every pass (each pass is the same greedy work)
        e_real = sum(c["real_tokens"] for one in passes for c in one)
        e_counted = sum(c["paper_tokens"] for one in passes for c in one)
        net = net_energy_j(reading, idle)
        whole = (net_energy_j(Reading(raw_j=e_end - e_start, seconds=t_end - t_start), idle)
                 if e_start is not None and e_end is not None else None)
        call_ms = [c["seconds"] * 1e3 for c in calls]
        mean_ms = sum(call_ms) / len(call_ms)
        std_ms = (sum((x - mean_ms) ** 2 for x in call_ms) / len(call_ms)) ** 0.5  # np.std, as the paper
        runs.append({
            "seed": seed, "num_prompts": len(prompts), "warmup_calls": n_warm, "warmup_s": warm_s,
            "measured_calls": len(calls), "measured_prompts": sum(c["rows"] for c in calls),
            "call_ms_mean": mean_ms, "call_ms_std": std_ms, "seconds": secs,
            "new_tokens_real": real, "new_tokens_paper_count": counted,
            "throughput_paper_count": counted / secs, "throughput_real": real / secs,
            "ms_per_real_token": secs * 1e3 / real if real else None,
            "avg_new_tokens_real": real / sum(c["rows"] for c in calls),
            "net_j": net, "energy_passes": len(passes), "j_per_token_real": per_unit(net, e_real),
            "j_per_token_paper_count": per_unit(net, e_counted),
            "net_j_whole_run_incl_warmup_and_loading": whole,
            "idle": base.record(idle) if base else idle.to_dict(),
            "reading": reading.to_dict(), "calls": calls,
        })
    return _paper_summary(wl, runs, bench)


def outliers(runs: list[dict], threshold: float | None) -> list[int]:
    """The notebooks' filter: the indices of runs whose J/token (paper count) exceeds the model's
    threshold; none without a threshold or where energy was not measured."""
    if threshold is None:
        return []
    return [i for i, r in enumerate(runs)
            if r["j_per_token_paper_count"] is not None and r["j_per_token_paper_count"] > threshold]


def _paper_summary(wl: Workload, runs: list[dict], bench: Bench) -> dict:
    """Across seeds: the paper's mean/std (sample std over runs, as the published files) under the
    published metric names where the definition is the same, distinct names where it is not."""
    import numpy as np

    rows: list[dict] = []
    threshold = bench.cfg.paper.outlier_j_per_token.get(bench.model_name)
    out = set(outliers(runs, threshold))
    kept = [r for i, r in enumerate(runs) if i not in out]

    def agg(key: str, metric: str, unit: str, over: list[dict] = runs):
        vals = [r[key] for r in over]
        if not vals or any(v is None for v in vals):
            return
        m = float(np.mean(vals))
        rows.append({"metric": f"{metric}_mean", "value": m, "unit": unit})
        if len(vals) > 1:  # sample std over runs, as the published *_std (ddof=1)
            sd = float(np.std(vals, ddof=1))
            rows.append({"metric": f"{metric}_std", "value": sd, "unit": unit})
            if m:
                rows.append({"metric": f"{metric}_cv", "value": sd / m, "unit": "ratio"})

    # same definitions as the published ones (whole-call ms at batch 1, padded token counts),
    # over the runs the paper's outlier filter keeps, as the notebooks aggregated them
    agg("call_ms_mean", "ttlt" if wl.batch_size == 1 else "batch_time", "ms", kept)
    agg("throughput_paper_count", "throughput", "tokens/s", kept)
    agg("j_per_token_paper_count", "energy_j_per_token_nvml_paper_count_filtered", "J/token", kept)
    # corrected readings of the same runs
    agg("throughput_real", "throughput_real_tokens", "tokens/s")
    agg("avg_new_tokens_real", "new_tokens_per_prompt_real", "tokens")
    agg("new_tokens_real", "new_tokens_real", "tokens")
    agg("new_tokens_paper_count", "new_tokens_paper_count", "tokens")
    agg("ms_per_real_token", "ms_per_real_token", "ms")
    agg("j_per_token_real", "energy_j_per_token_nvml", "J/token")
    agg("j_per_token_paper_count", "energy_j_per_token_nvml_paper_count", "J/token")
    agg("net_j_whole_run_incl_warmup_and_loading", "energy_j_whole_run_incl_warmup", "J")
    rows.append({"metric": "runs", "value": len(runs), "unit": "count"})
    rows.append({"metric": "runs_excluded_as_outliers", "value": len(out), "unit": "count"})
    return {"runs": runs, "rows": rows, "prompt_source": bench.prompt_source,
            "outlier_filter": {"j_per_token_paper_count_above": threshold,
                               "excluded_runs": [runs[i]["seed"] for i in sorted(out)],
                               "applies_to": "ttlt/batch_time, throughput and the _filtered "
                                             "J/token (the notebooks' means); every other "
                                             "figure is over all runs"},
            "energy": {"measured": all(r["net_j"] is not None for r in runs),
                       "not_measured_reason": bench.meter.reason},
            "tokens": {"counted": "real: up to and including each row's first EOS; "
                                  "paper_count: (output len - input len) x rows"}}
