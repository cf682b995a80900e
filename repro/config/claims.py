"""The paper's claims as data: repro/config/claims.yaml (the report evaluates them).

A claim states something about a quantity the report computes from the tidy data: a number
within a tolerance, a bound, a range, a peak, a trend, a significant change or its absence.
How a claim is judged is its `op`, one of the operators of repro/report/claims/operators/
(each checks its own claims: a stated value where it needs one). The shape of each entry is
below; the file's header explains every key. The printed percentages of the results README's
tables are data here too (`tables`), one claim per cell; the digest's findings (`digest`) and
the seeds' contradictions (`conflicts`) are lists of claim ids.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from repro.config.loader import kit_file, load, require

FILE = kit_file("claims.yaml")
KINDS = ("value", "rel_change", "abs_change", "retained", "argmax_level", "argmin_level",
         "pearson_r", "pearson_p", "spearman_rho", "expansion_ratio", "expansion_excess",
         "kept_width", "params", "n_tasks", "n_levels", "n_models", "tradeoff")
NATURES = ("finding", "plan")  # a plan: an early draft's intention, not a result of the study
SEEDS = ("000", "001", "002", "003", "004")  # shared/seeds/NNN_*.txt: where a claim is stated

Many = str | tuple[str, ...]
Levels = float | tuple[float, ...]


@dataclass(frozen=True)
class Quantity:
    of: Literal[KINDS]
    model: Many = ()
    task: Many = ()
    level: Levels = ()
    criterion: Many = "maw"
    metric: str | None = None         # default: the paper's (metrics.yaml)
    filter: str | None = None
    variant: str = ""
    scale: float = 1.0
    x: str | None = None              # correlations: the two tasks
    y: str | None = None
    ratio: float | None = None        # the levels whose expansion ratio is this (per model)
    combine: Literal["mean", "each"] = "mean"  # a task list: averaged per level, or one part each
    reduce: Literal["range", "min", "max", "sum"] = "range"  # several parts: range, extreme or sum
    reference: float = 0.0            # the level a change is measured from (0: the baseline)


@dataclass(frozen=True)
class Reading:
    """Another defensible reading of a claim's scope: the fields given replace the quantity's."""

    label: str
    op: str | None = None             # judged another way (e.g. a trend instead of "never falls")
    stated: float | None = None       # the number that other way needs
    of: Literal[KINDS] | None = None
    model: Many | None = None
    task: Many | None = None
    level: Levels | None = None
    metric: str | None = None
    filter: str | None = None
    ratio: float | None = None
    combine: Literal["mean", "each"] | None = None
    reduce: Literal["range", "min", "max", "sum"] | None = None
    reference: float | None = None
    context: bool = False             # shown beside the choices, never counted as one (another model)

    def apply(self, q: Quantity) -> Quantity:
        return replace(q, **{f.name: getattr(self, f.name) for f in fields(self)
                             if f.name not in ("label", "op", "stated", "context") and getattr(self, f.name) is not None})


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    where: str
    quantity: Quantity
    stated: float | tuple[float, ...] | None = None
    tolerance: float = 0.0
    op: str = "~"                     # an operator of repro/report/claims/operators/
    unit: str = ""
    digits: int = 1
    group: str = ""
    note: str = ""
    reading: str = ""                 # how the text's scope was read, where it needed reading
    readings: tuple[Reading, ...] = ()  # the other readings the robustness check tries
    unrecorded: str = ""              # why the published data cannot hold this quantity
    section: str = ""                 # '' for the claims; a printed table's id for its cells
    margin: float | None = None       # equivalence margin, claim's unit (default: the file's)
    nature: Literal[NATURES] = "finding"

    def __post_init__(self) -> None:
        require(self.where[:3] in SEEDS, f"claim {self.id}: 'where' must start with a seed "
                                         f"number ({', '.join(SEEDS)})")
        require(self.tolerance >= 0, f"claim {self.id}: tolerance must be >= 0")
        require(self.margin is None or self.margin > 0, f"claim {self.id}: margin must be > 0")
        pair = isinstance(self.stated, tuple)
        require(not pair or len(self.stated) == 2, f"claim {self.id}: stated takes [low, high]")


@dataclass(frozen=True)
class Choice:
    """An analysis choice the data hold for a task: one of its metrics (and filter)."""

    metric: str
    filter: str = "none"


@dataclass(frozen=True)
class PrintedTable:
    """A results-README table's printed % changes, one claim per cell (level x column)."""

    id: str
    where: str
    model: str
    table: str                        # metrics.yaml table: the metric of each column
    columns: tuple[str, ...]
    changes: dict[int, tuple[float | None, ...]]

    def __post_init__(self) -> None:
        for lv, row in self.changes.items():
            require(len(row) == len(self.columns),
                    f"table {self.id}: level {lv} has {len(row)} cells for {len(self.columns)} columns")


@dataclass(frozen=True)
class Finding:
    """One line of the digest: a finding of the paper and the claims that decide it."""

    id: str
    finding: str                      # the paper's finding, as a reviewer would name it
    claims: tuple[str, ...]           # the first is the headline: its effect is shown
    caveat: str = ""                  # the one caveat that matters


@dataclass(frozen=True)
class Conflict:
    """Two seeds that say incompatible things (no number needed): both are shown, flagged."""

    id: str
    says: tuple[str, ...]             # each: "NNN section: what it says"
    claims: tuple[str, ...] = ()      # the claims that check either side, if any
    note: str = ""                    # what the data or the code say


@dataclass(frozen=True)
class ClaimsFile:
    version: int
    claims: tuple[Claim, ...]
    alpha: float = 0.05
    power: float = 0.8                # the detectable change an underpowered verdict names
    margin: float = 10.0              # default equivalence margin (% of the baseline)
    choices: dict[str, tuple[Choice, ...]] = field(default_factory=dict)
    tables: tuple[PrintedTable, ...] = ()
    digest: tuple[Finding, ...] = ()
    conflicts: tuple[Conflict, ...] = ()

    def __post_init__(self) -> None:
        require(0 < self.alpha < 1, "alpha must lie between 0 and 1")
        require(0 < self.power < 1, "power must lie between 0 and 1")
        require(self.margin > 0, "margin must be > 0")
        seen: set[str] = set()
        for c in self.claims:
            require(c.id not in seen, f"duplicate claim id {c.id}")
            seen.add(c.id)
        for f in self.digest:
            require(bool(f.claims), f"digest {f.id}: names no claim")
        for ref in [*(x for f in self.digest for x in f.claims),
                    *(x for c in self.conflicts for x in c.claims)]:
            require(ref in seen, f"digest or conflict names claim '{ref}', which does not exist")

    def margin_of(self, claim: Claim) -> float:
        return self.margin if claim.margin is None else claim.margin


def table_claims(t: PrintedTable) -> list[Claim]:
    """One claim per printed cell: its % change from the baseline, to the printed tenth."""
    from repro.config.metrics import metrics

    out = []
    for lv, row in sorted(t.changes.items()):
        for task, pct in zip(t.columns, row, strict=True):
            if pct is None:
                continue
            metric, filt = metrics().metric_for(t.model, task, t.table)
            out.append(Claim(
                id=f"{t.id}-{task}-{lv}", statement=f"{task} at {lv}%: {pct:+.1f}%", where=t.where,
                quantity=Quantity(of="rel_change", model=t.model, task=task, level=float(lv),
                                  metric=metric, filter=filt),
                stated=pct, tolerance=0.05, unit="%", digits=2, section=t.id))
    return out


@functools.cache
def _load(path: Path) -> ClaimsFile:
    return load(ClaimsFile, path)


def claims_file(path: str | Path = FILE) -> ClaimsFile:
    return _load(Path(path))


def load_claims(path: str | Path = FILE, *, tables: bool = False) -> list[Claim]:
    """The claims; with tables=True also one claim per printed table cell (after them)."""
    spec = claims_file(path)
    out = list(spec.claims)
    if tables:
        for t in spec.tables:
            out += table_claims(t)
    return out
