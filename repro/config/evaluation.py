"""The HFLM settings every evaluation cell runs with, as data: repro/config/evaluation.yaml.

    from repro.config.evaluation import evaluation
    evaluation().batch_size       # "1": the run's default batch size (the paper's effective one)
    evaluation().cell_settings()  # what each cell records and a resume compares
    evaluation().fast             # the fast setting's batching (--setting fast)
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

from repro.config.loader import kit_file, load, require

FILE = kit_file("evaluation.yaml")
SETTINGS = ("paper", "fast")  # paper: batch 1, what the paper's code ran; fast: `fast:` below


def kv_bytes_per_token(layers: int, kv_dim: int, itemsize: int) -> int:
    """The KV cache one token takes: keys and values (kv_dim = key-value heads x head size) in
    every layer (the fast setting's rule for generation batches, at run time from the model's
    config and in the estimate from its shape)."""
    return 2 * layers * kv_dim * itemsize


@dataclass(frozen=True)
class Fast:
    """The fast setting's batching (evaluation.yaml `fast:`)."""

    token_budget: int
    max_batch_size: int
    generate_kv_budget_mib: int
    generate_batch_size: int
    rolling_batch_size: int

    def __post_init__(self) -> None:
        require(min(self.token_budget, self.max_batch_size, self.generate_kv_budget_mib,
                    self.generate_batch_size, self.rolling_batch_size) >= 1,
                "every fast batch size and budget must be >= 1")

    def generate_size(self, kv_bytes_per_token: int, longest_tokens: float) -> int:
        """Prompts per generation batch: the KV cache of `longest_tokens` (prompt plus new
        tokens) for each within the budget, at least 1, at most generate_batch_size."""
        fits = (self.generate_kv_budget_mib << 20) // max(1, int(kv_bytes_per_token * longest_tokens))
        return max(1, min(self.generate_batch_size, fits))

    def record(self) -> dict[str, int]:
        """What a fast cell records of its setting (a change reruns it)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Evaluation:
    version: int
    batch_size: str          # a whole number, auto or auto:N (the run's default)
    add_bos_token: bool
    truncation: bool
    fast: Fast

    def __post_init__(self) -> None:
        require(re.fullmatch(r"auto(:[1-9]\d*)?|[1-9]\d*", self.batch_size) is not None,
                "batch_size must be a quoted whole number (\"1\"), \"auto\" or \"auto:N\"")

    def cell_settings(self) -> dict[str, bool]:
        """The fixed HFLM settings a cell records beside its run settings (a change reruns it)."""
        return {"add_bos_token": self.add_bos_token, "truncation": self.truncation}


@functools.cache
def evaluation() -> Evaluation:
    return load(Evaluation, FILE)
