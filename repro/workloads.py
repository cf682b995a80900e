"""Efficiency workloads as data: repro/config/efficiency.yaml (loaded, validated, profiles merged),
the workloads it names, the cell variant, prompts, padding and token counting.

Workload names (the cells' task and the tidy `task`), both protocols from the config:
  corrected  prefill_p{L}_b1, decode_p{L}_n{N}_b1, throughput_p{L}_n{N}_b{B}
  paper      {hellaswag,mmlu,ifeval}_{latency_b1,throughput_b8}
(what each measures: repro/efficiency.py).

The variant says what differs from a GPU run of the real weights, unaligned, default profile:
  align64 / align128  kept width rounded to that multiple (the alignment study)
  cpu                 timed on a CPU (timings are CPU timings; energy not measured)
  randinit            random weights of the model's exact shape (--random-weights)
  <dtype>             a dtype other than the model's (e.g. float32)
  quick               the `quick` profile (fewer, shorter workloads)
  synthetic           paper workloads fed synthetic prompts of estimated lengths (offline)
joined with '-' in that order, e.g. `align64-cpu-quick`.
"""

from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from repro.errors import ReproError

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
