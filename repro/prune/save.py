"""Save a pruned model: save_pretrained weights, the tokenizer and the `repro_prune.json`
sidecar (criterion, level, kept width, kept-index hash, allocation, how to reload it,
provenance), written to a temporary folder and moved into place, so a reader never sees half a
model; an existing folder is replaced atomically (repro.core.atomicio.staged_dir). Uniform
widths reload with stock `from_pretrained`; layers of different widths (an allocation) need the
kit's loader, and the sidecar says so (repro/runtime/nonuniform.py). Before any weights load,
`check_space` compares the folders' expected size with the free disk."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch
from torch import nn

from repro.core.atomicio import staged_dir, write_error, write_json
from repro.core.errors import ReproError
from repro.core.provenance import provenance
from repro.prune.apply import PruneInfo
from repro.prune.outputs import SIDECAR, saved
from repro.prune.widths import Target
from repro.runtime.device import host_info
from repro.runtime.nonuniform import PER_LAYER_KEY

log = logging.getLogger("repro.prune")

MARGIN = 64 << 20  # tokenizer, config and sidecar, with room to spare
STOCK = "transformers.AutoModelForCausalLM.from_pretrained(folder)"
KIT = ("repro.runtime.hf.load(folder) or repro.runtime.nonuniform.from_pretrained(folder): "
       f"layers differ in MLP width (config.json '{PER_LAYER_KEY}'); stock transformers holds "
       "one intermediate_size and refuses these weights")


def reload_note(pruned: nn.Module) -> dict:
    """How the saved folder reloads: stock from_pretrained, or the kit's loader."""
    widths = getattr(pruned.config, PER_LAYER_KEY, None)
    return {"uniform_widths": widths is None, "loader": STOCK if widths is None else KIT}


def save(pruned: nn.Module, tokenizer, info: PruneInfo, out: str | Path, source: dict) -> Path:
    """save_pretrained + tokenizer + sidecar, written to a temporary folder then moved in place."""
    out = Path(out)
    with staged_dir(out) as tmp:
        try:
            pruned.save_pretrained(tmp, safe_serialization=True)
            if tokenizer is not None:
                tokenizer.save_pretrained(tmp)
        except Exception as exc:  # safetensors reports a full disk as its own error type
            raise _save_error(out, exc) from exc
        dtype = str(next(pruned.parameters()).dtype).removeprefix("torch.")
        write_json(tmp / SIDECAR, {"prune": info.to_dict(), "source": source, "dtype": dtype,
                                   "reload": reload_note(pruned),
                                   "provenance": provenance(host_info(None))})
    saved(out)
    return out


def _save_error(out: Path, exc: Exception) -> Exception:
    e: BaseException | None = exc
    while e is not None:
        if isinstance(e, OSError) and (mapped := write_error(out, e)):
            return mapped
        e = e.__cause__ or e.__context__
    text = str(exc)
    if "code: 28" in text or "StorageFull" in text or "No space left" in text:
        return ReproError(f"cannot write {out}: no space left on device; free some space or "
                          "choose another --out")
    return exc


def expected_bytes(config, target: Target, dtype: str) -> int:
    """The saved size of the model pruned to `target`: its parameters (counted on the meta
    device, tied weights once) less the MLP columns cut, times the dtype's size."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    total = model.num_parameters()
    hidden, width = config.hidden_size, config.intermediate_size
    kept = target.width(width, hidden)
    total -= config.num_hidden_layers * 3 * hidden * (width - kept)
    return total * torch.empty(0, dtype=getattr(torch, dtype)).element_size()


def check_space(outs: list[Path], config, targets: list[Target], dtype: str) -> None:
    """Refuse, before any weights load, output folders the free disk cannot hold."""
    need: dict[int, tuple[Path, int]] = {}
    for out, t in zip(outs, targets, strict=True):
        probe = out
        while not probe.exists():
            probe = probe.parent
        dev = probe.stat().st_dev
        where, total = need.get(dev, (probe, 0))
        try:
            size = expected_bytes(config, t, dtype)
        except ReproError:
            raise  # the target itself is impossible (a ratio or alignment too large)
        except Exception as exc:  # noqa: BLE001 - an architecture the meta device cannot build
            log.warning("the pruned size could not be estimated (%s); free disk not checked", exc)
            return
        need[dev] = (where, total + size + MARGIN)
    for where, total in need.values():
        free = shutil.disk_usage(where).free
        if free < total:
            raise ReproError(f"--out: the pruned model(s) need about {total / 1e9:.2f} GB but "
                             f"{where} has {free / 1e9:.2f} GB free; free some space or choose "
                             "another --out")
