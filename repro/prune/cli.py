"""Stage 1, prune: rank GLU neurons once per model and criterion, then cut any level from it.

    python -m repro prune --model meta-llama/Llama-3.2-1B --criterion maw --levels 40 --out DIR
    python -m repro prune --model DIR --criterion ppm --expansion 2.4 --align 64 --out DIR2
    python -m repro prune --model DIR --levels 10 20 30 40 50 60 --out pruned/   # one ranking
    python -m repro prune --model DIR --levels 40 --allocation owl --calibration TEXT --out DIR2

The rules (optipfair v0.2.0's keep count and selection, the tie-break) are in widths.py and
ranking.py; non-uniform allocations in allocation.py; applying a cut in apply.py; the output
folder in save.py (layers of different widths reload with repro.runtime.nonuniform).
`prune_model` is the stage as a Python function; `run` builds its arguments from the command line.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from repro.core import options, pruning
from repro.core.dtypes import DTYPES
from repro.core.errors import ReproError
from repro.core.pruning import PAPER_TIE_BREAK, UNIFORM, Allocation
from repro.prune import criteria, outputs
from repro.prune.allocator import Allocator
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
    p.add_argument("--criterion", default="maw", type=options.criterion,
                   help=f"neuron criterion: {', '.join(pruning.CRITERIA)} (ppm = maw)")
    p.add_argument("--method", dest="criterion", type=options.criterion, help=argparse.SUPPRESS)
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
    p.add_argument("--allocation", type=options.allocation, default=UNIFORM,
                   help="share each level's neuron budget between layers: uniform (default), owl "
                        "(needs --calibration), spareK (the K layers a `repro sensitivity` scan "
                        "found most sensitive keep every neuron); see repro/prune/allocation.py")
    p.add_argument("--sensitivity", metavar="NAME",
                   help="spareK: the model's name in the scan's cells (default: the --model folder's)")
    options.add_results(p)
    p.add_argument("--out", type=Path, required=True,
                   help="output folder (with several targets: one subfolder each)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")


def run(args: argparse.Namespace) -> int:
    prune_model(args.model, args.out, levels=args.levels, expansion=args.expansion,
                criterion=args.criterion, align=args.align, allocation=args.allocation,
                calibration=args.calibration, calibration_samples=args.calibration_samples,
                seed=args.seed, tie_break=args.tie_break, dtype=args.dtype, device=args.device,
                revision=args.revision, gguf_file=args.gguf_file, results=args.results,
                sensitivity=args.sensitivity, overwrite=args.overwrite)
    return 0


def scan_name(model: str, allocation: Allocation, sensitivity: str | None, results: Path) -> str:
    """The name a sensitivity scan of `model` is recorded under (`sensitivity`, else the
    models.yaml short name or folder name that `model` is)."""
    from repro.config.models import get

    if sensitivity:
        return sensitivity
    try:
        return get(str(model)).name
    except ReproError:
        raise ReproError(f"{allocation.name}: pass --sensitivity NAME, the model's name in "
                         f"the cells of `repro sensitivity` under {results}") from None


def prune_model(model: str | Path, out: Path, *, levels: Sequence[float] | None = None,
                expansion: Sequence[float] | None = None, criterion: str = "maw",
                align: int | None = None, allocation: Allocation | str = UNIFORM,
                calibration: Path | None = None, calibration_samples: int = 32, seed: int = 0,
                tie_break: str = PAPER_TIE_BREAK, dtype: str = "bfloat16", device: str = "cpu",
                revision: str | None = None, gguf_file: str | None = None,
                results: Path = Path("results"), sensitivity: str | None = None,
                overwrite: bool = False) -> list[Path]:
    """Prune `model` (a Hub id, folder or .gguf) to each target and save one folder per target;
    returns the folders written.

    levels / expansion: percent of MLP neurons pruned, or kept width / hidden size (one of them);
    criterion: a name of repro.core.pruning.CRITERIA (ppm = maw); align: round the kept width to a
    multiple; allocation: uniform, owl (needs `calibration`) or spareK (reads the `repro
    sensitivity` scan of `sensitivity`, else of the model's name, under `results`);
    calibration: a UTF-8 text file (activation, hybrid, owl), cut into `calibration_samples`
    windows of 512 tokens; seed: of the random criterion; tie_break: topk (the paper) or stable;
    out: the folder (several targets: one subfolder each); overwrite: replace what is there.
    """
    from repro.core.textio import TextFile
    from repro.prune.glu import check_config
    from repro.runtime.device import resolve
    from repro.runtime.hf import load, load_config

    model = str(model)  # as the command line gives it (its record names it so)
    crit = pruning.criterion(criterion)
    alloc = allocation if isinstance(allocation, Allocation) else pruning.allocation(allocation)
    pruning.tie_break(tie_break)
    targets = _targets(levels, expansion, align)
    # every destination, checked before anything loads (never the source, only prune's folders)
    outs = outputs.folders(Path(out), model, crit, alloc.tag, targets, overwrite=overwrite)
    needs_text = crit in pruning.CALIBRATED or alloc.rule == "owl"
    if needs_text and (calibration is None or not Path(calibration).is_file()):
        what = f"criterion '{crit}'" if crit in pruning.CALIBRATED else "allocation 'owl'"
        raise ReproError(f"{what} needs --calibration FILE (a UTF-8 text file)")
    text = TextFile(calibration, "--calibration") if needs_text else None  # read as far as needed
    device = resolve(device)

    # config + structure only: fails fast, before any weights load
    config = load_config(model, revision=revision, gguf_file=gguf_file)
    check_config(config)
    check_space(outs, config, targets, dtype)
    from repro.results.sensitivity import layer_sensitivity

    def scan(c: str) -> tuple[list[float], dict]:
        return layer_sensitivity(results, scan_name(model, alloc, sensitivity, results), c,
                                 config.num_hidden_layers, tie_break)

    allocator = Allocator(sensitivity=scan, calibration=lambda: criteria.calibration_batches(
        tokenizer, text, samples=calibration_samples))
    if alloc.rule == "spare":  # a missing scan fails here, before any weights load
        allocator.sensitivity(crit)
    base, tokenizer, source = load(model, revision=revision, gguf_file=gguf_file, dtype=dtype,
                                   device=device)
    batches = None
    if crit in pruning.CALIBRATED:
        batches = criteria.calibration_batches(tokenizer, text, samples=calibration_samples)
    ranking = rank(base, crit, seed=seed, calibration=batches)
    for t, o in zip(targets, outs, strict=True):
        widths, record = allocator.widths(base, alloc, ranking, t)
        pruned, info = prune(base, ranking, t, tie_break, widths=widths,
                             allocation=alloc.name, allocation_record=record)
        save(pruned, tokenizer, info, o, source)
        log.info("%s: kept %d/%d neurons per layer (ratio %.3f), %d -> %d parameters",
                 o, info.kept_width, info.original_width, info.expansion_ratio,
                 info.params_before, info.params_after)
        print(o)
        del pruned
    return outs


def _targets(levels: Sequence[float] | None, expansion: Sequence[float] | None,
             align: int | None) -> list[Target]:
    """One target per distinct folder name; two values that would share one are refused."""
    if (levels is None) == (expansion is None):
        raise ReproError("give exactly one of --levels (percent pruned) or --expansion (k / hidden)")
    made = ([Target(level=float(v), align=align) for v in levels] if levels is not None
            else [Target(expansion=float(v), align=align) for v in expansion])
    by_label: dict[str, Target] = {}
    for t in made:
        if by_label.setdefault(t.label, t) != t:
            raise ReproError(f"two targets share the folder name '{t.label}'; give values that "
                             "differ in their first 6 significant digits")
    return list(by_label.values())
