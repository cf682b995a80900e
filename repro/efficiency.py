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
The variant says what differs from a GPU run of the real weights, unaligned, default profile:
  align64 / align128  kept width rounded to that multiple (the alignment study)
  cpu                 timed on a CPU (timings are CPU timings; energy not measured)
  randinit            random weights of the model's exact shape (--random-weights)
  <dtype>             a dtype other than the model's (e.g. float32)
  quick               the `quick` profile (fewer, shorter workloads)
  synthetic           paper workloads fed synthetic prompts of estimated lengths (offline)
joined with '-' in that order, e.g. `align64-cpu-quick`. `efficiency_rows()` turns cells into
the tidy schema (task = workload, metric names carry their unit, e.g. prefill_latency_ms_median).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from repro.errors import ReproError

log = logging.getLogger("repro.efficiency")

STAGE = "efficiency"
CONFIG = Path(__file__).resolve().parent / "config" / "efficiency.yaml"
PROTOCOLS = ("corrected", "paper")
WIDTHS = ("unaligned", "align64", "align128")

# ---------------------------------------------------------------- configuration

_KEYS = {
    "": {"version", "models", "criterion", "corrected", "idle", "alignment", "paper", "profiles",
         "shapes"},
    "corrected": {"repetitions", "warmups", "seed", "energy_block_seconds", "prefill", "decode",
                  "throughput"},
    "corrected.prefill": {"prompt_tokens", "batch_size"},
    "corrected.decode": {"prompt_tokens", "new_tokens", "batch_size"},
    "corrected.throughput": {"prompt_tokens", "new_tokens", "batch_sizes"},
    "idle": {"min_seconds", "max_seconds", "settle_seconds"},
    "paper": {"seeds", "batch_sizes", "truncation", "padding_side", "workloads"},
    "paper.workload": {"dataset", "config", "split", "format", "num_prompts", "new_tokens",
                       "synthetic_prompt_tokens"},
}
FORMATS = ("hellaswag", "question", "prompt")


def _check_keys(section: str, obj: Any, where: str, *, partial: bool = False) -> None:
    if not isinstance(obj, dict):
        raise ReproError(f"{where}: '{section or 'top level'}' must be a mapping")
    known = _KEYS[section]
    unknown = sorted(set(obj) - known)
    if unknown:
        raise ReproError(f"{where}: unknown key(s) {', '.join(unknown)} in "
                         f"'{section or 'top level'}'; known: {', '.join(sorted(known))}")
    missing = sorted(known - set(obj))
    if missing and not partial:
        raise ReproError(f"{where}: missing key(s) {', '.join(missing)} in '{section or 'top level'}'")


def _merge(base: dict, over: dict, where: str, path: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k not in out:
            raise ReproError(f"{where}: profile key '{path}{k}' overrides nothing; check its spelling")
        out[k] = _merge(out[k], v, where, f"{path}{k}.") if isinstance(v, dict) and isinstance(
            out[k], dict) else v
    return out


def validate_config(cfg: dict, where: str) -> dict:
    _check_keys("", cfg, where)
    c = cfg["corrected"]
    _check_keys("corrected", c, where)
    for name in ("prefill", "decode", "throughput"):
        _check_keys(f"corrected.{name}", c[name], where)
    if not (isinstance(c["repetitions"], int) and c["repetitions"] >= 5):
        raise ReproError(f"{where}: corrected.repetitions must be an integer >= 5 (got {c['repetitions']})")
    if not (isinstance(c["warmups"], int) and c["warmups"] >= 1):
        raise ReproError(f"{where}: corrected.warmups must be an integer >= 1")
    if not c["energy_block_seconds"] > 0:
        raise ReproError(f"{where}: corrected.energy_block_seconds must be positive")
    if c["decode"]["new_tokens"] < 2 or c["throughput"]["new_tokens"] < 2:
        raise ReproError(f"{where}: new_tokens must be >= 2 (one from prefill, the rest decoded)")
    _check_keys("idle", cfg["idle"], where)
    if not 0 < cfg["idle"]["min_seconds"] <= cfg["idle"]["max_seconds"]:
        raise ReproError(f"{where}: need 0 < idle.min_seconds <= idle.max_seconds")
    p = cfg["paper"]
    _check_keys("paper", p, where)
    for name, w in p["workloads"].items():
        _check_keys("paper.workload", w, f"{where}: paper workload '{name}'")
        if w["format"] not in FORMATS:
            raise ReproError(f"{where}: paper workload '{name}': format must be one of {FORMATS}")
        lo, hi = w["synthetic_prompt_tokens"]
        if not 1 <= lo <= hi:
            raise ReproError(f"{where}: paper workload '{name}': synthetic_prompt_tokens [lo, hi]")
    for name, w in p["workloads"].items():
        if w["num_prompts"] <= max(p["batch_sizes"]):
            raise ReproError(f"{where}: paper workload '{name}': num_prompts {w['num_prompts']} leaves "
                             f"no measured call after the warm-up at batch {max(p['batch_sizes'])}; "
                             "use more prompts than the largest batch size")
    if p["padding_side"] != "left":
        raise ReproError(f"{where}: paper.padding_side must be 'left' (the paper's setting)")
    for a in cfg["alignment"]:
        if f"align{a}" not in WIDTHS:
            raise ReproError(f"{where}: alignment {a} not supported; use 64 or 128")
    return cfg


def load_config(path: str | Path = CONFIG, profile: str | None = None) -> dict:
    """The validated configuration, with `profile`'s overrides applied; adds `profile`,
    `sha256` (of the file) for the provenance record."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ReproError(f"{path}: cannot read the efficiency config ({exc}); restore it from git") from exc
    where = path.name
    if not isinstance(raw, dict):
        raise ReproError(f"{where}: expected a mapping at the top level")
    profiles = raw.get("profiles") or {}
    cfg = validate_config(raw, where)
    if profile and profile != "default":
        if profile not in profiles:
            raise ReproError(f"unknown --profile '{profile}'; choose from: default, "
                             f"{', '.join(profiles)} (see {where})")
        cfg = validate_config(_merge(cfg, profiles[profile], f"{where}: profile '{profile}'"), where)
    cfg = dict(cfg, profile=profile or "default", sha256=hashlib.sha256(text.encode()).hexdigest())
    cfg.pop("profiles", None)
    return cfg


# ---------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Workload:
    name: str                 # the cell's task and the tidy `task`
    kind: str                 # prefill | decode | throughput | paper
    new_tokens: int
    batch_size: int
    prompt_tokens: int | None = None   # corrected protocol: fixed prompt length
    source: str | None = None          # paper protocol: hellaswag | mmlu | ifeval


def workloads(cfg: dict, protocols=PROTOCOLS) -> list[Workload]:
    out = []
    c = cfg["corrected"]
    if "corrected" in protocols:
        pre, dec, thr = c["prefill"], c["decode"], c["throughput"]
        for n in pre["prompt_tokens"]:
            out.append(Workload(f"prefill_p{n}_b{pre['batch_size']}", "prefill", 1,
                                pre["batch_size"], n))
        out.append(Workload(f"decode_p{dec['prompt_tokens']}_n{dec['new_tokens']}_b{dec['batch_size']}",
                            "decode", dec["new_tokens"], dec["batch_size"], dec["prompt_tokens"]))
        for b in thr["batch_sizes"]:
            out.append(Workload(f"throughput_p{thr['prompt_tokens']}_n{thr['new_tokens']}_b{b}",
                                "throughput", thr["new_tokens"], b, thr["prompt_tokens"]))
    if "paper" in protocols:
        p = cfg["paper"]
        for b in p["batch_sizes"]:
            for src, w in p["workloads"].items():
                mode = "latency" if b == 1 else "throughput"
                out.append(Workload(f"{src}_{mode}_b{b}", "paper", w["new_tokens"], b, source=src))
    return out


def variant_name(*, align: int | None = None, device_type: str = "cuda", dtype_token: str = "",
                 random_weights: bool = False, profile: str = "default",
                 synthetic: bool = False) -> str:
    """What differs from a GPU run of the real weights (see the module docstring)."""
    parts = [f"align{align}" if align else "", "" if device_type == "cuda" else device_type,
             "randinit" if random_weights else "", dtype_token,
             "" if profile == "default" else profile, "synthetic" if synthetic else ""]
    return "-".join(p for p in parts if p)


# ---------------------------------------------------------------- prompts and token counting


def synthetic_ids(vocab_size: int, batch: int, length: int, seed: int,
                  exclude: set[int] = frozenset()):
    """(batch, length) token ids, uniform over the vocabulary minus special tokens."""
    import torch

    allowed = torch.tensor([i for i in range(vocab_size) if i not in exclude], dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    return allowed[torch.randint(len(allowed), (batch, length), generator=g)]


def format_prompt(item: dict, fmt: str) -> str:
    if fmt == "hellaswag":
        text = f"{item['ctx']}\n\nWhat happens next?\n"
        text += "".join(f"{chr(65 + i)}. {e}\n" for i, e in enumerate(item["endings"]))
        return text + "\nAnswer:"
    return item[fmt]


def select_indices(n_items: int, n: int, seed: int) -> list[int]:
    """The paper's selection: random.Random(seed).shuffle over all indices, first n."""
    idx = list(range(n_items))
    random.Random(seed).shuffle(idx)
    return idx[:n]


def dataset_prompts(w: dict, seed: int) -> list[str]:
    """Prompt texts from the Hugging Face dataset the paper used (lm-eval's cache serves it)."""
    import datasets

    ds = datasets.load_dataset(w["dataset"], w["config"], split=w["split"])
    return [format_prompt(ds[i], w["format"]) for i in select_indices(len(ds), w["num_prompts"], seed)]


def synthetic_prompts(w: dict, seed: int, vocab_size: int, exclude: set[int]) -> list[list[int]]:
    """Offline stand-ins: lengths uniform in synthetic_prompt_tokens, ids uniform, seeded."""
    rng = random.Random(seed)
    lo, hi = w["synthetic_prompt_tokens"]
    out = []
    for k in range(w["num_prompts"]):
        n = rng.randint(lo, hi)
        out.append(synthetic_ids(vocab_size, 1, n, seed * 100_003 + k, exclude)[0].tolist())
    return out


def left_pad(rows: list[list[int]], pad_id: int, max_length: int | None):
    """Truncate each row to its first max_length tokens (the tokenizer's default side), then
    left-pad to the longest; returns (input_ids, attention_mask) as (B, T) tensors."""
    import torch

    rows = [r[:max_length] if max_length else r for r in rows]
    t = max(len(r) for r in rows)
    ids = torch.full((len(rows), t), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), t), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, t - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, t - len(r):] = 1
    return ids, mask


def real_new_tokens(new, eos_ids: set[int]) -> list[int]:
    """Per row, tokens generated up to and including the first EOS (padding after it, which
    generate() fills with the pad id, is not generation). No EOS: the whole row counts."""
    counts = []
    for row in new.tolist():
        n = len(row)
        for j, tok in enumerate(row):
            if tok in eos_ids:
                n = j + 1
                break
        counts.append(n)
    return counts


def paper_new_tokens(output_len: int, input_len: int, rows: int) -> int:
    """The paper's count: (output length - input length) x rows, padding after EOS included."""
    return (output_len - input_len) * rows


def eos_set(model, tokenizer=None) -> set[int]:
    ids: set[int] = set()
    for src in (getattr(model, "generation_config", None), model.config, tokenizer):
        v = getattr(src, "eos_token_id", None) if src is not None else None
        if isinstance(v, int):
            ids.add(v)
        elif isinstance(v, list | tuple):
            ids.update(int(x) for x in v)
    return ids


def special_ids(model, tokenizer=None) -> set[int]:
    ids = set(eos_set(model, tokenizer))
    for name in ("bos_token_id", "pad_token_id"):
        v = getattr(model.config, name, None)
        if isinstance(v, int):
            ids.add(v)
    if tokenizer is not None:
        ids.update(tokenizer.all_special_ids)
    return ids


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


# ---------------------------------------------------------------- tidy rows


def _read_cells(cells_root: str | Path) -> list[dict]:
    from repro.cells import Cell, read

    root = Path(cells_root) / STAGE
    out = []
    for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
        try:
            key = json.loads(path.read_text(encoding="utf-8"))["cell"]
            cell = Cell(**key)
        except (ValueError, KeyError, TypeError):
            log.warning("%s is not a cell file; skipped", path)
            continue
        rec = read(cells_root, cell)
        if rec is not None and cell.path(cells_root) == path:
            out.append(rec)
    return out


def breakdown_rows(df):
    """How much of the paper's batch-1 whole-call latency change (vs level 0) comes from output
    length: ttlt = n tokens x t per token; change = (n1 - n0) t0 [length] + n1 (t1 - t0) [speed],
    with n the real new tokens per prompt and t the whole-call ms per real token."""
    import pandas as pd

    base_cols = ["model", "criterion", "variant", "task", "source", "run_id"]
    sel = df[df["task"].str.endswith("_latency_b1") & df["metric"].isin(
        ["ttlt_mean", "new_tokens_per_prompt_real_mean"])]
    if sel.empty:
        return df.iloc[0:0]
    wide = sel.pivot_table(index=base_cols + ["level", "kept_width", "expansion_ratio", "params"],
                           columns="metric", values="value", aggfunc="first").reset_index()
    wide = wide.dropna(subset=["ttlt_mean", "new_tokens_per_prompt_real_mean"])
    # the unaligned baseline shares its level-0 cell with every variant that has no level 0
    rows = []
    for _, r in wide.iterrows():
        if r["level"] == 0:
            continue
        base_variant = r["variant"]
        for prefix in ("align64", "align128"):
            base_variant = base_variant.removeprefix(prefix).lstrip("-")
        b = wide[(wide["model"] == r["model"]) & (wide["criterion"] == r["criterion"])
                 & (wide["variant"] == base_variant) & (wide["task"] == r["task"])
                 & (wide["run_id"] == r["run_id"]) & (wide["level"] == 0)]
        if b.empty:
            continue
        b = b.iloc[0]
        n0, n1 = b["new_tokens_per_prompt_real_mean"], r["new_tokens_per_prompt_real_mean"]
        t0, t1 = b["ttlt_mean"] / n0, r["ttlt_mean"] / n1
        change = r["ttlt_mean"] - b["ttlt_mean"]
        length = (n1 - n0) * t0
        vals = {"ttlt_change_vs_level0_ms": (change, "ms"),
                "ttlt_change_from_output_length_ms": (length, "ms"),
                "ttlt_change_from_per_token_time_ms": (n1 * (t1 - t0), "ms")}
        if change:
            vals["ttlt_change_share_from_output_length"] = (length / change, "ratio")
        for metric, (v, unit) in vals.items():
            rows.append({**{k: r[k] for k in base_cols}, "level": r["level"], "metric": metric,
                         "filter": "none", "value": float(v), "stderr": None, "unit": unit,
                         "kept_width": r["kept_width"], "expansion_ratio": r["expansion_ratio"],
                         "params": r["params"]})
    return pd.DataFrame(rows)


def efficiency_rows(cells_root: str | Path, run_id: str):
    """Every intact efficiency cell under `cells_root` as tidy rows (repro/schema.py), plus the
    output-length breakdown of the paper workloads. Unmeasured figures have no row (never 0)."""
    import pandas as pd

    from repro.schema import COLUMNS, validate

    rows = []
    for rec in _read_cells(cells_root):
        c, pl = rec["cell"], rec["payload"]
        mi = pl["model_info"]
        for r in pl["rows"]:
            if r["value"] is None:
                continue
            rows.append({"model": c["model"], "criterion": c["criterion"], "level": c["level"],
                         "variant": c["variant"], "task": c["task"], "metric": r["metric"],
                         "filter": "none", "value": float(r["value"]), "stderr": None,
                         "unit": r["unit"], "kept_width": mi["kept_width"],
                         "expansion_ratio": mi["expansion_ratio"], "params": mi["params"],
                         "source": "reproduction", "run_id": run_id})
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    if not df.empty:
        extra = breakdown_rows(df)
        if not extra.empty:
            df = pd.concat([df, extra[list(COLUMNS)]], ignore_index=True)
    return validate(df, f"efficiency cells under {cells_root}")
