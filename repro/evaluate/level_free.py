"""What a model's cells compute alike at every pruning level, computed once per model.

lm-eval builds each task's requests (few-shot prompts rendered from templates) and tokenises
every string in each `simple_evaluate` call, i.e. in every cell; none of it depends on the
level. For MMLU that is 14,042 five-shot prompts and 112,336 encodings of about 650 tokens per
cell, a minute of CPU while the GPU waits. `LevelFree` is held for one loaded model (its one
tokenizer) by the lm-eval grid stage and, while a cell runs:
- answers HFLM.tok_encode from a memo of every string it encoded (keyed by the string's
  BLAKE2b digest and the encoding options; token ids kept as 32-bit arrays, about 2.6 kB per
  MMLU prompt, freed with the model);
- answers lm-eval's `Task.build_all_requests` with fresh copies of the requests built for the
  same task configuration, arguments and few-shot sampler state (the prompts are those of the
  first build: the sampler starts from the same seed in every cell).
tests/evaluate/test_level_free.py checks that cells computed with and without it are identical,
samples included; benchmarks/level_free.py measures the CPU seconds it saves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from array import array
from collections import Counter
from typing import Any


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class LevelFree:
    """The level-independent work of one model's cells (see the module docstring)."""

    def __init__(self) -> None:
        self.tokens: dict[tuple, array] = {}
        self.requests: dict[str, list] = {}
        self.counts: Counter = Counter()  # encode/build: hits and misses, for the log and tests

    @contextlib.contextmanager
    def active(self, lm):
        """Within this block, `lm` (an HFLM of this model) and lm-eval's task building use it."""
        import lm_eval.api.task as task_module

        task_cls = task_module.Task
        build = task_cls.build_all_requests
        lm.__dict__["tok_encode"] = self._encoder(lm, type(lm).tok_encode)
        task_cls.build_all_requests = self._builder(build)
        try:
            yield self
        finally:
            task_cls.build_all_requests = build
            lm.__dict__.pop("tok_encode", None)

    def _encoder(self, lm, encode):
        def tok_encode(string, left_truncate_len=None, add_special_tokens=None):
            if left_truncate_len or not isinstance(string, str):
                return encode(lm, string, left_truncate_len, add_special_tokens)
            key = (_digest(string), add_special_tokens, bool(lm.add_bos_token), lm.backend)
            kept = self.tokens.get(key)
            if kept is not None:
                self.counts["encode hit"] += 1
                return kept.tolist()
            self.counts["encode miss"] += 1
            ids = encode(lm, string, None, add_special_tokens)
            with contextlib.suppress(OverflowError):  # an id past 32 bits: not kept
                self.tokens[key] = array("i", ids)
            return ids
        return tok_encode

    def _builder(self, build):
        cache = self

        def build_all_requests(task, **kwargs):
            key = cache._request_key(task, kwargs)
            kept = cache.requests.get(key) if key is not None else None
            if kept is None:
                cache.counts["build miss"] += 1
                build(task, **kwargs)
                if key is not None:
                    cache.requests[key] = list(task._instances)
                    task._instances = [_fresh(i) for i in task._instances]  # the kept ones stay unanswered
                return None
            cache.counts["build hit"] += 1
            task._instances = [_fresh(i) for i in kept]
            return None
        return build_all_requests

    @staticmethod
    def _request_key(task, kwargs: dict) -> str | None:
        """Everything the built requests depend on, or None (then they are built as usual)."""
        if kwargs.get("cache_requests") or kwargs.get("rewrite_requests_cache"):
            return None  # lm-eval's own disk cache is asked for: leave it to lm-eval
        args = {k: v for k, v in kwargs.items() if k != "chat_template"}
        args["chat_template"] = kwargs.get("chat_template") is not None  # the tokenizer's: see tokenizer_name
        rnd = getattr(getattr(task, "sampler", None), "rnd", None)
        try:
            return json.dumps([type(task).__name__, task.config.to_dict(), args,
                               None if rnd is None else repr(rnd.getstate())],
                              sort_keys=True, default=_plain)
        except (TypeError, ValueError):
            return None


def _plain(obj: Any) -> str:
    """A configuration value JSON cannot hold as such (a callable's source, a set...)."""
    if callable(obj):
        raise TypeError("a callable in a task configuration: its requests are built afresh")
    return repr(obj)


def _fresh(instance):
    """A copy of a request with no answers yet (lm-eval appends to `resps`)."""
    return dataclasses.replace(instance, resps=[], filtered_resps={})
