"""Reload a pruned model whose layers differ in MLP width (a non-uniform allocation).

Stock transformers cannot: a Llama config holds one `intermediate_size`, so
`AutoModelForCausalLM.from_pretrained` builds every layer at that width and refuses the
smaller tensors (size mismatch). The kit saves such a model with its per-layer widths in
config.json under `repro_intermediate_sizes` (and `intermediate_size` left at the unpruned
width, so a stock load fails loudly instead of loading something else), and rebuilds it here:
the architecture from the config with parameters on the meta device (buffers real, as
transformers' own loader does), every MLP's gate/up/down Linear at its layer's width, then the
saved tensors assigned as they are. Uniform models never come here: they reload with stock
`from_pretrained`.

    model = from_pretrained("pruned/owl-40", dtype=torch.float32)   # or repro.runtime.hf.load
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from repro.core.errors import ReproError

PER_LAYER_KEY = "repro_intermediate_sizes"


def per_layer_widths(path: str | Path) -> list[int] | None:
    """The per-layer widths a kit-saved folder records, or None (uniform, or not a folder)."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return None
    widths = json.loads(cfg.read_text(encoding="utf-8")).get(PER_LAYER_KEY)
    return list(widths) if widths is not None else None


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ReproError(f"{path} holds no .safetensors weights; save it again with `repro prune`")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def _resize(layer: nn.Module, width: int, i: int) -> None:
    mlp = getattr(layer, "mlp", None)
    if mlp is None or not all(hasattr(mlp, n) for n in ("gate_proj", "up_proj", "down_proj")):
        raise ReproError(f"decoder layer {i} has no GLU MLP (gate_proj/up_proj/down_proj); "
                         f"'{PER_LAYER_KEY}' applies to GLU models only")
    for name in ("gate_proj", "up_proj"):
        old = getattr(mlp, name)
        setattr(mlp, name, nn.Linear(old.in_features, width, bias=old.bias is not None,
                                     device="meta", dtype=old.weight.dtype))
    old = mlp.down_proj
    mlp.down_proj = nn.Linear(width, old.out_features, bias=old.bias is not None,
                              device="meta", dtype=old.weight.dtype)
    if isinstance(getattr(mlp, "intermediate_size", None), int):
        mlp.intermediate_size = width


def from_pretrained(path: str | Path, *, dtype: torch.dtype = torch.float32):
    """The saved non-uniform model, rebuilt exactly (every tensor as saved), in eval mode."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    widths = per_layer_widths(path)
    if widths is None:
        raise ReproError(f"{path} records no per-layer widths ('{PER_LAYER_KEY}'); "
                         "load it with stock from_pretrained")
    config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, trust_remote_code=False)
    layers = model.get_decoder().layers
    if len(layers) != len(widths):
        raise ReproError(f"{path}: '{PER_LAYER_KEY}' lists {len(widths)} widths for "
                         f"{len(layers)} decoder layers; the folder is damaged, prune again")
    for i, (layer, width) in enumerate(zip(layers, widths, strict=True)):
        _resize(layer, width, i)
    state = _state_dict(path)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    except RuntimeError as exc:  # a shape that disagrees with the recorded widths
        raise ReproError(f"{path}: weights do not match '{PER_LAYER_KEY}' "
                         f"({str(exc).splitlines()[1].strip()}); prune again") from None
    if unexpected:
        raise ReproError(f"{path}: unexpected tensors {unexpected[:3]}; prune again")
    model.tie_weights()
    still_empty = [n for n, p in model.named_parameters() if p.is_meta]
    if still_empty:
        raise ReproError(f"{path}: tensors missing from the weights: {still_empty[:3]} "
                         f"(of {len(missing)} missing); prune again")
    return model.to(dtype).eval()
