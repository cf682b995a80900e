"""What an evaluation will compute, checked before any weights load: the models, their tasks,
levels, criteria and variants (a ModelPlan each), and the settings that change numbers.

Shared by `repro evaluate` and `repro neuron-selection`: they differ only in their defaults
(the rules passed to `make_plans`).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.config import models, suites
from repro.config.evaluation import evaluation
from repro.core.errors import ReproError
from repro.core.ties import PAPER_TIE_BREAK, paper_twin, rule_of, rule_variant
from repro.evaluate.batch import is_auto, requested
from repro.results.cells import Cell

# lm-eval 0.4.9.1's own defaults, fixed here so that a later default change cannot move them
SEEDS = {"random_seed": 0, "numpy_random_seed": 1234, "torch_random_seed": 1234,
         "fewshot_random_seed": 1234}


@dataclass
class ModelPlan:
    """Everything a model's cells need, validated before any weights load."""

    spec: models.ModelSpec
    tasks: list[suites.TaskSpec]
    levels: list[float]
    criteria: list[str]
    variants: list[str]
    stage: str = "evaluate"
    dtype: str = ""
    cells: list[Cell] = field(default_factory=list)
    allocations: list[str] = field(default_factory=lambda: [""])  # tags: '' (uniform), owl, spare3
    pairs: list[tuple[str, str]] | None = None  # (criterion, allocation) rows instead of a product

    def build_cells(self) -> list[Cell]:
        out = []
        pairs = self.pairs or [(c, a) for a in self.allocations for c in self.criteria]
        for v in self.variants:
            for c, a in pairs:
                for lv in self.levels:
                    if lv == 0 and a:
                        continue  # the unpruned model depends on neither criterion nor allocation
                    crit = "maw" if lv == 0 else c  # (nor on the criterion: one cell, recorded as maw)
                    # the allocation's token goes before the tie-break's (ties.rule_of reads the last)
                    variant = rule_variant("-".join(x for x in (paper_twin(v), a) if x), rule_of(v))
                    for t in self.tasks:
                        out.append(Cell(self.stage, self.spec.name, crit, lv, t.name, variant))
        self.cells = sorted(set(out))
        return self.cells


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

    def for_cell(self, spec: models.ModelSpec, dtype: str, criterion: str = "",
                 task: suites.TaskSpec | None = None, allocation: dict | None = None) -> dict[str, Any]:
        out = {"limit": self.limit, "bootstrap_iters": self.bootstrap_iters,
               "max_length": self.max_length or spec.max_length, "dtype": dtype,
               "revision": spec.revision, "seeds": SEEDS, "random_criterion_seed": self.seed,
               "tie_break": self.tie_break, **evaluation().cell_settings()}
        if task is not None:  # scores can move with the batch size (repro/evaluate/batch.py)
            out["batch_size"] = requested(task, self.batch_size)
            if is_auto(out["batch_size"]):
                out["max_batch_size"] = self.max_batch_size
        if criterion in ("activation", "hybrid"):  # other calibration text or windows: other neurons
            out["calibration"] = {"sha256": self.calibration_sha256(),
                                  "samples": self.calibration_samples}
        if allocation is not None:  # a non-uniform allocation (repro/evaluate/allocate.py)
            out["allocation"] = allocation
        return out

    def calibration_text(self) -> str:
        """--calibration, else stdlib docstrings (the documented default, shipped with Python)."""
        from repro.core.textio import read_text
        from repro.evaluate.tasks.text import calibration_text

        return (read_text(self.calibration, "--calibration") if self.calibration is not None
                else calibration_text())

    def calibration_sha256(self) -> str:
        """The calibration text's SHA-256, as cells record it (other text: the cell is rerun)."""
        return hashlib.sha256(self.calibration_text().encode()).hexdigest()


def make_plans(args: argparse.Namespace, *, stage: str, default_models: list[str],
               suite_of: Callable[[models.ModelSpec], str | None],
               levels_of: Callable[[models.ModelSpec], list[float]],
               variants_of: Callable[[models.ModelSpec, str], list[str]],
               dtype_of: Callable[[models.ModelSpec], str] = lambda spec: spec.dtype,
               ) -> list[ModelPlan]:
    """Validate every model, suite, task, level, variant and criterion; no weights are loaded."""
    from repro.prune import criteria

    if args.calibration is not None and not args.calibration.is_file():
        raise ReproError(f"--calibration {args.calibration} is not a file; give a UTF-8 text file")
    crits = [criteria.canonical(c) for c in args.criteria]
    plans = []
    for name in args.models or default_models:
        spec = models.get(name)
        suite = args.suite or suite_of(spec)
        if not suite:
            raise ReproError(f"{name} is a local model with no suite of its own: pass --suite")
        dtype = args.dtype or dtype_of(spec)
        variants = [rule_variant(v, args.tie_break) for v in variants_of(spec, dtype)]
        plans.append(ModelPlan(spec, suites.resolve(suite, args.tasks), levels_of(spec), crits,
                               variants, stage=stage, dtype=dtype))
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
