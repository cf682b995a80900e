"""How equal neuron scores are broken when a level keeps the k best (repro/prune/ranking.py):
the rules' names live in repro/core/pruning.py, a result's variant names a non-paper rule
(repro/core/variant.py). These helpers read and set that field of a variant's text.

  topk    the paper's rule and the default: optipfair 0.2.0's `torch.topk` on the weights'
          device, so on the paper's device it keeps the paper's neurons
  stable  corrected: a stable sort, lower index wins; nested levels, the same on any device

A result pruned with `stable` carries the token in its variant (`stable`, `chat-stable`,
`bf16-stable`, `cpu-stable`...), so that it never stands in for the paper's setting unmarked.

The evaluation setting is read and set alike (`setting_variant`, `is_fast`): a cell evaluated
in the fast setting (batched, repro/config/evaluation.yaml `fast:`) carries the token `fast`
(`fast`, `chat-fast`, `fast-fp16`, `layer07-fast-stable`...), never the paper's batch 1 unmarked;
`paper_setting` is a variant with both back to the paper's (batch 1, the paper's rule).
"""

from __future__ import annotations

import re

from repro.core.pruning import PAPER_TIE_BREAK, TIE_BREAKS
from repro.core.variant import Variant

__all__ = ["FAST", "PAPER_TIE_BREAK", "TIE_BREAKS", "is_fast", "paper_setting", "paper_twin", "rule_of",
           "rule_variant", "setting_variant"]

FAST = "fast"
_BEFORE_FAST = re.compile(r"layer\d+|align\d+|chat")  # the tokens a variant writes before `fast`


def _parsed(variant: str) -> Variant | None:
    try:
        return Variant.parse(variant)
    except ValueError:  # a variant no kit wrote (tidy rows from elsewhere): read by its tokens
        return None


def rule_variant(variant: str, tie_break: str) -> str:
    """`variant` pruned with `tie_break` (the paper's rule adds no token)."""
    v = _parsed(variant)
    if v is not None:
        return str(v.replace(tie_break=tie_break))
    token = "" if tie_break == PAPER_TIE_BREAK else tie_break
    return "-".join(p for p in (paper_twin(variant), token) if p)


def rule_of(variant: str) -> str:
    """The tie-break a variant names, the paper's when it names none."""
    v = _parsed(variant)
    last = variant.rsplit("-", 1)[-1]
    return v.tie_break if v is not None else last if last in TIE_BREAKS else PAPER_TIE_BREAK


def paper_twin(variant: str) -> str:
    """The same variant pruned with the paper's rule."""
    v = _parsed(variant)
    if v is not None:
        return str(v.replace(tie_break=PAPER_TIE_BREAK))
    if rule_of(variant) == PAPER_TIE_BREAK:
        return variant
    return variant.rsplit("-", 1)[0] if "-" in variant else ""


def is_fast(variant: str) -> bool:
    """Whether a variant was evaluated in the fast setting (batched), not the paper's batch 1."""
    v = _parsed(variant)
    return v.fast if v is not None else FAST in variant.split("-")


def setting_variant(variant: str, fast: bool) -> str:
    """`variant` evaluated in the fast setting (fast=True) or in the paper's (no token)."""
    v = _parsed(variant)
    if v is not None:
        return str(v.replace(fast=fast))
    tokens = [t for t in variant.split("-") if t and t != FAST]
    if fast:  # where the kit writes it: after layerNN, alignN and chat
        at = next((i for i, t in enumerate(tokens) if not _BEFORE_FAST.fullmatch(t)), len(tokens))
        tokens.insert(at, FAST)
    return "-".join(tokens)


def paper_setting(variant: str) -> str:
    """The same variant in the paper's setting: batch 1, pruned with the paper's rule."""
    return setting_variant(paper_twin(variant), False)
