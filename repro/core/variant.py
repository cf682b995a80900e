"""A cell's variant: what it measures differently from the paper's setting, one named field per
dimension, and its one text form (used in cell paths, cell records and the tidy rows).

  field           token            stages
  layer           layerNN          sensitivity: only decoder layer NN's MLP cut
  align           alignN           efficiency: kept width rounded to a multiple of N
  chat            chat             evaluate: lm-eval's chat template
  fast            fast             lm-eval stages: the fast setting, batched (evaluation.yaml)
  allocation      owl, spareK      evaluate, extensions: a non-uniform share of the budget
  device          cpu              efficiency: timed on a CPU (GPU: no token)
  random_weights  randinit         efficiency: random weights of the model's exact shape
  dtype           fp16 bf16 fp32   neuron selection: the dtype it ran in (always named)
                  float32 ...      efficiency: a dtype other than the model's own
  profile         quick ...        efficiency: a settings profile other than `default`
  synthetic       synthetic        efficiency: paper workloads fed synthetic prompts
  tie_break       stable           any stage: ties broken by the corrected rule

The text joins the tokens of the fields that differ from their default with '-' in the order
above ('' is the paper's setting), e.g. `chat-owl-stable`, `chat-fast`, `align64-cpu-float32-quick`,
`layer07-stable`; `Variant.parse` reads it back and refuses any text it would not write, so a
text has one meaning and a meaning one text. These are the names every earlier kit wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from repro.core.dtypes import DTYPES, TAGS
from repro.core.pruning import PAPER_TIE_BREAK, TIE_BREAKS, UNIFORM, Allocation, allocation

_NUMBERED = re.compile(r"(layer|align)(\d+)")
_DTYPE_TOKENS = (*DTYPES, *TAGS.values())
_FLAGS = {"chat": "chat", "fast": "fast", "randinit": "random_weights", "synthetic": "synthetic"}
RESERVED = frozenset([*_FLAGS, "cpu", *_DTYPE_TOKENS, *TIE_BREAKS, "owl", "uniform", "default"])


@dataclass(frozen=True)
class Variant:
    layer: int | None = None
    align: int | None = None
    chat: bool = False
    fast: bool = False          # the fast setting's batching, not the paper's batch 1
    allocation: Allocation = field(default=UNIFORM)
    device: str = ""            # '' = a CUDA GPU
    random_weights: bool = False
    dtype: str = ""             # '' = the model's own (models.yaml)
    profile: str = ""           # '' = the default profile
    synthetic: bool = False
    tie_break: str = PAPER_TIE_BREAK

    def __post_init__(self) -> None:
        bad = None
        if self.device not in ("", "cpu"):
            bad = f"device '{self.device}' (cpu, or '' for a GPU)"
        elif self.dtype and self.dtype not in _DTYPE_TOKENS:
            bad = f"dtype '{self.dtype}'"
        elif self.tie_break not in TIE_BREAKS:
            bad = f"tie-break '{self.tie_break}'"
        elif self.profile and (self.profile in RESERVED or "-" in self.profile
                               or _NUMBERED.fullmatch(self.profile) or _is_allocation(self.profile)):
            bad = f"profile name '{self.profile}' (it reads as another token; rename it)"
        elif any(n is not None and n < 0 for n in (self.layer, self.align)) or self.align == 0:
            bad = f"layer {self.layer} / align {self.align}"
        if bad:
            raise ValueError(f"not a variant: {bad}")

    def __str__(self) -> str:
        return "-".join(t for t in (
            "" if self.layer is None else f"layer{self.layer:02d}",
            "" if self.align is None else f"align{self.align}",
            "chat" if self.chat else "", "fast" if self.fast else "", self.allocation.tag, self.device,
            "randinit" if self.random_weights else "", self.dtype, self.profile,
            "synthetic" if self.synthetic else "",
            "" if self.tie_break == PAPER_TIE_BREAK else self.tie_break) if t)

    @classmethod
    def parse(cls, text: str) -> Variant:
        """The variant a text names; ValueError for a text this kit would not write."""
        kw: dict = {}

        def put(key: str, value) -> None:
            if key in kw:
                raise ValueError(f"not a variant this kit writes: '{text}' ({key} given twice)")
            kw[key] = value

        for token in text.split("-") if text else []:
            numbered = _NUMBERED.fullmatch(token)
            if numbered:
                put(numbered.group(1), int(numbered.group(2)))
            elif token in _FLAGS:
                put(_FLAGS[token], True)
            elif token == "cpu":
                put("device", token)
            elif token in _DTYPE_TOKENS:
                put("dtype", token)
            elif token in TIE_BREAKS:
                put("tie_break", token)
            elif _is_allocation(token):
                put("allocation", allocation(token))
            else:
                put("profile", token)
        try:
            out = cls(**kw)
        except ValueError as exc:
            raise ValueError(f"not a variant this kit writes: '{text}' ({exc})") from None
        if str(out) != text:
            raise ValueError(f"not a variant this kit writes: '{text}' (it writes '{out}')")
        return out

    def replace(self, **changes) -> Variant:
        return replace(self, **changes)


def _is_allocation(token: str) -> bool:
    return token == "owl" or re.fullmatch(r"spare[1-9]\d*", token) is not None
