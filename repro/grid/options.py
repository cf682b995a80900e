"""What every grid stage takes, typed and checked once (the command line's shared vocabulary,
repro/core/options.py, builds it from --models --levels --criteria --device --dtype --tie-break
--results --shard --dry-run --wait)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from repro.core import pruning
from repro.core.dtypes import DTYPES
from repro.core.errors import ReproError
from repro.core.options import DEVICE, parse_shard


def _tuple(values: Sequence | None, check=None) -> tuple | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return tuple(check(v) if check else v for v in values)


@dataclass(frozen=True)
class GridOptions:
    """models: short names from models.yaml or local folders (None: the stage's own list);
    levels: percent of MLP neurons pruned (None: the stage's or model's list); criteria: neuron
    criteria (None: the stage's configured ones); device: auto, cpu, cuda or cuda:N; dtype:
    weights dtype (None: each model's own); tie_break: topk (the paper) or stable; results: the
    cell root folder; shard: 'i/n', this runner's part of the grid; dry_run: list the cells and
    their state, compute nothing; check: compute nothing, and fail (IncompleteGrid) when cells
    of this shard are missing (the pipeline asks this before aggregating); wait: seconds to wait for cells other runners hold (None: until
    they finish, or their claims go stale and are taken over)."""

    models: tuple[str, ...] | None = None
    levels: tuple[float, ...] | None = None
    criteria: tuple[str, ...] | None = None
    device: str = "auto"
    dtype: str | None = None
    tie_break: str = pruning.PAPER_TIE_BREAK
    results: Path = Path("results")
    shard: str | None = None
    dry_run: bool = False
    check: bool = False
    wait: float | None = None

    def __post_init__(self) -> None:
        def put(name: str, value) -> None:
            object.__setattr__(self, name, value)

        put("models", _tuple(self.models, str))
        put("levels", _tuple(self.levels, lambda v: pruning.level(float(v))))
        put("criteria", _tuple(self.criteria, pruning.criterion))
        put("results", Path(self.results))
        put("dry_run", self.dry_run or self.check)
        pruning.tie_break(self.tie_break)
        parse_shard(self.shard)
        if not DEVICE.fullmatch(self.device):
            raise ReproError(f"device '{self.device}' is not a device: use auto, cpu, cuda or cuda:N")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ReproError(f"dtype '{self.dtype}': choose one of {', '.join(DTYPES)}")
        if self.wait is not None and not self.wait >= 0:
            raise ReproError(f"wait {self.wait}: give seconds >= 0")


def from_cli(args: argparse.Namespace) -> GridOptions:
    """The command line's values (repro.core.options.add_grid), the only Namespace read here."""
    return GridOptions(**{f.name: getattr(args, f.name) for f in fields(GridOptions)})


DEFAULT = GridOptions()  # every stage's defaults (frozen: safe as a default argument)
