"""Non-uniform widths: OWL's outlier ratios, pruning with per-layer widths, and reloading.

Uniform models reload with stock `from_pretrained`; models whose layers differ in width need
the kit's loader (stock transformers refuses them: one intermediate_size), and the rebuild
must be exact: every tensor and the logits equal to the in-memory pruned model's.
"""

import json
import re

import pytest
import torch
from transformers import AutoModelForCausalLM

from repro.core.errors import ReproError
from repro.prune import allocation
from repro.prune.apply import prune
from repro.prune.glu import glu_mlps
from repro.prune.owl import outlier_ratios
from repro.prune.ranking import rank
from repro.prune.save import SIDECAR, save
from repro.prune.widths import Target
from repro.runtime import hf, nonuniform
from repro.testing.toy import save_toy, toy_model, toy_tokenizer

IDS = torch.tensor([[5, 17, 42, 8, 99, 23, 64]])


def _owl_by_hand(model, batch, m):
    """The reference's steps on one unpadded batch: scaler_row = sum x^2 / n per Linear input,
    W_metric = |W| * sqrt(scaler_row), concatenated per layer, share above m x mean (float32)."""
    inputs = {}
    hooks = [lin.register_forward_hook(lambda mod, i, o: inputs.__setitem__(mod, i[0].detach()))
             for lin in model.modules() if type(lin) is torch.nn.Linear and lin is not model.lm_head]
    with torch.no_grad():
        model(input_ids=batch)
    for h in hooks:
        h.remove()
    ratios = []
    for layer in model.model.layers:
        metric = []
        for _, lin in sorted(layer.named_modules()):
            if type(lin) is torch.nn.Linear:
                x = inputs[lin].reshape(-1, lin.in_features).float()
                scaler_row = (x ** 2).sum(0) / x.shape[0]
                metric.append(torch.flatten(lin.weight.data.abs() * torch.sqrt(scaler_row.reshape(1, -1))))
        w = torch.cat(metric)
        ratios.append(float((w > torch.mean(w) * m).sum().item()) / w.numel() * 100)
    return ratios


def test_owl_outlier_ratios_follow_the_reference_steps():
    model = toy_model("llama", layers=3)
    ours = outlier_ratios(model, [(IDS, torch.ones_like(IDS))], m=5)
    assert ours == pytest.approx(_owl_by_hand(model, IDS, 5), abs=1e-9)
    assert len(set(ours)) > 1 and all(0 < r < 100 for r in ours)
    assert outlier_ratios(model, [(IDS, torch.ones_like(IDS))], m=3) != ours  # M matters


def _nonuniform(model, level=40, shares=(1, 2, 3)):
    ranking = rank(model, "maw")
    k = Target(level=level).width(ranking.widths[0], ranking.hidden)
    widths = allocation.kept_widths(ranking.widths, k, shares)
    return prune(model, ranking, Target(level=level), widths=widths, allocation="owl",
                 allocation_record={"rule": "owl"})


def test_prune_with_per_layer_widths_records_them_and_keeps_the_budget():
    model = toy_model("llama", layers=3)
    pruned, info = _nonuniform(model)
    assert [m.width for m in glu_mlps(pruned)] == info.kept_widths == [77, 58, 39]
    assert info.kept_width == 58 == sum(info.kept_widths) // 3  # the uniform width, as a mean
    assert info.allocation == "owl" and pruned.config.repro_intermediate_sizes == [77, 58, 39]
    assert pruned.config.intermediate_size == 96  # left at the unpruned width on purpose
    assert model.config.intermediate_size == 96 and not hasattr(model.config, "repro_intermediate_sizes")
    with pytest.raises(ValueError, match="allocation keeps"):
        prune(model, rank(model, "maw"), Target(level=40), widths=[96, 58, 39])


def test_nonuniform_model_reloads_exactly_with_the_kit_loader_only(tmp_path):
    model = toy_model("llama", layers=3)
    pruned, info = _nonuniform(model)
    save(pruned, toy_tokenizer(), info, tmp_path / "m", {"model": "toy"})
    sidecar = json.loads((tmp_path / "m" / SIDECAR).read_text())
    assert sidecar["reload"]["uniform_widths"] is False
    assert "repro.runtime.nonuniform.from_pretrained" in sidecar["reload"]["loader"]
    assert sidecar["prune"]["kept_widths"] == [77, 58, 39]
    with pytest.raises(RuntimeError, match="size mismatch|ignore_mismatched_sizes"):  # stock refuses it (4.x, 5.x)
        AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    again = nonuniform.from_pretrained(tmp_path / "m")
    ours, theirs = pruned.state_dict(), again.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    with torch.no_grad():
        assert torch.equal(pruned(IDS).logits, again(IDS).logits)
    loaded, tok, _ = hf.load(str(tmp_path / "m"), dtype="float32")  # every stage's loader routes
    with torch.no_grad():
        assert torch.equal(loaded(IDS).logits, pruned(IDS).logits)
    assert [m.width for m in glu_mlps(loaded)] == [77, 58, 39]


def test_tied_embeddings_are_tied_again_after_the_rebuild(tmp_path):
    model = toy_model("llama", layers=3)
    model.config.tie_word_embeddings = True
    model.tie_weights()
    pruned, info = _nonuniform(model)
    save(pruned, None, info, tmp_path / "m", {})
    again = nonuniform.from_pretrained(tmp_path / "m")
    assert again.lm_head.weight.data_ptr() == again.model.embed_tokens.weight.data_ptr()
    with torch.no_grad():
        assert torch.equal(pruned(IDS).logits, again(IDS).logits)


def test_uniform_model_reloads_with_stock_from_pretrained(tmp_path):
    model = toy_model("llama", layers=3)
    ranking = rank(model, "maw")
    pruned, info = prune(model, ranking, Target(level=40))
    save(pruned, toy_tokenizer(), info, tmp_path / "u", {})
    sidecar = json.loads((tmp_path / "u" / SIDECAR).read_text())
    assert sidecar["reload"] == {"uniform_widths": True,
                                 "loader": "transformers.AutoModelForCausalLM.from_pretrained(folder)"}
    config = json.loads((tmp_path / "u" / "config.json").read_text())
    assert config["intermediate_size"] == 58 and "repro_intermediate_sizes" not in config
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "u").eval()
    with torch.no_grad():
        assert torch.equal(pruned(IDS).logits, again(IDS).logits)
    with pytest.raises(ReproError, match="records no per-layer widths"):
        nonuniform.from_pretrained(tmp_path / "u")


def test_a_damaged_width_list_is_one_line(tmp_path):
    model = toy_model("llama", layers=3)
    pruned, info = _nonuniform(model)
    save(pruned, None, info, tmp_path / "m", {})
    cfg = tmp_path / "m" / "config.json"
    data = json.loads(cfg.read_text())
    data["repro_intermediate_sizes"] = [77, 39, 58]
    cfg.write_text(json.dumps(data))
    with pytest.raises(ReproError, match="weights do not match 'repro_intermediate_sizes'"):
        nonuniform.from_pretrained(tmp_path / "m")



def test_prune_cli_saves_an_owl_allocation_that_reloads_with_the_kit_loader(tmp_path, capsys):
    from repro.cli import main
    from repro.testing.toy import TOY_TEXT

    save_toy(tmp_path / "toy", layers=4)
    text = tmp_path / "calib.txt"
    text.write_text(TOY_TEXT * 3)
    argv = ["prune", "--model", str(tmp_path / "toy"), "--levels", "40", "--dtype", "float32",
            "--allocation", "owl", "--calibration", str(text), "--out", str(tmp_path / "owl")]
    assert main(argv) == 0
    sidecar = json.loads((tmp_path / "owl" / SIDECAR).read_text())
    widths = sidecar["prune"]["kept_widths"]
    assert sidecar["prune"]["allocation"] == "owl" and sum(widths) == 4 * 58 and len(set(widths)) > 1
    assert len(sidecar["prune"]["allocation_record"]["outlier_ratios"]) == 4
    again, _, _ = hf.load(str(tmp_path / "owl"), dtype="float32")
    assert [m.width for m in glu_mlps(again)] == widths
    # spareK without a sensitivity scan: one line, before any weights load
    capsys.readouterr()
    rc = main(["prune", "--model", str(tmp_path / "toy"), "--levels", "40", "--allocation", "spare2",
               "--results", str(tmp_path / "none"), "--out", str(tmp_path / "sp")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert re.search(r"no complete sensitivity scan of toy-[0-9a-f]{8} with criterion maw", err)  # content name
    assert not (tmp_path / "sp").exists()
