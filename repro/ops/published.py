"""`python -m repro published`: the paper's published pruned checkpoints against the kit's prune.

    python -m repro published                                      # the three, from the Hub
    python -m repro published --models llama-3.2-1b --checkpoint 40=DIR   # a local copy instead

The paper's notebooks did not prune their "star" configurations on the fly: they loaded
oopere/Llama-3.2-1B-pruned-40pct, oopere/Llama-3.2-3B-pruned-10pct and
oopere/Llama-3.2-1B-I-pruned-40pct from the Hub (utils.py EXPERIMENT_CONFIG, is_star; models.yaml
`published`). The kit prunes every level itself, so its results rest on its prune giving the
same model. For each, this downloads the checkpoint (config and safetensors only), prunes the
base model as every stage does (MAW, the paper's tie-break, the model's dtype) and compares
every tensor: names, shapes, dtypes and values, bit for bit. Each difference is reported
(exit 1); identical checkpoints pass (exit 0). The token (gated base models) is handled by
huggingface_hub and never printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from repro.config import models
from repro.core import options
from repro.core.errors import ReproError


def checkpoint(text: str) -> tuple[float, str]:
    """LEVEL=PATH_OR_HUB_ID, e.g. 40=oopere/Llama-3.2-1B-pruned-40pct or 40=./local-copy."""
    level, sep, where = text.partition("=")
    if not sep or not where:
        raise argparse.ArgumentTypeError(f"'{text}' is not LEVEL=PATH (e.g. 40=./pruned-40)")
    return options.level(level), where


def configure(p: argparse.ArgumentParser) -> None:
    options.add_models(p, "every model with `published` checkpoints in models.yaml")
    p.add_argument("--checkpoint", type=checkpoint, nargs="+", default=[],
                   help="LEVEL=PATH or LEVEL=HUB_ID instead of models.yaml's (one model only)")
    options.add_device(p)
    options.add_dtype(p)


def tensors(where: str) -> tuple[dict, dict]:
    """(every tensor of the checkpoint's safetensors files, its config.json)."""
    import json

    from safetensors import safe_open

    folder = Path(where)
    if not folder.is_dir():
        folder = _download(where)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ReproError(f"{where} holds no .safetensors files; give a saved model folder")
    out = {}
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            out.update({k: st.get_tensor(k) for k in st.keys()})
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return out, config


def _download(repo_id: str) -> Path:
    from huggingface_hub import errors as hf
    from huggingface_hub import snapshot_download

    from repro.core import hub

    if hub.offline():
        raise ReproError(f"{repo_id}: HF_HUB_OFFLINE is set; unset it or pass --checkpoint LEVEL=DIR")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors"]))
    except (hf.HfHubHTTPError, OSError, ValueError) as exc:
        raise ReproError(f"cannot download {repo_id} ({type(exc).__name__}): connect to the Hub, "
                         "or pass --checkpoint LEVEL=DIR with a local copy") from None


def differences(kit: dict, ref: dict, tied: bool) -> list[str]:
    """Every way the reference's tensors differ from the kit's, one line each."""
    import torch

    out = []
    ignore = {"lm_head.weight"} if tied else set()  # tied: the embedding, saved once
    for name in sorted(set(kit) - set(ref) - ignore):
        out.append(f"{name}: in the kit's prune, not in the checkpoint")
    for name in sorted(set(ref) - set(kit)):
        out.append(f"{name}: in the checkpoint, not in the kit's prune")
    for name in sorted(set(kit) & set(ref)):
        a, b = kit[name], ref[name]
        if tuple(a.shape) != tuple(b.shape):
            out.append(f"{name}: shape {list(b.shape)} in the checkpoint, {list(a.shape)} in the kit's prune")
        elif a.dtype != b.dtype:
            out.append(f"{name}: dtype {b.dtype} in the checkpoint, {a.dtype} in the kit's prune")
        elif not torch.equal(a.cpu(), b.cpu()):
            d = (a.float().cpu() - b.float().cpu()).abs()
            out.append(f"{name}: {int((d > 0).sum())} of {d.numel()} values differ (max |d| "
                       f"{d.max().item():.3g})")
    return out


def compare(spec: models.ModelSpec, level: float, where: str, *, device: str, dtype: str) -> list[str]:
    from repro.core.pruning import PAPER_TIE_BREAK
    from repro.prune.apply import prune
    from repro.prune.ranking import rank
    from repro.prune.widths import Target
    from repro.runtime.hf import load
    from repro.runtime.weights import weights

    ref, config = tensors(where)
    path, gguf, revision = weights(spec)
    model, _, _ = load(path, revision=revision, gguf_file=gguf, dtype=dtype, device=device)
    pruned, info = prune(model, rank(model, "maw"), Target(level=level), PAPER_TIE_BREAK)
    kit = {k: v.detach() for k, v in pruned.state_dict().items()}
    problems = differences(kit, ref, bool(getattr(pruned.config, "tie_word_embeddings", False)))
    if config.get("intermediate_size") != info.kept_width:
        problems.insert(0, f"config.json: intermediate_size {config.get('intermediate_size')}, "
                           f"the kit keeps {info.kept_width} at {level:g}%")
    return problems


def run(args: argparse.Namespace) -> int:
    from repro.runtime.device import resolve

    names = args.models or [n for n, s in models.load_models().items() if s.published]
    if args.checkpoint and len(names) != 1:
        raise ReproError("--checkpoint needs exactly one model (--models NAME)")
    device, failed = resolve(args.device), 0
    for name in names:
        spec = models.get(name)
        wanted = dict(args.checkpoint) or spec.published
        if not wanted:
            raise ReproError(f"{name} has no published checkpoints in models.yaml; pass "
                             "--checkpoint LEVEL=PATH")
        for level, where in sorted(wanted.items()):
            spec.check_levels([level])
            problems = compare(spec, level, where, device=device, dtype=args.dtype or spec.dtype)
            head = f"published: {name} at {level:g}% vs {where}"
            if problems:
                failed += 1
                print(f"{head}: DIFFERENT ({len(problems)} difference(s))")
                print("\n".join(f"  {p}" for p in problems))
            else:
                print(f"{head}: identical (every tensor, bit for bit)")
    return 1 if failed else 0
