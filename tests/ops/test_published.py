"""`repro published`: a published checkpoint compared tensor by tensor with the kit's prune of
its base model. Local folders stand in for the three Hub checkpoints: one identical (the kit's
own saved prune), one with a changed tensor, one of another width."""

from __future__ import annotations

import shutil

import pytest

from repro.cli import main
from repro.config import models
from tests.offline import offline_env

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A toy base model, its prune at 40% saved by `repro prune` (as the paper's checkpoints
    were saved by optipfair), a copy with one changed value, and a prune at 30%."""
    from safetensors.torch import load_file, save_file

    from repro.testing.toy import save_toy

    root = tmp_path_factory.mktemp("published")
    mp = offline_env(root)
    base = save_toy(root / "base")
    for level in (40, 30):
        assert main(["prune", "--model", str(base), "--levels", str(level), "--dtype", "bfloat16",
                     "--out", str(root / f"pruned-{level}")]) == 0
    changed = shutil.copytree(root / "pruned-40", root / "changed")
    weights = changed / "model.safetensors"
    tensors = load_file(str(weights))
    name = "model.layers.1.mlp.down_proj.weight"
    tensors[name][3, 5] += 0.5
    save_file(tensors, str(weights), metadata={"format": "pt"})
    yield base, root
    mp.undo()


def published(base, where, capsys, level="40"):
    rc = main(["published", "--models", str(base), "--checkpoint", f"{level}={where}",
               "--device", "cpu", "--dtype", "bfloat16"])
    return rc, capsys.readouterr().out


def test_the_kits_own_prune_is_identical(folders, capsys):
    base, root = folders
    rc, out = published(base, root / "pruned-40", capsys)
    assert rc == 0 and "identical (every tensor, bit for bit)" in out


def test_a_changed_tensor_is_named(folders, capsys):
    base, root = folders
    rc, out = published(base, root / "changed", capsys)
    assert rc == 1 and "DIFFERENT (1 difference(s))" in out
    assert "model.layers.1.mlp.down_proj.weight: 1 of" in out and "max |d| 0.5" in out


def test_another_width_is_named(folders, capsys):
    base, root = folders
    rc, out = published(base, root / "pruned-30", capsys)  # 30% saved, compared as 40%
    assert rc == 1 and "config.json: intermediate_size 68, the kit keeps 58 at 40%" in out
    assert "model.layers.0.mlp.gate_proj.weight: shape [68, 32] in the checkpoint, [58, 32]" in out


def test_models_yaml_names_the_papers_three_checkpoints():
    got = {n: s.published for n, s in models.load_models().items() if s.published}
    assert got == {"llama-3.2-1b": {40.0: "oopere/Llama-3.2-1B-pruned-40pct"},
                   "llama-3.2-3b": {10.0: "oopere/Llama-3.2-3B-pruned-10pct"},
                   "llama-3.2-1b-instruct": {40.0: "oopere/Llama-3.2-1B-I-pruned-40pct"}}


def test_offline_without_a_local_copy_is_one_line(folders, capsys):
    base, _ = folders
    rc = main(["published", "--models", str(base), "--checkpoint", "40=oopere/nothing-here"])
    assert rc == 2
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err
