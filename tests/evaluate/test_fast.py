"""The fast setting's batching: token-budget loglikelihood batches, fixed generation and rolling
batches, installed on one HFLM per task and recorded; its cells are other cells (variant fast)."""

from types import SimpleNamespace

import pytest

from repro.config.evaluation import Fast, evaluation
from repro.core.errors import ReproError
from repro.core.variant import Variant
from repro.evaluate.batch import FAST, BatchSizes
from repro.evaluate.fast import FastBatches, budget_sizes
from repro.evaluate.plan import LmEvalOptions


def test_budget_sizes_keep_each_batch_within_the_token_budget():
    lengths = [900, 500, 300, 300, 300, 120, 100, 100, 40, 10]  # longest first, as lm-eval sorts
    sizes = budget_sizes(lengths, token_budget=1000, max_batch_size=4)
    assert sizes == [1, 2, 3, 4]  # 900 alone; 500 x2; 300 x3; 120 x4 (capped by max_batch_size)
    start = 0
    for s in sizes:
        assert lengths[start] * s <= 1000 or s == 1
        start += s
    assert sum(sizes) == len(lengths)
    assert budget_sizes([5000, 10], 1000, 64) == [1, 1]  # longer than the budget: alone
    assert budget_sizes([], 1000, 64) == []


class FakeModel:  # a KV cache of 2 x 2 layers x 2 heads x 8 dims x 2 bytes = 128 bytes a token
    config = SimpleNamespace(num_hidden_layers=2, num_key_value_heads=2, num_attention_heads=4,
                             head_dim=8, hidden_size=32)

    def parameters(self):
        yield SimpleNamespace(element_size=lambda: 2)


class FakeHFLM:  # the HFLM attributes FastBatches touches (lm-eval 0.4.9.1)
    max_length = 1000  # lengths past it are cut from the left (as lm-eval does)
    max_gen_toks = 256
    model = FakeModel()

    def __init__(self):
        self.batch_size_per_gpu, self.seen = 1, []

    def tok_encode(self, text):
        return text.split()

    def _detect_batch_size(self, requests=None, pos=0):
        raise AssertionError("the fast setting never probes memory")

    def loglikelihood(self, requests, disable_tqdm=False):
        # as _loglikelihood_tokens with batch "auto": get_chunks asks batch_fn at every position
        self.seen.append(("loglikelihood", self.batch_size_per_gpu))
        items, chunks, arr = tuple(requests), [], []
        for i, x in enumerate(items):
            arr.append(x)
            if len(arr) == self._batch_scheduler(i, items):
                chunks.append(len(arr))
                arr = []
        return chunks + ([len(arr)] if arr else [])

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        self.seen.append(("rolling", self.batch_size_per_gpu))
        return []

    def generate_until(self, requests, disable_tqdm=False):
        self.seen.append(("generate", self.batch_size_per_gpu))
        return []

    def _batch_scheduler(self, pos, requests):
        raise AssertionError("lm-eval's own scheduler probes memory")


def _req(n: int):
    return (("ctx", "cont"), [1] * (n - 1), [2])


def _gen(words: int, max_gen_toks: int | None = None):
    return SimpleNamespace(args=(" ".join(["w"] * words),
                                 {} if max_gen_toks is None else {"max_gen_toks": max_gen_toks}))


def test_fast_batches_answer_lm_evals_scheduler_and_are_recorded_then_removed():
    lm, fast = FakeHFLM(), Fast(token_budget=1000, max_batch_size=4, generate_kv_budget_mib=1,
                                generate_batch_size=8, rolling_batch_size=1)
    sizes = BatchSizes(lm)
    lm_fast = FastBatches(lm, fast)
    lm_fast.install()
    reqs = [_req(n) for n in (900, 500, 500, 300, 300, 300, 120, 120, 120, 120)]
    assert lm.loglikelihood(reqs) == [1, 2, 3, 4]
    # the longest prompt, 3000 tokens + 256 new, at 128 bytes a token: 2 fit 1 MiB of KV cache
    lm.generate_until([_gen(3000), _gen(10), _gen(20)])
    lm.loglikelihood_rolling(["d"])
    assert lm.seen == [("loglikelihood", "auto"), ("generate", 2), ("rolling", 1)]
    assert lm.batch_size_per_gpu == 1  # restored after each call
    assert lm_fast.record() == {
        "requested": "fast", "fast": fast.record(),
        "used": {"loglikelihood": {"batches": 4, "min": 1, "max": 4, "requests": 10},
                 "generate_until": {"batches": 2, "min": 1, "max": 2, "requests": 3},
                 "loglikelihood_rolling": {"batch_size": 1, "requests": 1}}}
    lm_fast.remove()
    with pytest.raises(AssertionError, match="probes memory"):  # the class's own methods again
        lm.loglikelihood(reqs)
    del sizes


def test_generation_batches_fit_the_kv_budget_and_the_cap():
    lm, f = FakeHFLM(), evaluation().fast
    budget = (f.generate_kv_budget_mib << 20) // 128  # tokens of cache at 128 bytes a token
    for words, gen, want in ((10, 54, f.generate_batch_size),  # short: capped
                             (budget // 10 - 256, None, 10),
                             (budget // 3 - 100, 100, 3),    # max_gen_toks from the request
                             (budget + 5, None, 1)):         # longer than the budget: alone
        fb = FastBatches(lm, f)
        fb.install()
        lm.generate_until([_gen(words, gen), _gen(1)])
        assert lm.seen[-1] == ("generate", want)
        fb.remove()


def test_the_kv_cache_a_token_takes_is_the_estimates():
    """The rule the runs follow (the model's config) and the one the estimate prices (its
    shapes) agree for the paper's models; evaluation.yaml's comment says 1B 128 a batch and 3B 55
    for IFEval's 60 + 1280 tokens."""
    from transformers import AutoConfig

    from repro.config.efficiency import load_config
    from repro.evaluate.fast import kv_bytes_per_token
    from repro.ops.cost_work import shape_of

    f = evaluation().fast
    for name, per_token, ifeval in (("llama-3.2-1b", 32 << 10, 128), ("llama-3.2-3b", 112 << 10, 55)):
        raw = dict(load_config().shapes[name])
        model = SimpleNamespace(config=AutoConfig.for_model(raw.pop("model_type"), **raw),
                                parameters=lambda: iter([SimpleNamespace(element_size=lambda: 2)]))
        assert kv_bytes_per_token(model) == shape_of(name).kv_bytes_per_token() == per_token
        assert f.generate_size(per_token, 60 + 1280) == ifeval


def test_a_fast_task_then_a_paper_task_on_one_hflm():
    lm = FakeHFLM()
    sizes = BatchSizes(lm)
    sizes.start(FAST)
    lm.generate_until([_gen(5)])
    rec = sizes.record()
    assert rec["requested"] == "fast" and rec["fast"] == evaluation().fast.record()
    assert rec["used"]["generate_until"] == {"batches": 1, "min": 1, "max": 1, "requests": 1}
    assert sizes.effective() == {"batch_size": "fast"}
    sizes.start("1")  # the next task runs in the paper setting: the wrappers are gone
    assert "generate_until" not in lm.__dict__ and sizes.effective() == {}
    assert sizes.record() == {"requested": "1", "resolved": [1]}


def test_fast_cells_are_other_cells_with_their_own_name():
    assert str(Variant(fast=True)) == "fast"
    assert str(Variant(chat=True, fast=True, tie_break="stable")) == "chat-fast-stable"
    assert Variant.parse("chat-fast") == Variant(chat=True, fast=True)
    with pytest.raises(ValueError):
        Variant.parse("fast-chat")  # one text per meaning
    with pytest.raises(ValueError, match="rename"):
        Variant(profile="fast")


def test_the_fast_setting_refuses_a_batch_size_of_its_own_and_unknown_settings():
    with pytest.raises(ReproError, match="one or the other"):
        LmEvalOptions(setting="fast", batch_size="8")
    with pytest.raises(ReproError, match="choose paper or fast"):
        LmEvalOptions(setting="quick")
    assert LmEvalOptions().setting == "paper"
