"""Stage 1, prune: rank GLU neurons once per model and criterion, then cut any level from it.

    python -m repro prune --model meta-llama/Llama-3.2-1B --criterion maw --levels 40 --out DIR
    python -m repro prune --model DIR --criterion ppm --expansion 2.4 --align 64 --out DIR2
    python -m repro prune --model DIR --levels 10 20 30 40 50 60 --out pruned/   # one ranking

The rules (optipfair v0.2.0's keep count and selection, the tie-break) are in widths.py and
ranking.py; applying a cut in apply.py; the output folder in save.py.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from repro.core import options
from repro.core.atomicio import check_destination, clean_stale
from repro.core.dtypes import DTYPES
from repro.core.errors import ReproError
from repro.prune import criteria, names
from repro.prune.apply import prune
from repro.prune.ranking import rank
from repro.prune.save import check_space, save
from repro.prune.widths import Target

log = logging.getLogger("repro.prune")


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
    p.add_argument("--out", type=Path, required=True,
                   help="output folder (with several targets: one subfolder each)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")


def run(args: argparse.Namespace) -> int:
    from repro.core.textio import read_text
    from repro.prune.glu import check_config
    from repro.runtime.device import resolve
    from repro.runtime.hf import load, load_config

    crit = criteria.canonical(args.criterion)
    targets = _targets(args)
    outs = [args.out] if len(targets) == 1 else [args.out / f"{crit}-{t.label}" for t in targets]
    for o in outs:  # every destination, before anything loads
        check_destination(o, "--out")
        clean_stale(o.parent)  # what a killed prune left: its staging folder, or a folder set aside
    for o in outs:
        if o.is_dir() and any(o.iterdir()) and not args.overwrite:
            raise ReproError(f"output folder {o} exists and is not empty; pass --overwrite or choose another --out")
    text = None
    if crit == "activation":
        if args.calibration is None or not args.calibration.is_file():
            raise ReproError("criterion 'activation' needs --calibration FILE (a UTF-8 text file)")
        text = read_text(args.calibration, "--calibration")
    device = resolve(args.device)

    # config + structure only: fails fast, before any weights load
    config = load_config(args.model, revision=args.revision, gguf_file=args.gguf_file)
    check_config(config)
    check_space(outs, config, targets, args.dtype)
    model, tokenizer, source = load(args.model, revision=args.revision, gguf_file=args.gguf_file,
                                    dtype=args.dtype, device=device)
    calibration = None
    if crit == "activation":
        calibration = criteria.calibration_batches(tokenizer, text, samples=args.calibration_samples)
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
