"""Kept widths: how many MLP neurons per layer a target keeps (plain Python, no torch).

optipfair v0.2.0's keep count, bit for bit (that float order; I = 8192, p = 40 -> 4916):
    k = I - min(int(p / 100 * I), I - 1)
An expansion-ratio target keeps round(ratio x hidden) neurons; `align` rounds a kept width to
the nearest multiple (never 0, never above the original width).
"""

from __future__ import annotations

from dataclasses import dataclass

from repro.core import pruning
from repro.core.errors import ReproError


def keep_count(width: int, level: float) -> int:
    """optipfair v0.2.0's kept width for `level` percent of `width` neurons pruned (a level
    checked where it entered: repro.core.pruning.level)."""
    return width - min(int(level / 100 * width), width - 1)


def width_for_expansion(hidden: int, width: int, ratio: float) -> int:
    """Kept width for an expansion ratio k / hidden (the paper's 2.4x is 1B at 40%)."""
    k = round(ratio * hidden)
    if not (1 <= k <= width):
        raise ReproError(f"expansion ratio {ratio:g} gives width {k}, outside [1, {width}] "
                         f"(hidden {hidden}, original ratio {width / hidden:.3g}); choose a smaller ratio")
    return k


def align_width(k: int, width: int, align: int) -> int:
    """Round k to the nearest multiple of `align`, never 0 and never above the original width."""
    if align < 1:
        raise ReproError(f"--align {align} must be a positive integer such as 64")
    if align > width:
        raise ReproError(f"--align {align} exceeds the layer width {width}; choose a smaller multiple")
    aligned = max(align, int(round(k / align)) * align)
    while aligned > width:
        aligned -= align
    return aligned


@dataclass(frozen=True)
class Target:
    """What to keep: a pruning level in percent, or an expansion ratio; optional alignment."""

    level: float | None = None
    expansion: float | None = None
    align: int | None = None

    def __post_init__(self) -> None:
        if (self.level is None) == (self.expansion is None):
            raise ReproError("give exactly one of --level (percent pruned) or --expansion (k / hidden)")
        if self.level is not None:
            pruning.level(self.level)
        if self.expansion is not None and not self.expansion > 0:
            raise ReproError(f"expansion ratio {self.expansion:g} must be positive, e.g. 2.4")
        if self.align is not None and self.align < 1:
            raise ReproError(f"--align {self.align} must be a positive integer such as 64")

    def width(self, width: int, hidden: int) -> int:
        k = (keep_count(width, self.level) if self.level is not None
             else width_for_expansion(hidden, width, self.expansion))
        return align_width(k, width, self.align) if self.align else k

    @property
    def label(self) -> str:
        base = f"level{self.level:g}" if self.level is not None else f"exp{self.expansion:g}"
        return base + (f"-align{self.align}" if self.align else "")
