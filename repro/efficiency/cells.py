"""Which efficiency cells a model gets, without torch: (level, width, workload) from the config.

    from repro.efficiency.cells import planned
    for level, width, wl in planned(cfg, spec, levels=[0, 40]): ...

The rule (efficiency.yaml): every workload of the chosen protocols at every level, unaligned; the
alignment variants (align64, align128) only for protocols whose `widths` name them (the corrected
protocol), never at level 0 (the unpruned width is already aligned), never when the aligned width
equals the unaligned one (e.g. 4096 = 50% of 8192) or exceeds the MLP width. The grid that
measures them (grid.plan) and the run-time estimate (repro/ops/estimate.py) share this rule;
tests/efficiency/test_cells.py holds them together.
"""

from __future__ import annotations

from repro.config.efficiency import EfficiencyConfig
from repro.efficiency.workloads import Workload, workloads
from repro.prune.widths import Target


def aligned_widths(level: float, widths, width: int | None) -> list[tuple[str, int | None]]:
    """(width name, alignment or None) measured at `level` for an MLP `width` wide."""
    out = []
    for name in widths:
        align = None if name == "unaligned" else int(name.removeprefix("align"))
        if align and level == 0:
            continue
        if align and width:
            if align > width or (Target(level=level, align=align).width(width, 1)
                                 == Target(level=level).width(width, 1)):
                continue
        out.append((name, align))
    return out


def planned(cfg: EfficiencyConfig, width: int | None, levels, *, widths=None,
            wls: list[Workload] | None = None) -> list[tuple[float, str, Workload]]:
    """Every (level, width name, workload) of one model and criterion."""
    wls = workloads(cfg) if wls is None else wls
    names = widths or ["unaligned"] + [f"align{a}" for a in cfg.alignment]
    return [(float(level), name, wl)
            for level in levels
            for name, _ in aligned_widths(level, names, width)
            for wl in wls if cfg.measures(wl.kind, name)]
