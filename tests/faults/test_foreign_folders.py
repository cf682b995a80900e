"""Model folders written by other transformers versions (or other tools): what the pinned
transformers reads correctly is pruned and evaluated as usual; what it would misread or cannot
read is refused in one line before anything is written."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from repro.cli import main
from repro.core import identity
from tests.faults.harness import one_error_line, snapshot

pytestmark = pytest.mark.integration


def _config(d, **change):
    cfg = json.loads((d / "config.json").read_text())
    for k, v in change.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    (d / "config.json").write_text(json.dumps(cfg, indent=2))


def old_writer(d):  # transformers 4.3x: torch_dtype, rope_scaling's old 'type' key
    cfg = json.loads((d / "config.json").read_text())
    _config(d, torch_dtype=cfg["dtype"], dtype=None, transformers_version="4.31.0")


def pickle_weights(d):  # before safetensors: pytorch_model.bin only
    from safetensors.torch import load_file

    state = load_file(d / "model.safetensors")
    (d / "model.safetensors").unlink()
    torch.save(state, d / "pytorch_model.bin")


def sharded(d):  # another shard size: an index and several files
    from repro.testing.toy import toy_model

    (d / "model.safetensors").unlink()
    toy_model().save_pretrained(d, max_shard_size="30KB")


def v5_with_rope_theta(d):  # a newer writer that still states rope_theta: read correctly
    _config(d, transformers_version="5.2.0", rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            layer_types=["full_attention", "full_attention"])


def no_generation_config(d):
    (d / "generation_config.json").unlink()


READABLE = {"old writer": old_writer, "pytorch_model.bin": pickle_weights, "sharded": sharded,
            "v5 config with rope_theta": v5_with_rope_theta, "no generation_config": no_generation_config}


def v5_rope_only(d):  # transformers 5 moved rope_theta into rope_parameters
    _config(d, transformers_version="5.2.0", rope_theta=None, rope_scaling=None,
            rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0})


def v5_tokenizer(d):
    tc = json.loads((d / "tokenizer_config.json").read_text())
    (d / "tokenizer_config.json").write_text(json.dumps({**tc, "tokenizer_class": "TokenizersBackend",
                                                          "extra_special_tokens": ["<x>"]}))


def no_tokenizer(d):
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (d / f).unlink()


REFUSED = {"v5 RoPE only in rope_parameters": (v5_rope_only, "rope_parameters"),
           "v5 tokenizer class": (v5_tokenizer, "cannot load it"),
           "no tokenizer": (no_tokenizer, "no tokenizer files")}


@pytest.mark.parametrize("name", list(READABLE))
def test_readable_folders_prune_like_the_original(name, toy, tmp_path):
    folder = shutil.copytree(toy, tmp_path / "model")
    READABLE[name](folder)
    for src, out in ((toy, "ref"), (folder, "out")):
        assert main(["-q", "prune", "--model", str(src), "--levels", "40", "--dtype", "float32",
                     "--out", str(tmp_path / out)]) == 0
    ref, out = snapshot(tmp_path / "ref"), snapshot(tmp_path / "out")
    # the same pruned weights (the sidecar names its source folder, so it differs)
    assert out["model.safetensors"] == ref["model.safetensors"]
    if name in ("old writer", "sharded"):  # the same content: the same identity, the same cells
        assert identity.content_id(folder) == identity.content_id(toy)


@pytest.mark.parametrize("name", list(REFUSED))
def test_misread_folders_are_refused_in_one_line(name, toy, tmp_path, capsys):
    change, needle = REFUSED[name]
    folder = shutil.copytree(toy, tmp_path / "model")
    change(folder)
    rc = main(["-q", "prune", "--model", str(folder), "--levels", "40", "--out", str(tmp_path / "out")])
    one_error_line(capsys.readouterr().err, rc, needle)
    assert not (tmp_path / "out").exists()
