"""repro/config/models.yaml against repro/config/models.py: every entry valid, bad input refused."""

from __future__ import annotations

import pytest

from repro.config import models
from repro.core.errors import ReproError

pytestmark = pytest.mark.light


def test_every_model_is_valid_and_matches_the_paper():
    specs = models.load_models()
    assert {"llama-3.2-1b", "llama-3.2-3b", "llama-3.2-1b-instruct", "llama-3.2-3b-instruct",
            "smollm2-135m-instruct"} <= set(specs)
    paper = specs["llama-3.2-1b"]
    assert paper.levels == models.PAPER_LEVELS and paper.dtype == "bfloat16" and paper.gated
    assert (paper.hidden_size, paper.intermediate_size, paper.num_layers) == (2048, 8192, 16)
    assert specs["llama-3.2-3b"].hidden_size == 3072 and specs["llama-3.2-3b"].num_layers == 28
    assert specs["llama-3.2-1b-instruct"].levels == (0.0, 10.0, 40.0, 60.0)
    assert "chat" in specs["llama-3.2-1b-instruct"].variants
    for s in specs.values():
        assert s.max_length >= 256
        if s.source == "hub":
            assert s.pinned, f"{s.name}: revision must be a full commit SHA"
    smoke = specs["smollm2-135m-instruct"]
    assert smoke.source == "pypi" and not smoke.gated and smoke.intermediate_size == 1536


def test_the_paper_models_come_from_the_yaml_alone():
    assert models.paper_models() == ["llama-3.2-1b", "llama-3.2-3b", "llama-3.2-1b-instruct"]
    assert models.get("llama-3.2-1b-instruct").label == "Llama-3.2-1B-Instruct"
    assert models.get("smollm2-135m-instruct").label == "SmolLM2-135M-Instruct"


def test_suites_named_by_models_exist():
    from repro.config import suites

    known = suites.load_suites()
    for s in models.load_models().values():
        assert s.suite in known, s.name
        assert s.selection_suite is None or s.selection_suite in known, s.name


def test_unknown_model_is_one_line_error():
    with pytest.raises(ReproError, match="unknown model 'llama-9b'") as e:
        models.get("llama-9b")
    assert "\n" not in str(e.value)


def test_local_folder_is_an_adhoc_spec(tmp_path):
    (tmp_path / "config.json").write_text('{"hidden_size": 32, "intermediate_size": 96, '
                                          '"num_hidden_layers": 2}')
    spec = models.get(str(tmp_path))
    assert spec.local_path == str(tmp_path.resolve()) and spec.source == "local"
    assert (spec.hidden_size, spec.intermediate_size, spec.num_layers) == (32, 96, 2)
    # named after the folder and its content (repro.core.identity): two folders of one name differ
    assert spec.name == f"{tmp_path.name.lower()}-{spec.identity.split(':')[1][:8]}"
    assert spec.identity.startswith("content-v1:") and spec.record()["identity"] == spec.identity
    assert not spec.gated and spec.suite is None


def test_local_folder_without_widths_in_its_config_has_unknown_widths(tmp_path):
    with pytest.raises(ReproError, match="is an empty folder: no model in it"):
        models.get(str(tmp_path))  # nothing to load: refused before any stage starts
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    spec = models.get(str(tmp_path))
    assert (spec.hidden_size, spec.intermediate_size, spec.num_layers) == (None, None, None)


def test_level_outside_list():
    spec = models.get("llama-3.2-1b-instruct")
    assert spec.check_levels(["10", 40]) == [10.0, 40.0]
    with pytest.raises(ReproError, match="level 20 is not in llama-3.2-1b-instruct"):
        spec.check_levels([20])


def test_gated_without_token(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # no stored token either
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    with pytest.raises(ReproError, match="gated.*HF_TOKEN") as e:
        models.check_access(models.get("llama-3.2-1b"))
    assert "https://huggingface.co/meta-llama/Llama-3.2-1B" in str(e.value)
    models.check_access(models.get("smollm2-135m-instruct"))  # not gated: no token needed
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline: cached weights need no token
    models.check_access(models.get("llama-3.2-1b"))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_TOKEN", "hf_dummy")
    models.check_access(models.get("llama-3.2-1b"))


@pytest.mark.parametrize("bad, msg", [
    ({"dtype": "int8"}, "dtype"),
    ({"levels": [120]}, "levels"),
    ({"colour": "red"}, "key 'models.llama-3.2-1b.colour': unknown key"),
    ({"hidden_size": "big"}, "key 'models.llama-3.2-1b.hidden_size': expected a whole number"),
    ({"gated": "yes"}, "expected true or false"),
    ({"variants": ["chat"]}, "variants"),
])
def test_bad_yaml_is_refused(tmp_path, bad, msg):
    import yaml

    raw = yaml.safe_load(models.FILE.read_text())
    raw["models"]["llama-3.2-1b"].update(bad)
    p = tmp_path / "models.yaml"
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReproError, match=msg) as e:
        models.load_models(p)
    assert str(e.value).startswith(f"{p}: ") and "\n" not in str(e.value)
