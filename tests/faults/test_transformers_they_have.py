"""The transformers users have: the pinned 4.57.6 and the newest 5.x (`nox -s tests_tf5` runs
this file under 5). A folder the running transformers wrote itself is pruned, whatever its
major version; one that 4.x would misread (RoPE only in 5.x's `rope_parameters`) is refused
under 4.x in a line that names both versions and a fix that works; the smoke model's
conversion is cached once per major version, so two stacks sharing REPRO_CACHE never read
each other's."""

from __future__ import annotations

import json

import pytest
import transformers

from repro.cli import main
from repro.config import models
from repro.runtime import pypi
from repro.runtime.hf import major
from tests.faults.harness import one_error_line

pytestmark = pytest.mark.integration

RUNNING = transformers.__version__


def test_a_folder_this_transformers_wrote_is_pruned(tmp_path, capsys):
    from repro.testing.toy import save_toy

    model = save_toy(tmp_path / "model")  # saved by the running transformers, 4.x or 5.x
    assert main(["-q", "prune", "--model", str(model), "--levels", "40", "--dtype", "float32",
                 "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["transformers_version"] == RUNNING and cfg["intermediate_size"] < 96
    assert main(["-q", "prune", "--model", str(tmp_path / "out"), "--levels", "10", "--dtype",
                 "float32", "--out", str(tmp_path / "again")]) == 0  # its own output too


def _rope_only(folder):
    cfg = json.loads((folder / "config.json").read_text())
    for k in ("rope_theta", "rope_scaling"):
        cfg.pop(k, None)
    cfg.update(transformers_version="5.25.0",
               rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 8192})
    (folder / "config.json").write_text(json.dumps(cfg))


def test_a_folder_4x_would_misread_is_refused_only_under_4x(toy, tmp_path, capsys):
    import shutil

    folder = shutil.copytree(toy, tmp_path / "v5")
    _rope_only(folder)
    rc = main(["-q", "prune", "--model", str(folder), "--levels", "40", "--dtype", "float32",
               "--out", str(tmp_path / "out")])
    if major(RUNNING) >= 5:  # 5.x reads rope_parameters itself
        assert rc == 0, capsys.readouterr().err
        return
    line = one_error_line(capsys.readouterr().err, rc, "written by transformers 5.25.0")
    assert f"transformers {RUNNING} would ignore them" in line
    assert "load it with transformers 5.25.0 instead" in line  # not "re-save it with 5.25.0"
    assert not (tmp_path / "out").exists()


def test_conversions_are_cached_per_transformers_major(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPRO_CACHE", str(tmp_path))
    spec = models.get("smollm2-135m-instruct")
    here = pypi.converted_folder(spec)
    assert here == tmp_path / "smollm2" / f"hf-{spec.dtype}-tf{major(RUNNING)}"
    if major(RUNNING) < 5:  # a 5.x conversion, put where this stack would look: refused with
        here.mkdir(parents=True)  # the advice to remove the cache entry, never to re-save it
        from repro.testing.toy import save_toy

        save_toy(here)
        _rope_only(here)
        rc = main(["-q", "prune", "--model", str(here), "--levels", "40", "--out",
                   str(tmp_path / "out")])
        one_error_line(capsys.readouterr().err, rc, f"remove {here} and it is made again")
