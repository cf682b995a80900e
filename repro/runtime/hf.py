"""Load a causal LM (Hub id, local folder or GGUF file) with errors a user can act on.

    model, tokenizer, source = load("meta-llama/Llama-3.2-1B", revision=SHA, dtype="bfloat16")

No `trust_remote_code`, ever: only architectures that transformers itself implements load.
A kit-pruned folder whose layers differ in width is rebuilt by repro.runtime.nonuniform.
The HF token is read by huggingface_hub from HF_TOKEN; it is never logged or recorded.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from repro.core import hub
from repro.core.dtypes import DTYPES
from repro.core.errors import ReproError
from repro.runtime.nonuniform import from_pretrained, per_layer_widths

log = logging.getLogger("repro.loading")


def resolve_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ReproError(f"unknown dtype '{name}'; choose one of {', '.join(DTYPES)}")
    return getattr(torch, name)


def _split_gguf(model: str, gguf_file: str | None) -> tuple[str, str | None]:
    p = Path(model)
    if gguf_file is None and p.suffix == ".gguf" and p.is_file():
        return str(p.parent), p.name
    return model, gguf_file


def _hub_error(model: str, exc: BaseException) -> ReproError | None:
    """Translate a Hub failure (possibly wrapped in OSError by transformers) into one line."""
    from huggingface_hub import errors as hf

    chain, e = [], exc
    while e is not None and len(chain) < 5:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = " ".join(str(c) for c in chain)
    kinds = tuple(type(c) for c in chain)

    def has(t: type) -> bool:
        return any(issubclass(k, t) for k in kinds)

    if has(hf.GatedRepoError) or "gated repo" in text:
        return ReproError(f"{hub.gated_steps(model)} and export HF_TOKEN=<token>")
    if has(hf.RevisionNotFoundError):
        return ReproError(f"revision not found for {model}; check --revision")
    if has(hf.RepositoryNotFoundError) or "is not a local folder and is not a valid model identifier" in text:
        return ReproError(f"unknown model '{model}': not a local folder and not a model on the Hugging Face "
                          "Hub; check the id (e.g. meta-llama/Llama-3.2-1B) or the path")
    if has(hf.LocalEntryNotFoundError) or "offline mode" in text or "couldn't connect" in text.lower():
        return ReproError(f"{model} is not in the local Hugging Face cache and the Hub cannot be reached; "
                          "connect to the network, or mount a cache that holds it (HF_HOME)")
    if has(hf.HFValidationError):
        return ReproError(f"'{model}' is neither an existing local path nor a valid Hub id (owner/name)")
    return None


def _quiet_hub() -> None:
    """The Hub client logs every retry; the final failure is reported as one line instead."""
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def major(version: str) -> int:
    """The major version of a version string ('4.57.6' -> 4)."""
    head = version.split(".")[0]
    return int(head) if head.isdigit() else 0


def check_folder(model: str, *, tokenizer: bool = True) -> None:
    """What this transformers would misread in a local folder another version wrote, or could
    not use: under 4.x, RoPE settings kept only in transformers 5's `rope_parameters` (4.x would
    silently take its default rope_theta; 5.x reads both spellings), or no tokenizer at all."""
    import transformers

    from repro.core.cache import cache_root

    folder = Path(model)
    if not (folder / "config.json").is_file():
        return
    try:
        cfg = json.loads((folder / "config.json").read_bytes().decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReproError(f"{folder}/config.json is not valid JSON ({exc}); restore the model's config") from None
    if not isinstance(cfg, dict):
        raise ReproError(f"{folder}/config.json is not a JSON object; restore the model's config")
    running = transformers.__version__
    if major(running) < 5 and isinstance(cfg.get("rope_parameters"), dict) \
            and "rope_theta" not in cfg:
        writer = cfg.get("transformers_version", "5.x")
        fix = (f"it is a conversion the kit cached: remove {folder} and it is made again"
               if cache_root().resolve() in folder.resolve().parents else
               f"load it with transformers {writer} instead, re-save it with transformers "
               f"{running}, or add rope_theta and rope_scaling to its config.json")
        raise ReproError(
            f"{folder} was written by transformers {writer}, which keeps RoPE settings in "
            f"'rope_parameters'; transformers {running} would ignore them and use its defaults "
            f"(wrong outputs); {fix}")
    if tokenizer and not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise ReproError(f"{folder} has no tokenizer files ({', '.join(TOKENIZER_FILES)}); save the "
                         "model's tokenizer into it (tokenizer.save_pretrained)")


def load_config(model: str, *, revision: str | None = None, gguf_file: str | None = None):
    from transformers import AutoConfig

    _quiet_hub()
    model, gguf_file = _split_gguf(model, gguf_file)
    if not gguf_file:
        check_folder(model, tokenizer=False)
    try:
        return AutoConfig.from_pretrained(model, revision=revision, gguf_file=gguf_file,
                                          trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        mapped = _hub_error(model, exc) if isinstance(exc, OSError | ValueError) else None
        if mapped:
            raise mapped from exc
        if isinstance(exc, ValueError) and ("trust_remote_code" in str(exc) or "model type" in str(exc)):
            raise ReproError(f"{model}: its architecture is not implemented in transformers "
                             "(remote code is never run by this kit)") from exc
        raise _folder_error(model, exc) from exc


def load(model: str, *, revision: str | None = None, gguf_file: str | None = None,
         dtype: str = "bfloat16", device: str = "cpu"):
    """Return (model in eval mode, tokenizer, source record)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_hub()
    torch_dtype = resolve_dtype(dtype)
    path, gguf_file = _split_gguf(model, gguf_file)
    kwargs = dict(revision=revision, trust_remote_code=False)
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    log.info("loading %s (%s)", model, dtype)
    if not gguf_file:
        check_folder(path)
    nonuniform = gguf_file is None and per_layer_widths(path) is not None
    info = None
    try:
        tok = AutoTokenizer.from_pretrained(path, **kwargs)
        if nonuniform:  # layers differ in width: the kit's loader
            lm = from_pretrained(path, dtype=torch_dtype)
        else:
            lm, info = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype,
                                                            output_loading_info=True, **kwargs)
    except (OSError, ValueError, RuntimeError, AttributeError, TypeError, KeyError, ImportError) as exc:
        mapped = _hub_error(model, exc) if isinstance(exc, OSError | ValueError) else None
        if mapped:
            raise mapped from exc
        raise _folder_error(model, exc) from exc
    if info is not None:  # GGUF tensors are renamed on the way in; its loader checks them itself
        _check_complete(model, info)
    if gguf_file:
        lm = _dequantised_copy(lm, torch_dtype)
    lm.to(device).eval()
    source = {
        "model": model,
        "gguf_file": gguf_file,
        "revision": revision,
        "resolved_commit": getattr(lm.config, "_commit_hash", None),
        "model_type": lm.config.model_type,
    }
    return lm, tok, source


def _folder_error(model: str, exc: BaseException) -> BaseException:
    """A folder this transformers cannot read (damaged weights, another version's tokenizer
    files, a shape that contradicts its config) as one line; anything else stays a traceback."""
    import transformers

    text = " ".join(str(exc).split()) or type(exc).__name__  # the whole message, on one line
    if len(text) > 300:  # a library's long advice: cut at a word, and say so
        text = text[:300].rsplit(" ", 1)[0] + " [...]"
    if not Path(model).exists():
        return exc
    return ReproError(f"{model}: transformers {transformers.__version__} cannot load it "
                      f"({type(exc).__name__}: {text}); re-save the folder with this version "
                      "(save_pretrained) or restore it from its source")


def _check_complete(model: str, info: dict) -> None:
    """Refuse weights that lack tensors of the architecture: transformers would fill them with
    random values and only warn."""
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise ReproError(f"{model}: its weights lack {len(missing)} tensor(s) of the architecture "
                         f"(e.g. {missing[0]}), which transformers would fill with random values; "
                         "the folder is incomplete or belongs to another architecture")


def _dequantised_copy(lm, dtype: torch.dtype):
    """GGUF weights arrive dequantised, but the model is flagged quantised and cannot be
    saved; rebuild it as a plain model holding the same tensors."""
    from transformers import AutoModelForCausalLM

    cfg = lm.config
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    plain = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    plain.load_state_dict(lm.state_dict())
    plain.tie_weights()
    return plain
