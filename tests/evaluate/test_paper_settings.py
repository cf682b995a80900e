"""The kit's evaluation defaults are the paper's effective settings, proved differentially: the
notebook's own HFLM (notebooks/utils.py `model_evaluation` at 97f91904:
`HFLM(pretrained=model_obj, tokenizer=tokenizer, device=device)`, then `simple_evaluate(model=lm,
batch_size="auto")`) and the kit's HFLM, built on the same toy Llama whose config has Llama-3.2's
max_position_embeddings (131072), run the same requests of every type with the same batches,
windows and tokens, and report the same effective settings. Also: the rule that keeps a cell
computed by an older kit valid where its settings are the ones asked for."""

from __future__ import annotations

import copy

import pytest
import torch

from repro.config import models, suites
from repro.core import options
from repro.evaluate import cli as evaluate_cli
from repro.evaluate import hflm, runner
from repro.evaluate.batch import BatchSizes
from repro.evaluate.plan import Settings
from repro.grid.options import from_cli
from repro.results import cells as cellio
from tests.offline import offline_env

LLAMA_32_CONTEXT = 131072  # meta-llama/Llama-3.2-{1B,3B}'s config.json max_position_embeddings


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A toy Llama folder with Llama-3.2's context length, loaded as the kit loads models."""
    from tokenizers.processors import TemplateProcessing

    from repro.runtime.hf import load
    from repro.testing.toy import toy_model, toy_tokenizer

    root = tmp_path_factory.mktemp("settings")
    mp = offline_env(root)
    folder = root / "toy-llama"
    model = toy_model("llama")
    model.config.max_position_embeddings = LLAMA_32_CONTEXT
    model.save_pretrained(folder)
    tok = copy.deepcopy(toy_tokenizer())  # like Llama-3.2's: special tokens add a BOS
    tok._tokenizer.post_processor = TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.bos_token_id)])
    tok.save_pretrained(folder)
    lm, tok, _ = load(str(folder), dtype="bfloat16")
    yield folder, lm, tok
    mp.undo()


def notebook_hflm(model, tokenizer):
    """Exactly as the paper's utils.py built it (device is ignored for a built model)."""
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=model, tokenizer=tokenizer, device="cpu")


def kit_hflm(folder, model, tokenizer, task: str = "smoke_ppl"):
    """As the kit's evaluate runs a cell with every default: the parsed command line's settings,
    the model's max_length from its spec, the task's batch size set before it runs."""
    parser = options.Parser()
    evaluate_cli.configure(parser)
    args = parser.parse_args(["--models", str(folder), "--device", "cpu"])
    settings = Settings.build(from_cli(args), evaluate_cli.lm_options(args))
    spec = models.get(str(folder))
    lm = runner._hflm(model, tokenizer, settings, settings.max_length or spec.max_length)
    task_spec = suites.load_tasks()[task]
    BatchSizes(lm).start(settings.for_cell(spec, "bfloat16", "maw", task_spec)["batch_size"])
    return lm


def requests():
    """One request of each type lm-eval sends; the rolling one longer than 2048 tokens (the
    kit's former fixed max_length) so that the window size shows."""
    from lm_eval.api.instance import Instance

    from repro.testing.toy import TOY_TEXT

    long_doc = TOY_TEXT * 9  # about 2170 tokens
    ll = [Instance("loglikelihood", {}, (ctx, cont), i) for i, (ctx, cont) in
          enumerate([("Paris is the capital of", " France"), ("One two three", " four"),
                     ("The quick brown fox", " jumps over the lazy dog")])]
    rolling = [Instance("loglikelihood_rolling", {}, (long_doc,), 0),
               Instance("loglikelihood_rolling", {}, (TOY_TEXT,), 1)]
    gen = [Instance("generate_until", {}, (p, {"until": ["."], "max_gen_toks": 8, "do_sample": False}), i)
           for i, p in enumerate(["Rome is the capital of", "Questions and answers,"])]
    return ll, rolling, gen


def run_all(lm, tokenizer) -> tuple[dict, dict]:
    """Every request type on `lm`: (outputs, the batch shapes the model saw per type)."""
    seen: dict[str, list] = {}
    call, generate = lm._model_call, lm._model_generate
    kind = {"now": ""}

    def model_call(inps, *a, **k):
        seen.setdefault(kind["now"], []).append(tuple(inps.shape))
        return call(inps, *a, **k)

    def model_generate(context, *a, **k):
        seen.setdefault(kind["now"], []).append(tuple(context.shape))
        return generate(context, *a, **k)

    lm._model_call, lm._model_generate = model_call, model_generate
    ll, rolling, gen = requests()
    out = {}
    with torch.no_grad():
        for name, reqs, fn in (("loglikelihood", ll, lm.loglikelihood),
                               ("loglikelihood_rolling", rolling, lm.loglikelihood_rolling),
                               ("generate_until", gen, lm.generate_until)):
            kind["now"] = name
            out[name] = fn(reqs, disable_tqdm=True)
    out["context_tokens"] = lm.tok_encode("Paris is the capital of")
    return out, seen


@pytest.mark.integration
def test_kit_hflm_runs_as_the_paper_notebook(toy):
    """Every effective setting, every request type's batches and windows, and every output."""
    folder, model, tok = toy
    paper, kit = notebook_hflm(model, tok), kit_hflm(folder, model, tok)
    want, got = hflm.effective(paper), hflm.effective(kit)
    assert got == want
    assert got["batch_size"] == "1" and got["max_length"] == LLAMA_32_CONTEXT
    assert got["model_max_length"] == LLAMA_32_CONTEXT
    assert got["add_bos_token"] is False and got["truncation"] is False
    assert got["dtype"] == "bfloat16" and got["max_gen_toks"] == 256
    paper_out, paper_batches = run_all(paper, tok)
    kit_out, kit_batches = run_all(kit, tok)
    assert kit_batches == paper_batches
    assert {k: {s[0] for s in v} for k, v in kit_batches.items()} == {
        "loglikelihood": {1}, "loglikelihood_rolling": {1}, "generate_until": {1}}
    long_windows = [s for s in kit_batches["loglikelihood_rolling"] if s[1] > 2048]
    assert len(long_windows) == 1  # the long document in one window, as the paper scored it
    assert kit_out == paper_out
    assert kit_out["context_tokens"][0] != tok.bos_token_id  # no BOS before a context


@pytest.mark.integration
def test_the_kits_former_defaults_differ_from_the_paper(toy):
    """The comparison can fail: the kit's former defaults (fixed max_length 2048, batch 8 on a
    CPU, auto on a GPU) and lm-eval 0.4.9.2's BOS change what the notebook's HFLM did."""
    from lm_eval.models.huggingface import HFLM

    _, model, tok = toy
    paper = notebook_hflm(model, tok)
    former = HFLM(pretrained=model, tokenizer=tok, max_length=2048, batch_size=8)
    bos = HFLM(pretrained=model, tokenizer=tok, add_bos_token=True)
    want = hflm.effective(paper)
    assert {k for k, v in hflm.effective(former).items() if want[k] != v} == {"batch_size", "max_length"}
    assert {k for k, v in hflm.effective(bos).items() if want[k] != v} == {"add_bos_token"}
    _, paper_batches = run_all(paper, tok)
    _, former_batches = run_all(former, tok)
    assert former_batches != paper_batches
    assert max(s[1] for s in former_batches["loglikelihood_rolling"]) <= 2048 + 1  # two windows
    assert max(s[1] for s in paper_batches["loglikelihood_rolling"]) > 2048        # one window
    assert {s[0] for s in former_batches["loglikelihood"]} == {3}  # the three requests at once
    assert run_all(bos, tok)[0]["context_tokens"][0] == tok.bos_token_id


@pytest.mark.integration
@pytest.mark.slow
def test_simple_evaluate_ignores_batch_size_auto_for_a_built_model(toy):
    """The premise: lm-eval 0.4.9.1 uses the object as built ("Using pre-initialized model")
    when the notebook passes batch_size="auto" to simple_evaluate: every batch holds one
    request, while its record says "auto" (which is how the paper's batch size was misread)."""
    import lm_eval

    _, model, tok = toy
    lm = notebook_hflm(model, tok)
    sizes, call = [], lm._model_call
    lm._model_call = lambda inps, *a, **k: sizes.append(inps.shape[0]) or call(inps, *a, **k)
    tm = runner.task_manager([suites.load_tasks()["smoke_mc"]])
    raw = lm_eval.simple_evaluate(model=lm, tasks=["smoke_mc"], batch_size="auto", limit=4,
                                  task_manager=tm, bootstrap_iters=0)
    assert lm.batch_size == 1 and sizes and set(sizes) == {1}
    assert raw["config"]["batch_size"] == "auto"


# ---- cells written by an older kit ----

def old_cell(tmp_path, folder, *, lm_eval_version: str, drop: tuple[str, ...]):
    """A cell as an older kit wrote it: today's settings less the keys it did not record."""
    spec = models.get(str(folder))
    settings = Settings(device="cpu", batch_size=hflm.default_batch_size(), limit=None,
                        bootstrap_iters=100000)
    task = suites.load_tasks()["smoke_mc"]
    asked = settings.for_cell(spec, spec.dtype, "maw", task)
    written = {k: v for k, v in asked.items() if k not in drop}
    cell = cellio.Cell("evaluate", spec.name, "maw", 0.0, "smoke_mc")
    prov = {"model": spec.record(), "lm_eval": {"version": lm_eval_version},
            "batch_size": {"requested": asked["batch_size"], "resolved": [1]}}
    cellio.write(tmp_path, cell, {"results": {}, "settings": runner._jsonable(written)}, prov)
    return cell, asked, spec


def is_done(root, cell, asked, identity) -> bool:
    """The grid executor's own verdict on the cell (a dry run of the evaluate stage's rule)."""
    from repro.evaluate.stage import LmEvalStage
    from repro.grid.executor import GridStage, Job, run_grid

    class Stage(GridStage):
        name = "evaluate"
        recorded = LmEvalStage.recorded

    report = run_grid(Stage(), [Job(cell, asked, identity)], root=root, dry_run=True, out=str)
    return report.done == [cell]


def differs(rec, asked) -> set[str]:
    """The settings in which an earlier cell's record differs from the asked ones."""
    have, asked = runner._jsonable(hflm.recorded(rec, hflm.BATCHED)), runner._jsonable(asked)
    return {k for k in {*have, *asked} if have.get(k) != asked.get(k)}


def test_an_old_cell_keeps_the_settings_it_implicitly_had(toy, tmp_path):
    """add_bos_token, truncation and batch_size were not cell settings before: a cell without
    them computed with lm-eval 0.4.9.1 had no BOS, no truncation and the batch size its
    provenance records, so it is still done; one computed with lm-eval 0.4.13 (BOS by the
    tokenizer's default) is recomputed, naming the setting."""
    folder = toy[0]
    keys = ("add_bos_token", "truncation", "batch_size")
    cell, asked, spec = old_cell(tmp_path / "a", folder, lm_eval_version="0.4.9.1", drop=keys)
    assert is_done(tmp_path / "a", cell, asked, spec.identity)
    assert differs(cellio.read(tmp_path / "a", cell), asked) == set()
    cell, asked, spec = old_cell(tmp_path / "b", folder, lm_eval_version="0.4.13", drop=keys)
    assert differs(cellio.read(tmp_path / "b", cell), asked) == {"add_bos_token"}
    assert not is_done(tmp_path / "b", cell, asked, spec.identity)


def test_an_old_cell_with_other_effective_settings_is_recomputed(toy, tmp_path):
    """The former default max_length (2048) is not the model's own: recomputed; a recorded
    value always wins over an implied one."""
    folder = toy[0]
    cell, asked, spec = old_cell(tmp_path, folder, lm_eval_version="0.4.9.1", drop=())
    rec = cellio.read(tmp_path, cell)
    rec["payload"]["settings"].update(max_length=2048, add_bos_token=True)
    assert differs(rec, asked) == {"max_length", "add_bos_token"}
    assert spec.max_length == LLAMA_32_CONTEXT  # a local folder's own context length


def test_neuron_selection_defaults_to_the_papers_float16():
    """Notebook 00 ran in float16: the paper models' selection dtype; other models keep theirs."""
    specs = models.load_models()
    assert {n: s.selection_dtype for n, s in specs.items() if s.paper} == {
        "llama-3.2-1b": "float16", "llama-3.2-3b": "float16", "llama-3.2-1b-instruct": "float16"}
    assert specs["smollm2-135m-instruct"].selection_dtype is None
    assert all(s.max_length == LLAMA_32_CONTEXT for s in specs.values() if s.paper)
