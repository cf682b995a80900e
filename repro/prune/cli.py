"""Stage 1, prune: rank GLU neurons once per model and criterion, then cut any level from it.

    python -m repro prune --model meta-llama/Llama-3.2-1B --criterion maw --levels 40 --out DIR
    python -m repro prune --model DIR --criterion ppm --expansion 2.4 --align 64 --out DIR2
    python -m repro prune --model DIR --levels 10 20 30 40 50 60 --out pruned/   # one ranking
    python -m repro prune --model DIR --levels 40 --allocation owl --calibration TEXT --out DIR2

The rules (optipfair v0.2.0's keep count and selection, the tie-break) are in widths.py and
ranking.py; non-uniform allocations in allocation.py; applying a cut in apply.py; the output
folder in save.py (layers of different widths reload with repro.runtime.nonuniform).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from repro.core import options
from repro.core.dtypes import DTYPES
from repro.core.errors import ReproError
from repro.prune import criteria, names, outputs
from repro.prune.allocation import Allocation, parse
from repro.prune.apply import prune
from repro.prune.ranking import rank
from repro.prune.save import check_space, save
from repro.prune.widths import Target

log = logging.getLogger("repro.prune")
resume_hint = outputs.resume_hint  # what repro.cli says when prune is stopped


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="Hugging Face id, local folder, or .gguf file")
    p.add_argument("--revision", help="Hub commit, branch or tag (pin it for reproducible runs)")
    p.add_argument("--gguf-file", help="GGUF file name inside the --model folder")
    p.add_argument("--dtype", default="bfloat16", choices=DTYPES, help="weights dtype (the paper: bfloat16)")
    options.add_device(p, default="cpu")
    p.add_argument("--criterion", default="maw", type=names.criterion,
                   help=f"neuron criterion: {', '.join(criteria.CRITERIA)} (ppm = maw)")
    p.add_argument("--method", dest="criterion", type=names.criterion, help=argparse.SUPPRESS)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--levels", type=options.level, nargs="+",
                   help="percent of MLP neurons pruned, 0 <= p < 100 (several: one folder each)")
    g.add_argument("--level", dest="levels", type=options.level, nargs="+", help=argparse.SUPPRESS)
    g.add_argument("--expansion", type=options.positive_float, nargs="+",
                   help="target expansion ratio k / hidden, e.g. 2.4")
    p.add_argument("--align", type=options.positive_int,
                   help="round the kept width to a multiple of N (e.g. 64)")
    p.add_argument("--seed", type=options.seed, default=0, help="seed of the 'random' criterion")
    options.add_tie_break(p)
    p.add_argument("--calibration", type=Path, help="UTF-8 text file for the 'activation' criterion")
    p.add_argument("--calibration-samples", type=options.positive_int, default=32,
                   help="windows of 512 tokens")
    p.add_argument("--allocation", type=allocation_arg, default=Allocation(),
                   help="share each level's neuron budget between layers: uniform (default), owl "
                        "(needs --calibration), spareK (the K layers a `repro sensitivity` scan "
                        "found most sensitive keep every neuron); see repro/prune/allocation.py")
    p.add_argument("--sensitivity", metavar="NAME",
                   help="spareK: the model's name in the scan's cells (default: the --model folder's)")
    options.add_results(p)
    p.add_argument("--out", type=Path, required=True,
                   help="output folder (with several targets: one subfolder each)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")


def allocation_arg(text: str) -> Allocation:
    try:
        return parse(text)
    except ReproError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def scan_name(args) -> str:
    """The name a sensitivity scan of --model is recorded under (--sensitivity, else the
    models.yaml short name or folder name that --model is)."""
    from repro.config.models import get

    if args.sensitivity:
        return args.sensitivity
    try:
        return get(str(args.model)).name
    except ReproError:
        raise ReproError(f"{args.allocation.name}: pass --sensitivity NAME, the model's name in "
                         f"the cells of `repro sensitivity` under {args.results}") from None


def _widths(args, model, tokenizer, calibration_text: str | None, ranking, target: Target,
            cache: dict) -> tuple[list[int] | None, dict | None]:
    """Per-layer kept widths of a non-uniform --allocation (None for uniform), and its record."""
    from repro.config.extensions import extensions
    from repro.prune import allocation
    from repro.results.sensitivity import layer_sensitivity

    a = args.allocation
    if a.rule == "uniform":
        return None, None
    width = ranking.widths[0]
    k = target.width(width, ranking.hidden)
    if a.rule == "owl":
        owl = extensions().allocations.owl
        if "ratios" not in cache:
            from repro.prune.owl import outlier_ratios

            batches = criteria.calibration_batches(tokenizer, calibration_text,
                                                   samples=args.calibration_samples)
            cache["ratios"] = outlier_ratios(model, batches, owl.m)
        level = target.level if target.level is not None else 100.0 * (1 - k / width)
        shares = allocation.owl_sparsity(cache["ratios"], level / 100, owl.lam)
        record = {"rule": "owl", "m": owl.m, "lambda": owl.lam, "outlier_ratios": cache["ratios"],
                  "layer_sparsity": shares}
    else:
        scores, sens = layer_sensitivity(args.results, scan_name(args), ranking.criterion,
                                         len(ranking.widths), args.tie_break)
        spared = allocation.spared_layers(scores, a.k)
        shares = [0.0 if i in spared else 1.0 for i in range(len(scores))]
        record = {"rule": "spare", "k": a.k, "spared_layers": spared, "sensitivity": sens}
    widths = allocation.kept_widths(ranking.widths, k, shares)
    return widths, {**record, "kept_widths": widths}


def run(args: argparse.Namespace) -> int:
    from repro.core.textio import TextFile
    from repro.prune.glu import check_config
    from repro.runtime.device import resolve
    from repro.runtime.hf import load, load_config

    crit = criteria.canonical(args.criterion)
    targets = _targets(args)
    outs = outputs.folders(args, crit, targets)  # every destination, checked before anything loads
    needs_text = crit in criteria.CALIBRATED or args.allocation.rule == "owl"
    if needs_text and (args.calibration is None or not args.calibration.is_file()):
        what = f"criterion '{crit}'" if crit in criteria.CALIBRATED else "allocation 'owl'"
        raise ReproError(f"{what} needs --calibration FILE (a UTF-8 text file)")
    text = TextFile(args.calibration, "--calibration") if needs_text else None  # read as far as needed
    device = resolve(args.device)

    # config + structure only: fails fast, before any weights load
    config = load_config(args.model, revision=args.revision, gguf_file=args.gguf_file)
    check_config(config)
    check_space(outs, config, targets, args.dtype)
    if args.allocation.rule == "spare":  # a missing scan fails here, before any weights load
        from repro.results.sensitivity import layer_sensitivity

        layer_sensitivity(args.results, scan_name(args), crit, config.num_hidden_layers, args.tie_break)
    model, tokenizer, source = load(args.model, revision=args.revision, gguf_file=args.gguf_file,
                                    dtype=args.dtype, device=device)
    calibration = None
    if crit in criteria.CALIBRATED:
        calibration = criteria.calibration_batches(tokenizer, text, samples=args.calibration_samples)
    ranking = rank(model, crit, seed=args.seed, calibration=calibration)
    cache: dict = {}
    for t, o in zip(targets, outs, strict=True):
        widths, record = _widths(args, model, tokenizer, text, ranking, t, cache)
        pruned, info = prune(model, ranking, t, args.tie_break, widths=widths,
                             allocation=args.allocation.name, allocation_record=record)
        save(pruned, tokenizer, info, o, source)
        log.info("%s: kept %d/%d neurons per layer (ratio %.3f), %d -> %d parameters",
                 o, info.kept_width, info.original_width, info.expansion_ratio,
                 info.params_before, info.params_after)
        print(o)
        del pruned
    return 0


def _targets(args: argparse.Namespace) -> list[Target]:
    """One target per distinct folder name; two values that would share one are refused."""
    made = ([Target(level=v, align=args.align) for v in args.levels] if args.levels
            else [Target(expansion=v, align=args.align) for v in args.expansion])
    by_label: dict[str, Target] = {}
    for t in made:
        if by_label.setdefault(t.label, t) != t:
            raise ReproError(f"two targets share the folder name '{t.label}'; give values that "
                             "differ in their first 6 significant digits")
    return list(by_label.values())
