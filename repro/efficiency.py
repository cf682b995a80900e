"""Stage 3, efficiency: time to first token, decode latency, throughput and energy per token.

    python -m repro efficiency --models llama-3.2-1b --levels 0 40        # GPU host
    python -m repro efficiency --models llama-3.2-1b --random-weights     # no download needed
    python -m repro efficiency --models smollm2-135m-instruct --device cpu --profile quick
    nox -s efficiency -- --models llama-3.2-3b                             # every level

The random-weight run of Llama-3.2-1B's exact shape (all seven levels, unaligned, align64 and
align128; no download, no token), then its tidy rows, labelled `randinit` in their variant:
    python -m repro efficiency --models llama-3.2-1b --random-weights --device cuda \
        --protocols corrected --results results/randinit
    python -m repro aggregate --results results/randinit --out data/reproduction \
        --run-id randinit-llama-3.2-1b-<gpu>

Two protocols, both from repro/config/efficiency.yaml (workloads are data):
  corrected  prefill_p{L}_b1        one synchronised forward pass over an L-token prompt (TTFT)
             decode_p{L}_n{N}_b1    exactly N new tokens (no early stop): ms per decode step
             throughput_p{L}_n{N}_b{B}  B x N real tokens per second
             >= 5 repetitions after warm-ups; median, IQR, bootstrap CI and CV of each figure.
  paper      {hellaswag,mmlu,ifeval}_{latency_b1,throughput_b8}: the original notebook's
             protocol (greedy generate() that stops at EOS, whole-call time, its seeds, token
             counts with padding) so its figures compare like for like, plus the real token
             counts and a breakdown of latency changes into output length and per-token speed.
Energy: NVML's total-energy counter around the timed repetitions only, minus idle power measured
just before on the same GPU over the expected duration (repro/energy.py); None when not measured.

Cells: results/efficiency/<model>/<criterion>[-<variant>]/level-<p>/<workload>.json, resumable.
The variant (repro/workloads.py) says what differs from a GPU run of the real weights, unaligned,
default profile, e.g. `align64-cpu-quick`.

Here: generation, measuring one workload, models and the grid, the CLI. The configuration,
workloads, prompts and token counting are in repro/workloads.py; cells to tidy rows in
repro/efficiency_rows.py.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from repro.errors import ReproError
from repro.workloads import (
    CONFIG,
    PROTOCOLS,
    STAGE,
    WIDTHS,
    Workload,
    dataset_prompts,
    eos_set,
    left_pad,
    load_config,
    paper_new_tokens,
    real_new_tokens,
    special_ids,
    synthetic_ids,
    synthetic_prompts,
    variant_name,
    workloads,
)

log = logging.getLogger("repro.efficiency")


# ---------------------------------------------------------------- generation


def _last_logits(model, **kw):
    try:
        return model(**kw, use_cache=True, logits_to_keep=1)
    except TypeError:  # models without logits_to_keep compute every position
        return model(**kw, use_cache=True)


def generate_fixed(model, ids, new_tokens: int, timer) -> tuple[float, float, Any]:
    """Greedy generation of exactly `new_tokens` tokens with a KV cache, no early stop.

    Returns (prefill seconds, decode seconds, tokens (B, new_tokens)). Prefill is one forward
    pass over the prompt that yields the first token (TTFT); decode is the other new_tokens - 1
    single-token steps. Each phase is a synchronised timed region.
    """
    import torch

    with torch.inference_mode():
        def prefill():
            out = _last_logits(model, input_ids=ids)
            return out.logits[:, -1, :].argmax(-1), out.past_key_values

        t_pre, (tok, past) = timer.time(prefill)

        def decode():
            toks, t = [tok], tok
            for _ in range(new_tokens - 1):
                out = _last_logits(model, input_ids=t[:, None], past_key_values=past)
                t = out.logits[:, -1, :].argmax(-1)
                toks.append(t)
            return torch.stack(toks, dim=1)

        if new_tokens > 1:
            t_dec, tokens = timer.time(decode)
        else:
            t_dec, tokens = 0.0, tok[:, None]
    return t_pre, t_dec, tokens


# ---------------------------------------------------------------- measuring one workload


@dataclass
class Bench:
    """Everything a workload needs: the model on its device, the clock, the meter, the config."""

    model: Any
    tokenizer: Any
    device: Any
    timer: Any
    meter: Any
    cfg: dict
    prompt_source: str = "synthetic"     # paper workloads: datasets | synthetic
    clock: Any = time.perf_counter
    sleep: Any = time.sleep

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)


def _stat_rows(name: str, unit: str, samples: list[float]) -> tuple[list[dict], dict]:
    from repro.timing import summarize

    s = summarize(samples)
    rows = [{"metric": f"{name}_median", "value": s.median, "unit": unit},
            {"metric": f"{name}_iqr", "value": s.iqr, "unit": unit},
            {"metric": f"{name}_ci95_low", "value": s.ci_low, "unit": unit},
            {"metric": f"{name}_ci95_high", "value": s.ci_high, "unit": unit}]
    if s.cv is not None:
        rows.append({"metric": f"{name}_cv", "value": s.cv, "unit": "ratio"})
    return rows, s.to_dict()


def _measured(values: list) -> list[float] | None:
    """The list if every value was measured, else None (energy: never a partial or a zero)."""
    return None if not values or any(v is None for v in values) else [float(v) for v in values]


def _idle(bench: Bench, expected_s: float):
    cfg = bench.cfg["idle"]
    if not bench.meter.available:
        return bench.meter.idle(0.0)
    from repro.timing import synchronize

    synchronize(bench.device)
    bench.sleep(cfg["settle_seconds"])
    return bench.meter.idle(min(max(expected_s, cfg["min_seconds"]), cfg["max_seconds"]))


def _peak_memory_reset(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory_gb(device) -> float | None:
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1024**3
    return None  # not measured on CPU (process RSS would include everything else)


def _common_rows(reps_energy: list, idle, peak_gb: float | None, reps: int) -> list[dict]:
    rows = [{"metric": "repetitions", "value": reps, "unit": "count"}]
    if peak_gb is not None:
        rows.append({"metric": "peak_memory_gb", "value": peak_gb, "unit": "GB"})
    if idle.power_w is not None:
        rows.append({"metric": "idle_power_w", "value": idle.power_w, "unit": "W"})
    power = _measured([r.power_w_mean for r in reps_energy])
    if power:
        rows.append({"metric": "power_w_median", "value": float(sorted(power)[len(power) // 2]),
                     "unit": "W"})
    clocks = _measured([r.sm_clock_mhz for r in reps_energy])
    if clocks:
        rows.append({"metric": "sm_clock_mhz_median", "value": float(sorted(clocks)[len(clocks) // 2]),
                     "unit": "MHz"})
    return rows


def run_generation_workload(bench: Bench, wl: Workload) -> dict:
    """Corrected protocol: prefill, decode or throughput, with fixed lengths and token counts."""
    from repro.energy import net_energy_j, per_unit

    c = bench.cfg["corrected"]
    ids = synthetic_ids(bench.vocab_size, wl.batch_size, wl.prompt_tokens, c["seed"],
                        special_ids(bench.model, bench.tokenizer)).to(bench.device)

    def step():
        return generate_fixed(bench.model, ids, wl.new_tokens, bench.timer)

    warm = []
    for _ in range(c["warmups"]):
        t0 = bench.clock()
        step()
        warm.append(bench.clock() - t0)
    # latency: one request per repetition, nothing but the device sync around it
    _peak_memory_reset(bench.device)
    pre, dec, tokens = [], [], []
    for _ in range(c["repetitions"]):
        t_pre, t_dec, toks = step()
        if toks.shape != (wl.batch_size, wl.new_tokens):
            raise RuntimeError(f"generated {tuple(toks.shape)} tokens, expected "
                               f"{(wl.batch_size, wl.new_tokens)}")
        pre.append(t_pre)
        dec.append(t_dec)
        tokens.append(int(toks.numel()))
    peak = _peak_memory_gb(bench.device)
    # energy: NVML's counter moves in steps of tens of ms, so it is read around blocks of
    # back-to-back requests lasting >= energy_block_seconds; idle is measured just before,
    # for as long as the blocks are expected to take
    per_request_s = sorted(a + b for a, b in zip(pre, dec, strict=True))[len(pre) // 2]
    block = max(1, math.ceil(c["energy_block_seconds"] / max(per_request_s, 1e-9)))
    idle, readings = bench.meter.idle(0.0), []
    if bench.meter.available:
        idle = _idle(bench, per_request_s * block * c["repetitions"])
        for _ in range(c["repetitions"]):
            reading, _ = bench.meter.region(lambda: [step() for _ in range(block)])
            readings.append(reading)

    n_tok = wl.batch_size * wl.new_tokens      # every one real: fixed length, no padding, no EOS stop
    total = [a + b for a, b in zip(pre, dec, strict=True)]
    rows: list[dict] = []
    stats: dict[str, Any] = {}

    def add(name, unit, samples):
        r, s = _stat_rows(name, unit, samples)
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
    net_ok = _measured(net)
    if net_ok:
        per_call = [j / block for j in net_ok]     # one call = batch_size requests
        requests = wl.batch_size
        if wl.kind == "prefill":
            add("energy_j_per_request", "J/request", [j / requests for j in per_call])
            add("energy_j_per_prompt_token", "J/token",
                [j / (requests * wl.prompt_tokens) for j in per_call])
        else:
            add("energy_j_per_token", "J/token", [per_unit(j, n_tok) for j in per_call])
            add("energy_j_per_request", "J/request", [j / requests for j in per_call])
    rows += _common_rows(readings, idle, peak, c["repetitions"])
    return {
        "samples": {"prefill_s": pre, "decode_s": dec, "warmup_s": warm, "tokens_per_rep": tokens},
        "stats": stats,
        "energy": {"measured": net_ok is not None, "not_measured_reason": bench.meter.reason,
                   "idle": idle.to_dict(), "calls_per_block": block,
                   "readings": [r.to_dict() for r in readings], "net_j_per_block": net},
        "tokens": {"new_tokens_per_rep": n_tok, "prompt_tokens": wl.prompt_tokens,
                   "counted": "batch x new_tokens (fixed length, no padding, no early stop)"},
        "peak_memory_gb": peak,
        "rows": rows,
    }


def paper_prompt_rows(bench: Bench, wl: Workload, seed: int) -> list[list[int]]:
    w = bench.cfg["paper"]["workloads"][wl.source]
    if bench.prompt_source == "datasets":
        texts = dataset_prompts(w, seed)
        return [bench.tokenizer(t)["input_ids"] for t in texts]
    return synthetic_prompts(w, seed, bench.vocab_size, special_ids(bench.model, bench.tokenizer))


def run_paper_workload(bench: Bench, wl: Workload) -> dict:
    """The notebook's protocol, one run per seed; every call timed whole, as the paper did, but
    synchronised; energy over the measured calls only (and, for comparison, the whole run)."""
    import torch

    from repro.energy import Reading, net_energy_j, per_unit
    from repro.timing import warmup_count

    p = bench.cfg["paper"]
    eos = eos_set(bench.model, bench.tokenizer)
    pad = min(eos) if eos else 0   # the paper: pad_token_id = eos_token_id
    runs = []
    for seed in p["seeds"]:
        prompts = paper_prompt_rows(bench, wl, seed)
        batches = [prompts[i:i + wl.batch_size] for i in range(0, len(prompts), wl.batch_size)]
        n_warm = warmup_count(len(batches))
        torch.manual_seed(seed)
        calls, warm_s = [], []
        e_start, t_start = bench.meter.energy_j(), bench.clock()

        def call(ids, mask):
            with torch.inference_mode():
                return bench.model.generate(input_ids=ids, attention_mask=mask,
                                            max_new_tokens=wl.new_tokens, do_sample=False,
                                            pad_token_id=pad)

        def inputs(rows):  # tokenised already; padding is host work between calls, as the paper's
            ids, mask = left_pad(rows, pad, p["truncation"] if wl.batch_size > 1 else None)
            return ids.to(bench.device), mask.to(bench.device)

        for rows in batches[:n_warm]:
            ids, mask = inputs(rows)
            warm_s.append(bench.timer.time(lambda ids=ids, mask=mask: call(ids, mask))[0])
        # idle just before the measured calls, for about as long as they will take
        idle = _idle(bench, sum(warm_s) / len(warm_s) * (len(batches) - n_warm))

        def measured(todo=batches[n_warm:], calls=calls):
            for rows in todo:
                ids, mask = inputs(rows)
                s, out = bench.timer.time(lambda ids=ids, mask=mask: call(ids, mask))
                real = real_new_tokens(out[:, ids.shape[1]:], eos)
                calls.append({"seconds": s, "rows": len(rows), "input_len": int(ids.shape[1]),
                              "output_len": int(out.shape[1]), "real_tokens": sum(real),
                              "paper_tokens": paper_new_tokens(out.shape[1], ids.shape[1], len(rows))})

        reading, _ = bench.meter.region(measured)  # one window: the counter's steps matter less
        e_end, t_end = bench.meter.energy_j(), bench.clock()
        secs = sum(c["seconds"] for c in calls)
        real = sum(c["real_tokens"] for c in calls)
        counted = sum(c["paper_tokens"] for c in calls)
        net = net_energy_j(reading, idle)
        whole = (net_energy_j(Reading(raw_j=e_end - e_start, seconds=t_end - t_start), idle)
                 if e_start is not None and e_end is not None else None)
        call_ms = [c["seconds"] * 1e3 for c in calls]
        mean_ms = sum(call_ms) / len(call_ms)
        std_ms = (sum((x - mean_ms) ** 2 for x in call_ms) / len(call_ms)) ** 0.5  # np.std, as the paper
        runs.append({
            "seed": seed, "num_prompts": len(prompts), "warmup_calls": n_warm,
            "measured_calls": len(calls), "measured_prompts": sum(c["rows"] for c in calls),
            "call_ms_mean": mean_ms, "call_ms_std": std_ms, "seconds": secs,
            "new_tokens_real": real, "new_tokens_paper_count": counted,
            "throughput_paper_count": counted / secs, "throughput_real": real / secs,
            "ms_per_real_token": secs * 1e3 / real if real else None,
            "avg_new_tokens_real": real / sum(c["rows"] for c in calls),
            "net_j": net, "j_per_token_real": per_unit(net, real),
            "j_per_token_paper_count": per_unit(net, counted),
            "net_j_whole_run_incl_warmup_and_loading": whole, "idle": idle.to_dict(),
            "reading": reading.to_dict(), "calls": calls,
        })
    return _paper_summary(wl, runs, bench)


def _paper_summary(wl: Workload, runs: list[dict], bench: Bench) -> dict:
    """Across seeds: the paper's mean/std (sample std over runs, as the published files) under the
    published metric names where the definition is the same, distinct names where it is not."""
    import numpy as np

    rows: list[dict] = []

    def agg(key: str, metric: str, unit: str):
        vals = [r[key] for r in runs]
        if any(v is None for v in vals):
            return
        m = float(np.mean(vals))
        rows.append({"metric": f"{metric}_mean", "value": m, "unit": unit})
        if len(vals) > 1:  # sample std over runs, as the published *_std (ddof=1)
            sd = float(np.std(vals, ddof=1))
            rows.append({"metric": f"{metric}_std", "value": sd, "unit": unit})
            if m:
                rows.append({"metric": f"{metric}_cv", "value": sd / m, "unit": "ratio"})

    # same definitions as the published ones (whole-call ms at batch 1, padded token counts)
    agg("call_ms_mean", "ttlt" if wl.batch_size == 1 else "batch_time", "ms")
    agg("throughput_paper_count", "throughput", "tokens/s")
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
    return {"runs": runs, "rows": rows, "prompt_source": bench.prompt_source,
            "energy": {"measured": all(r["net_j"] is not None for r in runs),
                       "not_measured_reason": bench.meter.reason},
            "tokens": {"counted": "real: up to and including each row's first EOS; "
                                  "paper_count: (output len - input len) x rows"}}


# ---------------------------------------------------------------- models and the grid


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        log.warning("no CUDA GPU: timing on the CPU (results labelled 'cpu'; energy not measured)")
        return "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ReproError(f"--device '{name}' is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ReproError(f"--device {name} requested but no CUDA GPU is visible to torch "
                             f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); run on "
                             "a GPU host with the NVIDIA driver, or pass --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ReproError(f"--device {name}: only {torch.cuda.device_count()} GPU(s) visible")
    elif dev.type != "cpu":
        raise ReproError(f"--device {name}: only cpu and cuda are supported")
    return name


def load_base(spec, *, dtype: str, device: str, random_weights: bool, cfg: dict, seed: int = 0):
    """(model, tokenizer or None, source record)."""
    import torch

    if random_weights:
        from transformers import AutoConfig, AutoModelForCausalLM

        from repro.loading import resolve_dtype

        if spec.name in cfg["shapes"]:
            shape = dict(cfg["shapes"][spec.name])
            config = AutoConfig.for_model(shape.pop("model_type"), **shape)
        else:
            from repro import models

            path, gguf, rev = models.weights(spec)
            from repro.loading import load_config

            config = load_config(path, revision=rev, gguf_file=gguf)
            shape = config.to_dict()
        torch.manual_seed(seed)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype))
        model.eval()
        return model, None, {"model": spec.name, "random_weights": True, "init_seed": seed,
                             "shape_from": "efficiency.yaml" if spec.name in cfg["shapes"] else "config.json"}
    from repro import models
    from repro.loading import load

    models.check_access(spec)
    path, gguf, rev = models.weights(spec)
    model, tok, source = load(path, revision=rev, gguf_file=gguf, dtype=dtype, device=device)
    return model, tok, dict(source, random_weights=False)


def resolve_prompt_source(choice: str, cfg: dict, tokenizer) -> str:
    """'datasets' when every paper dataset loads (and a tokenizer exists), else 'synthetic'."""
    if choice == "synthetic":
        return "synthetic"
    problem = None
    if tokenizer is None:
        problem = "no tokenizer (random weights)"
    else:
        try:
            for w in cfg["paper"]["workloads"].values():
                dataset_prompts(dict(w, num_prompts=1), 0)
        except Exception as exc:  # noqa: BLE001 - offline, missing cache, gated: all mean 'cannot'
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if problem is None:
        return "datasets"
    if choice == "datasets":
        raise ReproError(f"--prompt-source datasets: the paper's datasets cannot be loaded ({problem}); "
                         "connect to the Hub or fill the datasets cache, or use --prompt-source synthetic")
    log.warning("paper workloads use SYNTHETIC prompts of estimated lengths (%s); "
                "their cells are labelled 'synthetic'", problem)
    return "synthetic"


@dataclass(frozen=True)
class Planned:
    cell: Any
    workload: Workload
    align: int | None


def plan(spec_name: str, criterion: str, levels, widths, wls: list[Workload], *,
         variant_kw: dict, prompt_source: str, width: int | None = None) -> list[Planned]:
    """The cells to measure. An aligned variant whose width equals the unaligned one (level 0,
    or e.g. 4096 = 50% of 8192) is left out when the original `width` is known."""
    from repro.cells import Cell
    from repro.prune import Target

    out = []
    for level in levels:
        for w_name in widths:
            align = None if w_name == "unaligned" else int(w_name.removeprefix("align"))
            if align and level == 0:
                continue  # the unpruned width (e.g. 8192) is already aligned
            if align and width:
                if align > width:
                    log.info("align%d exceeds the MLP width %d; left out", align, width)
                    continue
                if Target(level=level, align=align).width(width, 1) == Target(level=level).width(width, 1):
                    continue
            for wl in wls:
                synthetic = wl.kind == "paper" and prompt_source == "synthetic"
                v = variant_name(align=align, synthetic=synthetic, **variant_kw)
                out.append(Planned(Cell(STAGE, spec_name, criterion, float(level), wl.name, v), wl, align))
    return out


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", help="short names from repro/config/models.yaml or local "
                   "folders (default: the config's `models`)")
    p.add_argument("--model", dest="models", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--levels", nargs="+", type=float, help="percent pruned (default: the model's list)")
    p.add_argument("--criterion", help="neuron criterion (default: the config's, maw)")
    p.add_argument("--widths", nargs="+", choices=WIDTHS,
                   help="unaligned and/or align64/align128 (default: all)")
    p.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    p.add_argument("--workloads", nargs="+", help="only these workload names (cell tasks)")
    p.add_argument("--device", default="auto", help="auto (cuda if present, else cpu), cpu, cuda, cuda:N")
    p.add_argument("--dtype", choices=("bfloat16", "float16", "float32"),
                   help="weights dtype (default: the model's, e.g. bfloat16)")
    p.add_argument("--random-weights", action="store_true",
                   help="random weights of the model's exact shape (labelled randinit)")
    p.add_argument("--prompt-source", choices=("auto", "datasets", "synthetic"), default="auto",
                   help="paper workloads: the paper's datasets, or synthetic prompts (offline)")
    p.add_argument("--profile", default="default", help="settings profile from the config (e.g. quick)")
    p.add_argument("--config", type=Path, default=CONFIG, help="efficiency workloads file")
    p.add_argument("--results", type=Path, default=Path("results"), help="cells root folder")
    p.add_argument("--shard", help="i/n: run every n-th cell starting at i")
    p.add_argument("--threads", type=int, help="torch CPU threads (recorded)")
    p.add_argument("--dry-run", action="store_true", help="list pending cells and exit")


def _selected_workloads(cfg: dict, args: argparse.Namespace) -> list[Workload]:
    wls = workloads(cfg, args.protocols)
    if args.workloads:
        unknown = sorted(set(args.workloads) - {w.name for w in wls})
        if unknown:
            raise ReproError(f"unknown workload(s) {', '.join(unknown)}; known: "
                             f"{', '.join(w.name for w in wls)}")
        wls = [w for w in wls if w.name in args.workloads]
    return wls


def run(args: argparse.Namespace) -> int:
    import torch

    from repro import models
    from repro.energy import open_meter
    from repro.timing import Timer

    cfg = load_config(args.config, args.profile)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    criterion = args.criterion or cfg["criterion"]
    if criterion == "activation":
        raise ReproError("criterion 'activation' needs calibration data; profile with maw, vow, pon "
                         "or random (the widths, not the kept neurons, set the cost)")
    if args.prompt_source == "datasets" and args.random_weights:
        raise ReproError("--prompt-source datasets needs a tokenizer; random weights have none")
    widths = args.widths or ["unaligned"] + [f"align{a}" for a in cfg["alignment"]]
    wls = _selected_workloads(cfg, args)
    specs = [models.get(m) for m in (args.models or cfg["models"])]
    for spec in specs:  # every check before the first model loads
        if args.levels:
            spec.check_levels(args.levels)
        if not args.random_weights:
            models.check_access(spec)
    meter = open_meter(device)
    if torch.device(device).type == "cuda" and not meter.available:
        log.warning("GPU energy not measured: %s", meter.reason)
    done = sum(_profile_model(spec, args, cfg, device=device, criterion=criterion, widths=widths,
                              wls=wls, meter=meter, timer=Timer(device)) for spec in specs)
    print(f"efficiency: {done} cell(s) written under {args.results}")
    return 0


def _profile_model(spec, args, cfg, *, device, criterion, widths, wls, meter, timer) -> int:
    """Every pending cell of one model: load once, rank once, prune per (level, alignment)."""
    import torch

    from repro import cells
    from repro.prune import Target, prune, rank

    dev_type = torch.device(device).type
    dtype = args.dtype or spec.dtype
    variant_kw = dict(device_type=dev_type, random_weights=args.random_weights,
                      dtype_token="" if dtype == spec.dtype else dtype, profile=cfg["profile"])
    model = tok = source = None
    prompt_source = "synthetic"  # what a dry run assumes for paper workloads
    if any(w.kind == "paper" for w in wls) and args.prompt_source != "synthetic" \
            and not args.random_weights and not args.dry_run:
        model, tok, source = load_base(spec, dtype=dtype, device=device, random_weights=False, cfg=cfg)
        prompt_source = resolve_prompt_source(args.prompt_source, cfg, tok)
    grid = plan(spec.name, criterion, args.levels or list(spec.levels), widths, wls,
                variant_kw=variant_kw, prompt_source=prompt_source, width=spec.intermediate_size)
    by_cell = {g.cell: g for g in grid}
    todo = cells.shard(cells.pending(args.results, list(by_cell)), args.shard)
    print(f"{spec.name}: {len(grid)} cells, {len(todo)} pending (device {device}, "
          f"variant e.g. '{todo[0].variant if todo else ''}')")
    if args.dry_run or not todo:
        for c in todo:
            print(f"  {c.id}")
        return 0
    if model is None:
        model, tok, source = load_base(spec, dtype=dtype, device=device,
                                       random_weights=args.random_weights, cfg=cfg)
    bench = Bench(model=None, tokenizer=tok, device=device, timer=timer, meter=meter, cfg=cfg,
                  prompt_source=prompt_source)
    ranking = rank(model, criterion)
    context = {"spec": spec, "source": source, "gpu": meter.device_record(), "dtype": dtype,
               "prompt_source": prompt_source}
    progress, done = cells.Progress(len(todo)), 0
    groups: dict[tuple, list] = {}
    for c in todo:
        groups.setdefault((c.level, by_cell[c].align or 0), []).append(c)
    for (level, align), group in sorted(groups.items()):
        pruned, info = prune(model, ranking, Target(level=level, align=align or None))
        if align and info.kept_width == Target(level=level).width(info.original_width, info.hidden_size):
            log.info("level %g: align%d gives the unaligned width %d; not re-measured",
                     level, align, info.kept_width)
            continue
        bench.model = pruned.eval()
        for c in group:
            t0 = time.monotonic()
            _measure_cell(bench, c, by_cell[c].workload, info, args, cfg, context)
            progress.step(c, time.monotonic() - t0)
            done += 1
        bench.model = None
        del pruned
        if dev_type == "cuda":
            torch.cuda.empty_cache()
    return done


def _measure_cell(bench: Bench, cell, wl: Workload, info, args, cfg: dict, ctx: dict) -> None:
    """Run one workload on the pruned model in `bench` and write its cell with provenance."""
    from repro import cells
    from repro.provenance import provenance

    payload = (run_paper_workload(bench, wl) if wl.kind == "paper"
               else run_generation_workload(bench, wl))
    dev_type = "cuda" if str(bench.device).startswith("cuda") else "cpu"
    payload.update(
        workload=asdict(wl), device=dev_type, dtype=ctx["dtype"],
        model_info={"kept_width": info.kept_width, "expansion_ratio": info.expansion_ratio,
                    "params": info.params_after, "align": info.align,
                    "original_width": info.original_width},
        labels={"timings_on": dev_type, "random_weights": args.random_weights,
                "profile": cfg["profile"]})
    config = {"path": str(args.config), "version": cfg["version"], "sha256": cfg["sha256"],
              "profile": cfg["profile"], "corrected": cfg["corrected"], "idle": cfg["idle"],
              "paper": cfg["paper"] if wl.kind == "paper" else None}
    prov = provenance(bench.device, stage=STAGE, model=ctx["spec"].record(), source=ctx["source"],
                      prune=info.to_dict(), gpu=ctx["gpu"], config=config,
                      prompt_source=ctx["prompt_source"] if wl.kind == "paper" else "synthetic")
    cells.write(args.results, cell, payload, prov)
