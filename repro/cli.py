"""`python -m repro <stage> ...`: one subcommand per stage of the paper.

Each stage module provides `configure(parser)` and `run(args) -> int`; modules are imported
only when their command runs, so `--help` is instant and a stage's heavy imports stay local.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from repro.errors import ReproError

# command -> (module, one-line description); the order is the paper's pipeline
COMMANDS: dict[str, tuple[str, str]] = {
    "prune": ("repro.prune", "prune the GLU MLPs of a model to a level or expansion ratio"),
    "neuron-selection": ("repro.neuron_selection", "compare neuron criteria at 10% (paper stage 00)"),
    "evaluate": ("repro.evaluate", "run lm-eval suites on every (model, criterion, level, task) cell"),
    "aggregate": ("repro.aggregate", "turn raw result cells into the tidy data schema"),
    "efficiency": ("repro.efficiency", "profile prefill, decode, throughput and energy per token"),
    "analyze": ("repro.analyze", "relative changes and correlations from the tidy data"),
    "claims": ("repro.claims", "check every numeric claim of the paper against the data"),
    "tables": ("repro.render", "regenerate LaTeX tables, figures and the claims report"),
    "preflight": ("repro.preflight", "check GPU, driver, disk, HF token and caches before a run"),
}


def available() -> dict[str, tuple[str, str]]:
    return {c: v for c, v in COMMANDS.items() if importlib.util.find_spec(v[0]) is not None}


def _setup_logging(quiet: bool) -> None:
    """The kit's progress lines go to stderr with a [repro] prefix."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[repro] %(message)s"))
    kit = logging.getLogger("repro")
    kit.handlers[:] = [handler]
    kit.setLevel(logging.WARNING if quiet else logging.INFO)
    kit.propagate = False


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmds = available()
    top = argparse.ArgumentParser(
        prog="repro", description="Reproducibility kit for arXiv 2512.22671 (GLU width pruning of Llama-3.2).",
        epilog="commands:\n" + "\n".join(f"  {c:<18}{d}" for c, (_, d) in cmds.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("command", choices=list(cmds), metavar="command")
    top.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0
    head = [a for a in argv[:2] if a in ("-q", "--quiet")]
    rest = argv[len(head):]
    ns = top.parse_args(head + rest[:1])
    module = importlib.import_module(cmds[ns.command][0])
    sub = argparse.ArgumentParser(prog=f"repro {ns.command}", description=cmds[ns.command][1])
    module.configure(sub)
    args = sub.parse_args(rest[1:])
    _setup_logging(ns.quiet)
    try:
        return int(module.run(args) or 0)
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; finished cells are kept and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
