"""The rehearsal's substitutions as data: repro/config/rehearsal.yaml (tiny models' shapes, the
stand-in tasks' sizes, the sandbox's setup time). Its builder (repro/rehearsal/models.py) and the
run-time estimate (repro/ops/cost_work.py, costs.py) read them here.

    from repro.config.rehearsal import rehearsal_config
    rehearsal_config().hf_shape("llama-3.2-1b")   # a config dict, as efficiency.yaml's `shapes`
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from repro.config.costs import TaskCost
from repro.config.loader import kit_file, load, require

FILE = kit_file("rehearsal.yaml")


@dataclass(frozen=True)
class TinyModel:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    seed: int

    def __post_init__(self) -> None:
        require(self.hidden_size % self.num_attention_heads == 0,
                "hidden_size must be a multiple of num_attention_heads")
        require(self.num_attention_heads % self.num_key_value_heads == 0,
                "num_attention_heads must be a multiple of num_key_value_heads")


@dataclass(frozen=True)
class Rehearsal:
    version: int
    models: dict[str, TinyModel]
    vocab_size: int
    setup_s: float
    stop_tokens: int
    batch_stop_tokens: int
    tasks: dict[str, TaskCost]

    def __post_init__(self) -> None:
        require(all(t.items for t in self.tasks.values()), "every stand-in task needs its items")

    def new_tokens(self, cap: int, batch: int) -> int:
        """Decode steps of a generate() call that stops at EOS (or `cap`) on the stand-ins."""
        return min(cap, self.stop_tokens if batch == 1 else self.batch_stop_tokens)

    def hf_shape(self, name: str) -> dict:
        """The stand-in of `name` as a config dict (efficiency.yaml `shapes`' form): Llama,
        tied embeddings, the real context length."""
        m = self.models[name]
        return {"model_type": "llama", "vocab_size": self.vocab_size,
                "hidden_size": m.hidden_size, "intermediate_size": m.intermediate_size,
                "num_hidden_layers": m.num_hidden_layers,
                "num_attention_heads": m.num_attention_heads,
                "num_key_value_heads": m.num_key_value_heads,
                "head_dim": m.hidden_size // m.num_attention_heads,
                "max_position_embeddings": 131072, "tie_word_embeddings": True}


@functools.cache
def rehearsal_config(path: str = str(FILE)) -> Rehearsal:
    return load(Rehearsal, path)
