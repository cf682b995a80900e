"""Stage 1, prune: rank GLU neurons once per model and criterion, then cut any level from it.

    python -m repro prune --model meta-llama/Llama-3.2-1B --method maw --level 40 --out DIR
    python -m repro prune --model DIR --method ppm --expansion 2.4 --align 64 --out DIR2

Rules kept from optipfair v0.2.0 (the paper's code), bit for bit:
  kept width  k = I - min(int(p / 100 * I), I - 1)   (that float order; I = 8192, p = 40 -> 4916)
  kept set    the k highest float32 scores per layer, in ascending index order
  applied to  gate_proj/up_proj rows and down_proj columns of every decoder layer
Ties need a rule. bf16 weights give many equal float32 scores (maw sums four bf16 values),
and `torch.topk` leaves the choice among equal scores to the backend (CPU and CUDA differ):
  tie_break="stable" (default, corrected): a stable descending sort, lower index wins; every
      level is a prefix of one order, so a higher level keeps a subset of a lower one, on any
      device, every time.
  tie_break="topk" (paper-compatible): `torch.topk(scores, k)` per level on the weights' device,
      exactly optipfair's call, so on the paper's device it picks the paper's neurons; nesting
      then holds except among tied scores.
Both agree whenever the k-th and (k+1)-th scores of every layer differ. The record says which.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import itertools
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from repro import criteria
from repro.errors import ReproError
from repro.glu import glu_mlps

log = logging.getLogger("repro.prune")

SIDECAR = "repro_prune.json"


# ---------------------------------------------------------------- widths


def keep_count(width: int, level: float) -> int:
    """optipfair v0.2.0's kept width for `level` percent of `width` neurons pruned."""
    check_level(level)
    return width - min(int(level / 100 * width), width - 1)


def check_level(level: float) -> None:
    if not (0 <= level < 100):
        raise ReproError(f"pruning level {level:g} is outside [0, 100): give a percentage such as 40")


def width_for_expansion(hidden: int, width: int, ratio: float) -> int:
    """Kept width for an expansion ratio k / hidden (the paper's 2.4x is 1B at 40%)."""
    k = round(ratio * hidden)
    if not (1 <= k <= width):
        raise ReproError(f"expansion ratio {ratio:g} gives width {k}, outside [1, {width}] "
                         f"(hidden {hidden}, original ratio {width / hidden:.3g}); choose a smaller ratio")
    return k


def align_width(k: int, width: int, align: int) -> int:
    """Round k to the nearest multiple of `align`, never 0 and never above the original width."""
    if align < 1:
        raise ReproError(f"--align {align} must be a positive integer such as 64")
    if align > width:
        raise ReproError(f"--align {align} exceeds the layer width {width}; choose a smaller multiple")
    aligned = max(align, int(round(k / align)) * align)
    while aligned > width:
        aligned -= align
    return aligned


@dataclass(frozen=True)
class Target:
    """What to keep: a pruning level in percent, or an expansion ratio; optional alignment."""

    level: float | None = None
    expansion: float | None = None
    align: int | None = None

    def __post_init__(self) -> None:
        if (self.level is None) == (self.expansion is None):
            raise ReproError("give exactly one of --level (percent pruned) or --expansion (k / hidden)")
        if self.level is not None:
            check_level(self.level)
        if self.expansion is not None and not self.expansion > 0:
            raise ReproError(f"expansion ratio {self.expansion:g} must be positive, e.g. 2.4")
        if self.align is not None and self.align < 1:
            raise ReproError(f"--align {self.align} must be a positive integer such as 64")

    def width(self, width: int, hidden: int) -> int:
        k = (keep_count(width, self.level) if self.level is not None
             else width_for_expansion(hidden, width, self.expansion))
        return align_width(k, width, self.align) if self.align else k

    @property
    def label(self) -> str:
        base = f"level{self.level:g}" if self.level is not None else f"exp{self.expansion:g}"
        return base + (f"-align{self.align}" if self.align else "")


# ---------------------------------------------------------------- ranking


TIE_BREAKS = ("stable", "topk")


@dataclass
class Ranking:
    """Per-layer scores and neuron order (most important first); computed once, cut at any width."""

    criterion: str
    scores: list[Tensor]  # float32 [I] per layer, on the weights' device
    orders: list[Tensor]  # int64 [I] per layer, on CPU
    hidden: int
    seed: int | None = None

    @property
    def widths(self) -> list[int]:
        return [len(o) for o in self.orders]

    def kept(self, k: int, tie_break: str = "stable") -> list[Tensor]:
        """Kept indices per layer, ascending."""
        if tie_break == "stable":
            return [o[:k].sort().values for o in self.orders]
        if tie_break == "topk":  # optipfair 0.2.0: topk(score, k, largest=True), then sorted
            return [torch.topk(s, k, largest=True).indices.sort().values.cpu() for s in self.scores]
        raise ReproError(f"unknown tie-break '{tie_break}'; choose one of {', '.join(TIE_BREAKS)}")


def order_from_scores(scores: Tensor) -> Tensor:
    """Indices by descending score; ties go to the lower index (stable sort)."""
    return torch.sort(scores.detach().float().cpu(), descending=True, stable=True).indices


def rank(
    model: nn.Module,
    criterion: str,
    *,
    seed: int = 0,
    calibration: list[tuple[Tensor, Tensor]] | None = None,
) -> Ranking:
    crit = criteria.canonical(criterion)
    mlps = glu_mlps(model)
    if crit in criteria.WEIGHT_CRITERIA:
        scores = []
        for m in mlps:
            log.info("scoring layer %d/%d (%s)", m.layer + 1, len(mlps), crit)
            scores.append(criteria.weight_scores(m, crit))
    elif crit == "random":
        scores = criteria.random_scores([m.width for m in mlps], seed)
    else:
        if not calibration:
            raise ReproError("criterion 'activation' needs calibration text: pass --calibration FILE")
        log.info("running %d calibration batches", len(calibration))
        scores = criteria.activation_norms(model, mlps, calibration)
    return Ranking(crit, scores, [order_from_scores(s) for s in scores],
                   hidden=mlps[0].gate.in_features, seed=seed if crit == "random" else None)


# ---------------------------------------------------------------- applying


def indices_sha256(kept: list[Tensor]) -> str:
    """Hash of the kept indices: int64 little-endian, layer after layer."""
    h = hashlib.sha256()
    for idx in kept:
        h.update(idx.to(torch.int64).numpy().astype("<i8").tobytes())
    return h.hexdigest()


def _set_weight(lin: nn.Linear, name: str, value: Tensor) -> None:
    old = getattr(lin, name)
    setattr(lin, name, nn.Parameter(value, requires_grad=old.requires_grad))


@torch.no_grad()
def apply_kept(model: nn.Module, kept: list[Tensor]) -> nn.Module:
    """A pruned copy of `model` keeping neurons `kept[layer]`; the base is left untouched.

    Every tensor that pruning does not touch (attention, norms, embeddings) is shared with the
    base, so the base plus one pruned copy costs the base plus the pruned MLPs only.
    """
    shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    pruned = copy.deepcopy(model, shared)
    mlps = glu_mlps(pruned)
    if len(kept) != len(mlps):
        raise ValueError(f"{len(kept)} index sets for {len(mlps)} layers")
    for m, idx in zip(mlps, kept, strict=True):
        k = len(idx)
        if k == m.width:  # nothing removed: keep sharing the base's tensors
            continue
        idx = idx.to(m.gate.weight.device)
        for lin in (m.gate, m.up):
            _set_weight(lin, "weight", lin.weight.index_select(0, idx))
            if lin.bias is not None:
                _set_weight(lin, "bias", lin.bias.index_select(0, idx))
            lin.out_features = k
        _set_weight(m.down, "weight", m.down.weight[:, idx])  # faster than index_select(1, .)
        m.down.in_features = k
        if isinstance(getattr(m.mlp, "intermediate_size", None), int):
            m.mlp.intermediate_size = k
    ks = [len(i) for i in kept]
    cfg = pruned.config
    if isinstance(getattr(cfg, "intermediate_size", None), list):
        cfg.intermediate_size = ks
    elif len(set(ks)) == 1:
        cfg.intermediate_size = ks[0]
    else:
        raise ReproError("layers ended with different widths but the config holds a single "
                         "intermediate_size; prune with one width for all layers")
    return pruned


def num_parameters(model: nn.Module) -> int:
    """Unique parameters (tied embeddings counted once), as the paper's counts."""
    return sum(p.numel() for p in model.parameters())


@dataclass
class PruneInfo:
    criterion: str
    level: float | None
    expansion_requested: float | None
    align: int | None
    original_width: int
    kept_width: int
    hidden_size: int
    num_layers: int
    expansion_ratio: float
    params_before: int
    params_after: int
    kept_indices_sha256: str
    seed: int | None
    tie_break: str  # stable (corrected, nested) | topk (optipfair-compatible)

    def to_dict(self) -> dict:
        return asdict(self)


def prune(model: nn.Module, ranking: Ranking, target: Target,
          tie_break: str = "stable") -> tuple[nn.Module, PruneInfo]:
    """Cut `ranking` at `target` and return the pruned copy with its record."""
    widths = set(ranking.widths)
    if len(widths) != 1:
        raise ReproError(f"layers have different MLP widths {sorted(widths)}; not supported")
    width = widths.pop()
    k = target.width(width, ranking.hidden)
    kept = ranking.kept(k, tie_break)
    pruned = apply_kept(model, kept)
    info = PruneInfo(
        criterion=ranking.criterion, level=target.level, expansion_requested=target.expansion,
        align=target.align, original_width=width, kept_width=k, hidden_size=ranking.hidden,
        num_layers=len(kept), expansion_ratio=k / ranking.hidden,
        params_before=num_parameters(model), params_after=num_parameters(pruned),
        kept_indices_sha256=indices_sha256(kept), seed=ranking.seed, tie_break=tie_break,
    )
    return pruned, info


# ---------------------------------------------------------------- saving


def save(pruned: nn.Module, tokenizer, info: PruneInfo, out: str | Path, source: dict) -> Path:
    """save_pretrained + tokenizer + sidecar, written to a temporary folder then moved in place."""
    from repro.atomicio import staged_dir, write_json
    from repro.provenance import provenance

    out = Path(out)
    with staged_dir(out) as tmp:
        pruned.save_pretrained(tmp, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        dtype = str(next(pruned.parameters()).dtype).removeprefix("torch.")
        write_json(tmp / SIDECAR, {"prune": info.to_dict(), "source": source,
                                   "dtype": dtype, "provenance": provenance()})
    return out


# ---------------------------------------------------------------- CLI


def configure(p: argparse.ArgumentParser) -> None:
    from repro.loading import add_model_arguments

    add_model_arguments(p)
    p.add_argument("--method", default="maw", help=f"criterion: {', '.join(criteria.CRITERIA)} (ppm = maw)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--level", type=float, nargs="+", help="percent of MLP neurons pruned, 0 <= p < 100")
    g.add_argument("--expansion", type=float, nargs="+", help="target expansion ratio k / hidden, e.g. 2.4")
    p.add_argument("--align", type=int, help="round the kept width to a multiple of N (e.g. 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the 'random' criterion")
    p.add_argument("--tie-break", choices=TIE_BREAKS, default="stable",
                   help="equal scores: stable = lower index wins, nested levels (default); "
                        "topk = optipfair's torch.topk on the weights' device (paper-compatible)")
    p.add_argument("--calibration", type=Path, help="UTF-8 text file for the 'activation' criterion")
    p.add_argument("--calibration-samples", type=int, default=32, help="windows of 512 tokens")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder (with several targets: one subfolder each)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")


def run(args: argparse.Namespace) -> int:
    from repro.loading import load_model, load_model_checked

    crit = criteria.canonical(args.method)
    targets = ([Target(level=v, align=args.align) for v in args.level] if args.level
               else [Target(expansion=v, align=args.align) for v in args.expansion])
    outs = [args.out] if len(targets) == 1 else [args.out / f"{crit}-{t.label}" for t in targets]
    for o in outs:
        if o.exists() and any(o.iterdir()) and not args.overwrite:
            raise ReproError(f"output folder {o} exists and is not empty; pass --overwrite or choose another --out")
    if crit == "activation" and (args.calibration is None or not args.calibration.is_file()):
        raise ReproError("criterion 'activation' needs --calibration FILE (a UTF-8 text file)")

    load_model_checked(args)  # config + structure only: fails fast, before any weights load
    model, tokenizer, source = load_model(args)
    calibration = None
    if crit == "activation":
        calibration = criteria.calibration_batches(
            tokenizer, args.calibration.read_text(encoding="utf-8"), samples=args.calibration_samples)
    ranking = rank(model, crit, seed=args.seed, calibration=calibration)
    for t, o in zip(targets, outs, strict=True):
        pruned, info = prune(model, ranking, t, args.tie_break)
        save(pruned, tokenizer, info, o, source)
        log.info("%s: kept %d/%d neurons per layer (ratio %.3f), %d -> %d parameters",
                 o, info.kept_width, info.original_width, info.expansion_ratio,
                 info.params_before, info.params_after)
        print(o)
        del pruned
    return 0
