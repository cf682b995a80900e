"""The efficiency cells planned without torch (repro/efficiency/cells.py, which the run-time
estimate counts) are the grid's own (grid.plan, which the stage measures)."""

import pytest

from repro.config.efficiency import load_config
from repro.efficiency import grid
from repro.efficiency.cells import planned
from repro.efficiency.workloads import workloads


@pytest.mark.parametrize("width", [8192, 1536, 58])
def test_cells_planned_without_torch_are_the_grids(width):
    cfg = load_config()
    levels = [0, 10, 20, 30, 40, 50, 60]
    widths = ["unaligned", "align64", "align128"]
    ours = {(lv, name, wl.name) for lv, name, wl in planned(cfg, width, levels)}
    theirs = grid.plan("m", "maw", levels, widths, workloads(cfg), variant_kw={},
                       prompt_source="synthetic", width=width, measures=cfg.measures)
    got = {(g.cell.level, "unaligned" if g.align is None else f"align{g.align}", g.workload.name)
           for g in theirs}
    assert ours == got
    # the paper protocol never at an aligned width; level 0 never aligned
    assert not any(name != "unaligned" and wl.startswith(("hellaswag", "mmlu", "ifeval"))
                   for _, name, wl in ours)
    assert not any(lv == 0 and name != "unaligned" for lv, name, _ in ours)


def test_paper_grid_before_and_after():
    """Issue 19: 44 width variants x 12 workloads (528) for the three paper models before;
    now the paper protocol on 1B and 3B at their own widths, alignment for the corrected one."""
    cfg = load_config()
    per_model = len(planned(cfg, 8192, [0, 10, 20, 30, 40, 50, 60]))
    assert per_model == 7 * 12 + 5 * 2 * 6 and len(cfg.models) * per_model == 288
