"""What an lm-eval grid stage will compute, checked before any weights load: the models, their
tasks, levels, criteria, allocations and variants (a ModelPlan each), the options every such
stage takes (LmEvalOptions), and the settings that change numbers (Settings).

Shared by evaluate, neuron-selection, sensitivity and extensions: they differ only in their
defaults (the rules passed to `make_plans`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.config import models, suites
from repro.config.evaluation import SETTINGS, evaluation
from repro.core import pruning
from repro.core.errors import ReproError
from repro.core.pruning import PAPER_TIE_BREAK, UNIFORM, Allocation
from repro.core.variant import Variant
from repro.evaluate.batch import FAST, is_auto, requested
from repro.grid.options import GridOptions
from repro.results.cells import Cell

# lm-eval 0.4.9.1's own defaults, fixed here so that a later default change cannot move them
SEEDS = {"random_seed": 0, "numpy_random_seed": 1234, "torch_random_seed": 1234,
         "fewshot_random_seed": 1234}
BATCH_SIZE = re.compile(r"auto(:[1-9]\d*)?|[1-9]\d*")


@dataclass(frozen=True)
class LmEvalOptions:
    """The options of the stages that run lm-eval. suite: a suite of suites.yaml (None: each
    model's own); tasks: only these tasks of it; limit: documents per task, or a fraction in
    (0, 1) (tests only; recorded); batch_size: 'auto', 'auto:N' or a number (None: evaluation.yaml's,
    1: what the paper's code effectively ran; a task's own in suites.yaml wins); max_batch_size:
    the largest size 'auto' tries; setting: 'paper' (the paper's batching) or 'fast' (batched:
    evaluation.yaml `fast:`, its own cells, variant `fast`, labelled wherever shown); max_length: lm-eval's context length (None: the model's own,
    models.yaml's); bootstrap_iters: lm-eval's stderr
    resamples; seed: of the 'random' criterion; calibration: a UTF-8 text for activation, hybrid
    and owl (None: Python stdlib docstrings), cut into calibration_samples windows of 512 tokens."""

    suite: str | None = None
    tasks: tuple[str, ...] | None = None
    limit: float | None = None
    batch_size: str | None = None
    max_batch_size: int = 64
    setting: str = "paper"
    max_length: int | None = None
    bootstrap_iters: int = 100000
    seed: int = 0
    calibration: Path | None = None
    calibration_samples: int = 32

    def __post_init__(self) -> None:
        if self.tasks is not None:
            object.__setattr__(self, "tasks", tuple(self.tasks))
        if self.calibration is not None:
            object.__setattr__(self, "calibration", Path(self.calibration))
            if not self.calibration.is_file():
                raise ReproError(f"--calibration {self.calibration} is not a file; give a UTF-8 text file")
        if self.setting not in SETTINGS:
            raise ReproError(f"setting '{self.setting}': choose {' or '.join(SETTINGS)}")
        if self.setting == "fast" and self.batch_size is not None:
            raise ReproError("--batch-size with --setting fast: the fast setting batches by its own "
                             "rule (repro/config/evaluation.yaml `fast:`); give one or the other")
        if self.batch_size is not None and not BATCH_SIZE.fullmatch(str(self.batch_size)):
            raise ReproError(f"batch size '{self.batch_size}': use auto, auto:N or a whole number")
        if self.limit is not None and not (0 < self.limit < 1 or (self.limit >= 1 and self.limit == int(self.limit))):
            raise ReproError(f"limit {self.limit}: a fraction in (0, 1) or a whole number of documents")


DEFAULT_LM = LmEvalOptions()  # the paper's effective settings (repro/config/evaluation.yaml)


@dataclass
class ModelPlan:
    """Everything a model's cells need, validated before any weights load. `pairs`: the
    (criterion, allocation) rows; `variants`: the variant of every cell before its allocation."""

    spec: models.ModelSpec
    tasks: list[suites.TaskSpec]
    levels: list[float]
    pairs: list[tuple[str, Allocation]]
    variants: list[Variant] = field(default_factory=lambda: [Variant()])
    stage: str = "evaluate"
    dtype: str = ""

    @property
    def criteria(self) -> list[str]:
        return list(dict.fromkeys(c for c, _ in self.pairs))

    def cells(self) -> list[Cell]:
        out = set()
        for v in self.variants:
            for crit, alloc in self.pairs:
                for lv in self.levels:
                    if lv == 0 and alloc != UNIFORM:
                        continue  # the unpruned model depends on neither criterion nor allocation
                    crit_ = "maw" if lv == 0 else crit  # (nor on the criterion: one cell, recorded as maw)
                    for t in self.tasks:
                        out.add(Cell(self.stage, self.spec.name, crit_, lv, t.name, v.replace(allocation=alloc)))
        return sorted(out)


@dataclass
class Settings:
    """Run settings that change numbers; a cell computed with others is rerun."""

    device: str
    batch_size: str
    limit: float | None
    bootstrap_iters: int
    max_length: int | None = None  # None: each model's own (models.yaml)
    seed: int = 0  # of the 'random' criterion
    calibration: Path | None = None
    calibration_samples: int = 32
    tie_break: str = PAPER_TIE_BREAK  # which neurons a level keeps among equal scores
    max_batch_size: int = 64          # the largest size "auto" tries (lm-eval's default)
    _sha256: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, grid: GridOptions, lm: LmEvalOptions) -> Settings:
        """The settings of a run (the device resolved: a GPU when there is one for 'auto')."""
        from repro.evaluate.hflm import default_batch_size
        from repro.runtime.device import resolve

        device = resolve(grid.device)  # the default batch size is the same on every device
        return cls(device=device, batch_size=lm.batch_size or default_batch_size(),
                   limit=lm.limit, bootstrap_iters=lm.bootstrap_iters, max_length=lm.max_length,
                   seed=lm.seed, calibration=lm.calibration,
                   calibration_samples=lm.calibration_samples, tie_break=grid.tie_break,
                   max_batch_size=lm.max_batch_size)

    def for_cell(self, spec: models.ModelSpec, dtype: str, criterion: str = "",
                 task: suites.TaskSpec | None = None, allocation: dict | None = None,
                 fast: bool = False) -> dict[str, Any]:
        out = {"limit": self.limit, "bootstrap_iters": self.bootstrap_iters,
               "max_length": self.max_length or spec.max_length, "dtype": dtype,
               "revision": spec.revision, "seeds": SEEDS, "random_criterion_seed": self.seed,
               "tie_break": self.tie_break, **evaluation().cell_settings()}
        if task is not None and fast:  # the fast setting's batching (repro/evaluate/fast.py)
            out["batch_size"], out["fast"] = FAST, evaluation().fast.record()
        elif task is not None:  # scores can move with the batch size (repro/evaluate/batch.py)
            out["batch_size"] = requested(task, self.batch_size)
            if is_auto(out["batch_size"]):
                out["max_batch_size"] = self.max_batch_size
        if criterion in pruning.CALIBRATED:  # other calibration text or windows: other neurons
            out["calibration"] = {"sha256": self.calibration_sha256(),
                                  "samples": self.calibration_samples}
        if allocation is not None:  # a non-uniform allocation (repro/evaluate/stage.py)
            out["allocation"] = allocation
        return out

    def calibration_text(self) -> str:
        """--calibration, else stdlib docstrings (the documented default, shipped with Python)."""
        from repro.core.textio import read_text
        from repro.evaluate.tasks.text import calibration_text

        return (read_text(self.calibration, "--calibration") if self.calibration is not None
                else calibration_text())

    def calibration_sha256(self) -> str:
        """The calibration text's SHA-256, as cells record it (other text: the cell is rerun);
        read and hashed once per run, not once per cell."""
        if self._sha256 is None:
            self._sha256 = hashlib.sha256(self.calibration_text().encode()).hexdigest()
        return self._sha256


def make_plans(grid: GridOptions, lm: LmEvalOptions, *, stage: str, default_models: Sequence[str],
               criteria: Sequence[str], suite_of: Callable[[models.ModelSpec], str | None],
               levels_of: Callable[[models.ModelSpec], list[float]],
               variants_of: Callable[[models.ModelSpec, str], list[Variant]],
               allocations: Sequence[Allocation] = (UNIFORM,),
               pairs: Sequence[tuple[str, Allocation]] | None = None,
               task_of: Callable[[models.ModelSpec, str], str] | None = None,
               dtype_of: Callable[[models.ModelSpec], str] = lambda spec: spec.dtype,
               ) -> list[ModelPlan]:
    """Validate every model, suite, task, level, variant and criterion; no weights are loaded.
    `criteria` x `allocations` are the rows unless `pairs` names them; `task_of(spec, suite)`:
    the one task a stage measures of the suite (None: the suite's, or lm.tasks); `dtype_of`:
    a model's dtype when --dtype is not given (neuron selection: its `selection_dtype`)."""
    rows = [(pruning.criterion(c), a) for c, a in pairs] if pairs is not None else [
        (pruning.criterion(c), a) for a in dict.fromkeys(allocations) for c in dict.fromkeys(criteria)]
    plans = []
    for name in grid.models or default_models:
        spec = models.get(name)
        suite = lm.suite or suite_of(spec)
        if not suite:
            raise ReproError(f"{name} is a local model with no suite of its own: pass --suite")
        tasks = suites.resolve(suite, list(lm.tasks) if lm.tasks else None)
        if task_of is not None:
            one = task_of(spec, suite)
            tasks = [t for t in tasks if t.name == one]
        dtype = grid.dtype or dtype_of(spec)
        variants = [v.replace(tie_break=grid.tie_break, fast=lm.setting == "fast")
                    for v in variants_of(spec, dtype)]
        plans.append(ModelPlan(spec, tasks, levels_of(spec), rows, variants, stage=stage, dtype=dtype))
    for p in plans:
        models.check_access(p.spec)
    return plans


def calibration_for(tokenizer, settings: Settings):
    """Calibration windows for 'activation', 'hybrid' and OWL: --calibration, else stdlib
    docstrings (documented default, shipped with Python: repro.evaluate.tasks.text)."""
    from repro.evaluate.tasks.text import CALIBRATION_MODULES
    from repro.prune import criteria

    text = settings.calibration_text()
    source = (str(settings.calibration) if settings.calibration is not None
              else "python-stdlib-docstrings:" + ",".join(CALIBRATION_MODULES))
    batches = criteria.calibration_batches(tokenizer, text, samples=settings.calibration_samples)
    record = {"source": source, "sha256": hashlib.sha256(text.encode()).hexdigest(),
              "samples": settings.calibration_samples, "seq_len": 512}
    return batches, record
