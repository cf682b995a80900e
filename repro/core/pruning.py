"""The pruning vocabulary, by name, without torch: criteria (and which need calibration text),
allocations of a level's neuron budget between layers, and tie-break rules. Every stage and the
command line check a value against these once; repro.prune implements what they name.

  criteria     maw (alias ppm), vow, pon, l2: optipfair's weight scores (repro/prune/criteria.py)
               random: seeded scores; activation, hybrid: need calibration text
  allocations  uniform (the paper), spareK, owl (repro/prune/allocation.py); a cell's variant
               names a non-uniform one by its tag ('owl', 'spare3'; uniform adds nothing)
  tie-breaks   topk: the paper's rule and the default, optipfair 0.2.0's `torch.topk` on the
               weights' device; stable: corrected, lower index wins, nested levels on any device
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from repro.core.errors import ReproError

WEIGHT_CRITERIA = ("maw", "vow", "pon", "l2")
CALIBRATED = ("activation", "hybrid")  # need calibration text
DATA_CRITERIA = ("random", *CALIBRATED)
CRITERIA = (*WEIGHT_CRITERIA, *DATA_CRITERIA)
ALIASES = {"ppm": "maw"}

PAPER_TIE_BREAK = "topk"
TIE_BREAKS = (PAPER_TIE_BREAK, "stable")

ALLOCATION_RULES = ("uniform", "spare", "owl")
_SPARE = re.compile(r"spare([1-9]\d*)")


def criterion(name: str) -> str:
    """The canonical criterion name (ppm -> maw, any case), or one line naming the choices."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in CRITERIA:
        raise ReproError(f"unknown pruning criterion '{name}'; choose one of: "
                         f"{', '.join([*CRITERIA, *ALIASES])}")
    return key


def level(value: float) -> float:
    """A pruning level: percent of MLP neurons pruned, 0 <= p < 100, with at most the digits a
    cell's name keeps (cells and folders are named f"{level:g}": two levels, one name)."""
    if not 0 <= value < 100:
        raise ReproError(f"{value:g} is outside [0, 100): give a percentage such as 40")
    if float(f"{value:g}") != value:
        raise ReproError(f"{value!r} has more digits than a cell name keeps ({value:g}); give at "
                         "most 6 significant digits")
    return value


def tie_break(name: str) -> str:
    if name not in TIE_BREAKS:
        raise ReproError(f"unknown tie-break '{name}'; choose one of: {', '.join(TIE_BREAKS)}")
    return name


@dataclass(frozen=True)
class Allocation:
    """How a level's neuron budget is shared between layers (repro/prune/allocation.py)."""

    rule: str = "uniform"
    k: int = 0  # spare: how many layers keep every neuron

    def __post_init__(self) -> None:
        if self.rule not in ALLOCATION_RULES or (self.rule == "spare") != (self.k >= 1):
            raise ReproError(f"allocation {self.rule}{self.k or ''}: choose uniform, owl or spareK "
                             "(K >= 1)")

    @property
    def tag(self) -> str:
        """The name in result cells and the tidy data's `variant` ('' for uniform)."""
        return {"uniform": "", "spare": f"spare{self.k}", "owl": "owl"}[self.rule]

    @property
    def name(self) -> str:
        return self.tag or "uniform"


UNIFORM = Allocation()


def allocation(text: str) -> Allocation:
    """'uniform' (or ''), 'owl' or 'spareK' (K >= 1)."""
    if text in ("uniform", "", "owl"):
        return Allocation(text or "uniform")
    m = _SPARE.fullmatch(text)
    if m:
        return Allocation("spare", int(m.group(1)))
    raise ReproError(f"unknown allocation '{text}'; choose uniform, owl or spareK (e.g. spare3)")
