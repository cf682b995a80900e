"""`python -m repro <command> ...`: one command per stage of the paper, and the pipeline.

Each command's module provides `configure(parser)` and `run(args) -> int`; modules are imported
only when their command runs, so `--help` is instant and a stage's heavy imports stay local.
Global options (-q) work before or after the command. A user error is one line, `error: ...`,
and exit status 2 (3: a grid stage ended with cells of its shard missing, repro.grid.executor);
anything else that escapes is a kit bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from repro.core import options
from repro.core.atomicio import write_error
from repro.core.errors import ReproError, Terminated, stop_reason
from repro.core.stack import require_run_stack

# command -> (module, one-line description); the order is the paper's pipeline
COMMANDS: dict[str, tuple[str, str]] = {
    "pipeline": ("repro.pipeline", "run the stages in order (profiles: paper, smoke)"),
    "preflight": ("repro.ops.preflight", "check GPU, driver, disk, HF token and caches before a run"),
    "prepare": ("repro.ops.prepare", "fetch (and convert) the selected models' weights"),
    "selftest": ("repro.ops.selftest", "every GPU code path at small scale in minutes (CPU: the same path)"),
    "prune": ("repro.prune.cli", "prune the GLU MLPs of a model to a level or expansion ratio"),
    "neuron-selection": ("repro.evaluate.neuron_selection",
                         "compare neuron criteria at 10% (paper stage 00)"),
    "evaluate": ("repro.evaluate.cli", "run lm-eval suites on every (model, criterion, level, task) cell"),
    "sensitivity": ("repro.extensions.sensitivity", "prune one decoder layer at a time: which layers break"),
    "extensions": ("repro.extensions.grid", "the extensions table's criteria and allocations at its levels"),
    "efficiency": ("repro.efficiency.cli", "profile prefill, decode, throughput and energy per token"),
    "aggregate": ("repro.results.aggregate", "turn raw result cells into the tidy data schema"),
    "analyze": ("repro.report.analysis", "relative changes and correlations from the tidy data"),
    "claims": ("repro.report.claims", "check every numeric claim of the paper against the data"),
    "tables": ("repro.report.render", "regenerate LaTeX tables, figures and the claims report"),
    # issue 18: the paper's published checkpoints, and the dress rehearsal of the paper profile
    "published": ("repro.ops.published", "check the paper's Hub checkpoints against the kit's prune"),
    "rehearsal": ("repro.rehearsal.cli", "the whole paper profile on a CPU with tiny models, offline"),
    "settings-diff": ("repro.ops.settings_diff", "what the fast setting changes per task against the paper's"),
}
QUIET = ("-q", "--quiet")
HELP = {"-h", "--help"}
GRID = ("neuron-selection", "evaluate", "sensitivity", "extensions", "efficiency")  # cells resume


def _setup_logging(quiet: bool) -> None:
    """The kit's progress lines go to stderr with a [repro] prefix."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[repro] %(message)s"))
    kit = logging.getLogger("repro")
    kit.handlers[:] = [handler]
    kit.setLevel(logging.WARNING if quiet else logging.INFO)
    kit.propagate = False


def _top() -> argparse.ArgumentParser:
    top = options.Parser(
        prog="repro", description="Reproducibility kit for arXiv 2512.22671 (GLU width pruning of Llama-3.2).",
        epilog="commands:\n" + "\n".join(f"  {c:<18}{d}" for c, (_, d) in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("command", choices=list(COMMANDS), metavar="command")
    options.add_quiet(top)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top()
    words = [a for a in argv if a not in QUIET]
    if not words or words[0] in ("-h", "--help"):
        top.print_help()
        return 0
    try:
        cmd = top.parse_args(words[:1]).command
        if not HELP.intersection(words):
            require_run_stack(cmd)  # lm-eval's stages, where it cannot run: one line, now
        module = importlib.import_module(COMMANDS[cmd][0])
        sub = options.Parser(prog=f"repro {cmd}", description=COMMANDS[cmd][1])
        options.add_quiet(sub)
        module.configure(sub)  # may read a configuration file: its errors are ReproErrors
        rest = argv[:]
        rest.remove(cmd)
        args = sub.parse_args(rest)
    except SystemExit as exc:  # --help (0), or a bad command line: one line, exit 2
        return int(exc.code or 0)
    except ReproError as exc:
        return _fail(str(exc), exc.exit_code)
    _setup_logging(args.quiet)
    previous = _sigterm_as_interrupt()
    try:
        return int(module.run(args) or 0)
    except ReproError as exc:
        return _fail(str(exc), exc.exit_code)
    except OSError as exc:  # a write outside the kit's own writer (a library's cache) refused
        mapped = write_error(exc.filename or "a file", exc)
        if mapped is None:
            raise
        return _fail(str(mapped), 2)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (_sigterm_as_interrupt)
        how, code = stop_reason(exc)
        hint = getattr(module, "resume_hint", None)  # a stage that knows better says it
        return _fail(f"{how}: {hint() if hint else _resume(cmd, args)}", code)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_terminated(signum, frame):
    raise Terminated()


def _default_in_child() -> None:
    if signal.getsignal(signal.SIGTERM) is _raise_terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _sigterm_as_interrupt():
    """SIGTERM (SLURM's warning before its kill, `docker stop`) unwinds like Ctrl-C: claims are
    released, temporary files removed, and one line says what was kept. Returns the handler
    it replaced (None: not the main thread, where the caller's own handling stays).

    In the kit's own process only: a process forked from it (lm-eval's bootstrap pool) gets
    SIGTERM's default back at the fork, so its pool's terminate() stops it at once, as
    multiprocessing expects. With the handler inherited, a worker blocked on a lock never
    ran it and never stopped, or unwound with the pool's queue lock held, and the stage hung
    (found by the rehearsal)."""
    global _AT_FORK
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:
        return None
    if not _AT_FORK:
        os.register_at_fork(after_in_child=_default_in_child)
        _AT_FORK = True
    return previous


_AT_FORK = False  # the fork hook is registered once per process


def _resume(cmd: str, args: argparse.Namespace) -> str:
    """What a stopped command kept and how to go on (a stage module's `resume_hint()`,
    where it has one, says it instead: prune)."""
    if cmd == "pipeline":
        return ("each stage's finished cells are kept under the pipeline's --out; the same "
                "command resumes from them")
    if getattr(args, "results", None) is not None and cmd in GRID:
        return (f"the cells finished so far are kept under {args.results}; the same command "
                "resumes from them (a cell in progress is computed again)")
    return "nothing was left half-written (outputs are replaced whole); run the same command again"


def _fail(message: str, code: int) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever it holds
    return code


if __name__ == "__main__":
    raise SystemExit(main())
