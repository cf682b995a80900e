"""One exception type for every user-facing failure.

The CLI prints `error: <message>` on one line and exits non-zero; the message names the
problem and the fix. Anything else that escapes is a kit bug and keeps its traceback.
"""


class ReproError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM (what SLURM, `docker stop` and `kill` send before killing), raised where Ctrl-C's
    KeyboardInterrupt would be, so that the same cleanup runs and the same message is printed."""


def stop_reason(exc: BaseException) -> tuple[str, int]:
    """How a run was stopped, in words, and the exit status a shell gives that signal."""
    if isinstance(exc, Terminated):
        return "stopped by SIGTERM", 143
    return "interrupted (Ctrl-C)", 130

