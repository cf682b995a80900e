"""The workloads repro/config/efficiency.yaml names, and the variant label of a cell.

Workload names (the cells' task and the tidy `task`), both protocols from the config:
  corrected  prefill_p{L}_b1, decode_p{L}_n{N}_b1, throughput_p{L}_n{N}_b{B}
  paper      {hellaswag,mmlu,ifeval}_{latency_b1,throughput_b8}
(what each measures: corrected.py and paper_protocol.py).

The variant (repro/core/variant.py) says what differs from a GPU run of the real weights,
unaligned, default profile:
  align64 / align128  kept width rounded to that multiple (the alignment study)
  cpu                 timed on a CPU (timings are CPU timings; energy not measured)
  randinit            random weights of the model's exact shape (--random-weights)
  <dtype>             a dtype other than the model's (e.g. float32)
  quick               the `quick` profile (fewer, shorter workloads)
  synthetic           paper workloads fed synthetic prompts of estimated lengths (offline)
  stable              pruned with the `stable` tie-break, not the paper's (repro/core/ties.py)
e.g. `align64-cpu-quick`.
"""

from __future__ import annotations

from dataclasses import dataclass

from repro.config.efficiency import PROTOCOLS, EfficiencyConfig
from repro.core.pruning import PAPER_TIE_BREAK
from repro.core.variant import Variant


@dataclass(frozen=True)
class Workload:
    name: str                 # the cell's task and the tidy `task`
    kind: str                 # prefill | decode | throughput | paper
    new_tokens: int
    batch_size: int
    prompt_tokens: int | None = None   # corrected protocol: fixed prompt length
    source: str | None = None          # paper protocol: hellaswag | mmlu | ifeval


def workloads(cfg: EfficiencyConfig, protocols=PROTOCOLS) -> list[Workload]:
    out = []
    c = cfg.corrected
    if "corrected" in protocols:
        pre, dec, thr = c.prefill, c.decode, c.throughput
        for n in pre.prompt_tokens:
            out.append(Workload(f"prefill_p{n}_b{pre.batch_size}", "prefill", 1, pre.batch_size, n))
        out.append(Workload(f"decode_p{dec.prompt_tokens}_n{dec.new_tokens}_b{dec.batch_size}",
                            "decode", dec.new_tokens, dec.batch_size, dec.prompt_tokens))
        for b in thr.batch_sizes:
            out.append(Workload(f"throughput_p{thr.prompt_tokens}_n{thr.new_tokens}_b{b}",
                                "throughput", thr.new_tokens, b, thr.prompt_tokens))
    if "paper" in protocols:
        p = cfg.paper
        for b in p.batch_sizes:
            for src, w in p.workloads.items():
                mode = "latency" if b == 1 else "throughput"
                out.append(Workload(f"{src}_{mode}_b{b}", "paper", w.new_tokens, b, source=src))
    return out


def variant_name(*, align: int | None = None, device_type: str = "cuda", dtype_token: str = "",
                 random_weights: bool = False, profile: str = "default",
                 synthetic: bool = False, tie_break: str = PAPER_TIE_BREAK) -> str:
    """What differs from a GPU run of the real weights (see the module docstring)."""
    return str(Variant(align=align or None, device="" if device_type == "cuda" else device_type,
                       random_weights=random_weights, dtype=dtype_token,
                       profile="" if profile == "default" else profile, synthetic=synthetic,
                       tie_break=tie_break))
