"""The command line's shared vocabulary: one spelling and one check per option, every stage.

Grid stages (neuron-selection, evaluate, efficiency) share
    --models --levels --criteria --device --dtype --results --shard --tie-break
and prune takes --criterion, --levels and --tie-break. Values are checked when the command line is parsed
(argparse prints `error: argument --levels: ...` and exits 2 before anything loads); old
spellings stay as hidden aliases.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

from repro.core import pruning
from repro.core.dtypes import DTYPES
from repro.core.errors import ReproError
from repro.core.pruning import PAPER_TIE_BREAK, TIE_BREAKS

DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class Parser(argparse.ArgumentParser):
    """argparse, with a bad command line reported in one line, as every other user error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _number(text: str, example: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number (e.g. {example})") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number (e.g. {example})")
    return v


def level(text: str) -> float:
    """A pruning level: percent of MLP neurons pruned, 0 <= p < 100, as a cell names it."""
    return _checked(pruning.level, _number(text, "40"))


def positive_float(text: str) -> float:
    """A finite number > 0 (e.g. an expansion ratio)."""
    v = _number(text, "2.4")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return v


def non_negative_float(text: str) -> float:
    v = _number(text, "10")
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return v


def limit(text: str) -> float:
    """lm-eval's --limit: a fraction of each task in (0, 1), or a whole number of documents."""
    v = _number(text, "10 or 0.5")
    if not (0 < v < 1 or (v >= 1 and v == int(v))):
        raise argparse.ArgumentTypeError(f"{text} must be a fraction in (0, 1) or a whole number "
                                         "of documents >= 1")
    return v


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def non_negative_int(text: str) -> int:
    v = _whole(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return v


def seed(text: str) -> int:
    """A seed every generator accepts (numpy's and torch's): 0 <= s < 2**32."""
    v = _whole(text)
    if not 0 <= v < 2**32:
        raise argparse.ArgumentTypeError(f"{text} is outside [0, 2**32): give a seed such as 0")
    return v


def plain_name(text: str) -> str:
    """A name that becomes a file name and a CSV cell: no path separator, comma or control
    character, not '.' or '..', at most 100 characters (any other character is kept)."""
    bad = sorted({c for c in text if c in "/\\," or ord(c) < 32 or ord(c) == 127})
    if not text.strip() or text in (".", "..") or bad or len(text) > 100 or text != text.strip():
        shown = ", ".join(repr(c) for c in bad) if bad else "an empty, dot or padded name"
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a plain name ({shown}); use letters, digits, '-', '_' or '.' "
            "(at most 100 characters)")
    return text


def _checked(check, value):
    """argparse type from a vocabulary check (repro.core.pruning): its one line, at parse time."""
    try:
        return check(value)
    except ReproError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def criterion(text: str) -> str:
    """A criterion's canonical name (ppm -> maw)."""
    return _checked(pruning.criterion, text)


def allocation(text: str) -> pruning.Allocation:
    """uniform, owl or spareK."""
    return _checked(pruning.allocation, text)


def is_cuda(device: str) -> bool:
    """Whether a device name (auto resolved: cpu, cuda, cuda:N) is a CUDA GPU."""
    return str(device).split(":")[0] == "cuda"


def device(text: str) -> str:
    if not DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a device: use auto, cpu, cuda or cuda:N")
    return text


def parse_shard(spec: str | None) -> tuple[int, int]:
    """'i/n' (1-based) -> (i, n); None -> (1, 1)."""
    if spec is None:
        return 1, 1
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ReproError(f"--shard '{spec}' must look like i/n, e.g. 2/4") from None
    if not (n >= 1 and 1 <= i <= n):
        raise ReproError(f"--shard '{spec}': need 1 <= i <= n")
    return i, n


def shard(text: str) -> str:
    try:
        parse_shard(text)
    except ReproError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--shard '{text}'").lstrip(": ")
                                         or "must look like i/n") from None
    return text


def positive_int(text: str) -> int:
    v = _whole(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return v


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")


def local_model_problem(path: str | Path) -> str | None:
    """Why an existing path cannot be a model (None: a folder with config.json, or a .gguf)."""
    p = Path(path)
    if p.is_file():
        return None if p.suffix == ".gguf" else \
            f"{p} is a file, not a model folder (config.json and weights) or a .gguf file"
    if not p.is_dir():
        return None
    try:
        names = [e.name for e in p.iterdir()]
    except OSError as exc:
        return f"{p} cannot be read ({exc.strerror or exc}); check its permissions"
    if not names:
        return f"{p} is an empty folder: no model in it (config.json and weights)"
    if "config.json" not in names and not any(n.endswith(".gguf") for n in names):
        return (f"{p} holds no config.json: not a model folder (give the folder that "
                "save_pretrained wrote)")
    return None


def model(text: str) -> str:
    """A model: a models.yaml short name, a Hub id, a local folder or a .gguf file. A path
    that exists (or is written as one) is checked here, when the command line is read."""
    looks_like_path = "/" in text or "\\" in text or text.startswith(".") or Path(text).is_file()
    if looks_like_path and Path(text).exists() and (problem := local_model_problem(text)):
        raise argparse.ArgumentTypeError(problem)
    return text


def add_models(p: argparse.ArgumentParser, default_help: str) -> None:
    p.add_argument("--models", nargs="+", type=model, help=f"short names from "
                   f"repro/config/models.yaml or local folders (default: {default_help})")
    p.add_argument("--model", dest="models", nargs="+", type=model, help=argparse.SUPPRESS)


def add_levels(p: argparse.ArgumentParser, default_help: str) -> None:
    p.add_argument("--levels", nargs="+", type=level, help=f"percent of MLP neurons pruned, "
                   f"0 <= p < 100 (default: {default_help})")


def add_criteria(p: argparse.ArgumentParser, default: list[str] | None, default_help: str) -> None:
    """--criteria (default None: the stage's configured criteria)."""
    p.add_argument("--criteria", nargs="+", default=default, type=criterion,
                   help=f"neuron criteria (default: {default_help})")
    p.add_argument("--criterion", dest="criteria", nargs="+", type=criterion, help=argparse.SUPPRESS)


def add_device(p: argparse.ArgumentParser, default: str = "auto") -> None:
    p.add_argument("--device", type=device, default=default,
                   help=f"auto (cuda when available, else cpu), cpu, cuda or cuda:N (default: {default})")


def add_dtype(p: argparse.ArgumentParser, default_help: str = "each model's own") -> None:
    p.add_argument("--dtype", choices=DTYPES, help=f"weights dtype (default: {default_help})")


def add_tie_break(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tie-break", choices=TIE_BREAKS, default=PAPER_TIE_BREAK,
                   help="equal neuron scores: topk = the paper's rule, optipfair 0.2.0's "
                        "torch.topk on the weights' device (default); stable = lower index "
                        "wins, nested levels on any device (results marked 'stable')")


def add_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=Path("results"), help="cell root folder")


def add_shard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shard", type=shard,
                   help="i/n: only the i-th of n disjoint parts of the grid (machines share a --results)")


def add_grid(p: argparse.ArgumentParser, *, models_help: str, levels_help: str,
             criteria: list[str] | None) -> None:
    """The options every grid stage shares (criteria None: the stage's configuration says);
    repro.grid.options.GridOptions holds their values."""
    add_models(p, models_help)
    add_levels(p, levels_help)
    add_criteria(p, criteria, " ".join(criteria) if criteria else "the stage's configuration")
    add_device(p)
    add_dtype(p)
    add_tie_break(p)
    add_results(p)
    add_shard(p)
    p.add_argument("--dry-run", action="store_true", help="list the cells and their state, run nothing")
    p.add_argument("--check", action="store_true",
                   help="run nothing; exit 3 with one line when cells of the grid (or shard) are missing")
    p.add_argument("--wait", type=non_negative_float, metavar="SECONDS",
                   help="how long to wait for cells other runners hold before giving up (default: "
                        "until they finish, or their claims go stale and are taken over)")
