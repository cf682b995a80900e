"""The corrected protocol: prefill at a fixed prompt length, decode with a fixed number of new
tokens, batch throughput counting only real tokens; warm-ups excluded, adaptive repetitions
(>= 5 and >= a few seconds, until the median is tight), each timed region synchronised; NVML
energy around blocks of back-to-back requests lasting >= energy.min_window_s, minus the
session's idle power (calibrated once, drift-checked: bench.idle_baseline).
"""

from __future__ import annotations

import math
from typing import Any

from repro.efficiency.bench import (
    Bench,
    common_rows,
    idle_baseline,
    measured,
    peak_memory_gb,
    peak_memory_reset,
    stat_rows,
)
from repro.efficiency.energy import net_energy_j, per_unit
from repro.efficiency.generation import generate_fixed
from repro.efficiency.prompts import special_ids, synthetic_ids
from repro.efficiency.timing import Until, median, repeat
from repro.efficiency.workloads import Workload


def run_generation_workload(bench: Bench, wl: Workload) -> dict:
    """Corrected protocol: prefill, decode or throughput, with fixed lengths and token counts."""
    c = bench.cfg.corrected
    ids = synthetic_ids(bench.vocab_size, wl.batch_size, wl.prompt_tokens, c.seed,
                        special_ids(bench.model, bench.tokenizer)).to(bench.device)

    def step():
        return generate_fixed(bench.model, ids, wl.new_tokens, bench.timer)

    # latency: one request per repetition, nothing but the device syncs around it; the warm-ups
    # (kernel selection, allocator growth) run first and are recorded apart
    peak_memory_reset(bench.device)
    warm: list[float] = []
    pre, dec, tokens = [], [], []

    def keep(_, __, out):
        t_pre, t_dec, toks = out
        if toks.shape != (wl.batch_size, wl.new_tokens):
            raise RuntimeError(f"generated {tuple(toks.shape)} tokens, expected "
                               f"{(wl.batch_size, wl.new_tokens)}")
        pre.append(t_pre)
        dec.append(t_dec)
        tokens.append(int(toks.numel()))

    r = c.repetitions
    repeat(step, reps=Until(r.min, r.min_seconds, r.ci_rel, r.max, r.max_seconds), warmups=c.warmups,
           timer=bench.timer, on_rep=keep, on_warmup=lambda _, seconds, __: warm.append(seconds))
    reps = len(pre)
    peak = peak_memory_gb(bench.device)
    # energy: NVML's counter moves in steps (~100 ms), so it is read around blocks of
    # back-to-back requests lasting >= energy.min_window_s, `repetitions.min` blocks; the
    # idle power is the session's (no sleep per workload)
    per_request_s = median([a + b for a, b in zip(pre, dec, strict=True)])
    block = max(1, math.ceil(bench.cfg.energy.min_window_s / max(per_request_s, 1e-9)))
    idle, readings, calls, idle_rec = bench.meter.idle(0.0), [], [], None
    if bench.meter.available:
        base = idle_baseline(bench)
        idle = base.current()
        for _ in range(r.min):
            reading, n = bench.meter.region(lambda: energy_block(bench, step, block))
            readings.append(reading)
            calls.append(n)
        idle_rec = base.record(idle)

    n_tok = wl.batch_size * wl.new_tokens      # every one real: fixed length, no padding, no EOS stop
    total = [a + b for a, b in zip(pre, dec, strict=True)]
    rows: list[dict] = []
    stats: dict[str, Any] = {}

    def add(name, unit, samples):
        r, s = stat_rows(name, unit, samples)
        rows.extend(r)
        stats[name] = s

    add("prefill_latency_ms", "ms", [t * 1e3 for t in pre])
    if wl.kind == "prefill":
        add("prefill_tokens_per_s", "tokens/s", [wl.batch_size * wl.prompt_tokens / t for t in pre])
    if wl.kind == "decode":
        steps = wl.new_tokens - 1
        add("decode_latency_ms_per_token", "ms", [t * 1e3 / steps for t in dec])
        add("request_latency_ms", "ms", [t * 1e3 for t in total])
    if wl.kind == "throughput":
        add("throughput_tokens_per_s", "tokens/s", [n_tok / t for t in total])
        add("batch_latency_ms", "ms", [t * 1e3 for t in total])

    net = [net_energy_j(r, idle) for r in readings]
    net_ok = measured(net)
    if net_ok:
        per_call = [j / n for j, n in zip(net_ok, calls, strict=True)]  # a call: batch_size requests
        requests = wl.batch_size
        if wl.kind == "prefill":
            add("energy_j_per_request", "J/request", [j / requests for j in per_call])
            add("energy_j_per_prompt_token", "J/token",
                [j / (requests * wl.prompt_tokens) for j in per_call])
        else:
            add("energy_j_per_token", "J/token", [per_unit(j, n_tok) for j in per_call])
            add("energy_j_per_request", "J/request", [j / requests for j in per_call])
    rows += common_rows(readings, idle, peak, reps)
    return {
        "samples": {"prefill_s": pre, "decode_s": dec, "warmup_s": warm, "tokens_per_rep": tokens},
        "stats": stats,
        "energy": {"measured": net_ok is not None, "not_measured_reason": bench.meter.reason,
                   "idle": idle_rec or idle.to_dict(), "calls_per_block": calls,
                   "min_window_s": bench.cfg.energy.min_window_s,
                   "readings": [r.to_dict() for r in readings], "net_j_per_block": net},
        "tokens": {"new_tokens_per_rep": n_tok, "prompt_tokens": wl.prompt_tokens,
                   "counted": "batch x new_tokens (fixed length, no padding, no early stop)"},
        "peak_memory_gb": peak,
        "rows": rows,
    }


def energy_block(bench: Bench, step, planned: int) -> int:
    """`planned` back-to-back calls (each ends synchronised), then more until the window has
    lasted energy.min_window_s: never a window shorter than the counter's steps allow.
    Returns the number of calls."""
    t0, n = bench.clock(), 0
    while n < planned or bench.clock() - t0 < bench.cfg.energy.min_window_s:
        step()
        n += 1
    return n
