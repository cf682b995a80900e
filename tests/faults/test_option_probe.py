"""A probe of every option of every command, built from the parsers themselves (so an option
added later is probed too): each takes a checked type or a fixed set of choices, or is a
name or path on the list below, checked before any work; and every checked option refuses
malformed values at parse time, with its own name, even with --dry-run, before the stage runs.
"""

from __future__ import annotations

import argparse
import importlib

import pytest

from repro import cli
from repro.core import options
from tests.faults.harness import one_error_line

# free text, checked by the stage before any heavy work (where, in parentheses)
FREE = {
    "--models": "models.get: unknown model, or a folder",
    "--model": "prune: load_config before weights",
    "--revision": "the Hub, at load_config",
    "--gguf-file": "load_config",
    "--suite": "suites.resolve in make_plans",
    "--tasks": "suites.resolve in make_plans",
    "--workloads": "efficiency: selected_workloads",
    "--profile": "efficiency: load_config (pipeline's --profile has choices)",
    "--sensitivity": "prune spareK: the scan's cells are read before any weights load",
    "--id": "claims: select() names the closest ids before any data are read",
}
PATHS = {"--results", "--out", "--calibration", "--config", "--published", "--data"}
# malformed for every checked number or name
BAD = ["", " ", "abc", "nan", "inf", "-inf", "1e400", "-1", "0x1g", "4/0", "☃", "a/b", "..", "a,b",
       "x\x01"]
REQUIRED = {"prune": ["--model", "x", "--out", "o", "--levels", "10"]}


def parsers():
    for cmd, (module, _) in cli.COMMANDS.items():
        mod = importlib.import_module(module)
        p = options.Parser(prog=f"repro {cmd}")
        options.add_quiet(p)
        mod.configure(p)
        yield cmd, mod, p


def actions():
    for cmd, mod, p in parsers():
        for a in p._actions:
            if a.option_strings and not isinstance(a, argparse._HelpAction) and a.nargs != 0:
                yield cmd, mod, a


def checked(a) -> bool:
    return a.choices is not None or (a.type is not None and getattr(a.type, "__name__", "") != "Path")


# a FREE option's parse-time type checks only part of it (--models: a path that is a file or an
# empty folder); the rest is checked later, as FREE says
ALL = sorted({(cmd, a.option_strings[0]) for cmd, _, a in actions()
              if checked(a) and a.option_strings[0] not in FREE})


def test_every_option_is_checked_or_listed():
    unchecked = []
    for cmd, _, a in actions():
        name = a.option_strings[0]
        bare = a.type in (int, float)  # lets nan, inf and negatives through
        if bare or (a.type is None and a.choices is None and name not in FREE):
            unchecked.append(f"{cmd} {name}")
        if a.type is not None and not isinstance(a.type, type) and a.choices is None:
            assert a.type.__doc__ or a.type.__module__.startswith("repro"), name
    assert not unchecked, f"options without a check: {unchecked}"
    paths = {a.option_strings[0] for _, _, a in actions() if getattr(a.type, "__name__", "") == "Path"}
    assert paths <= PATHS, paths - PATHS
    assert len(ALL) >= 40  # the checked options the next test probes


@pytest.mark.parametrize(("cmd", "option"), ALL, ids=[f"{c} {o}" for c, o in ALL])
def test_malformed_values_fail_at_parse_time_with_the_option_name(cmd, option, monkeypatch, capsys, tmp_path):
    mod = next(m for c, m, _ in parsers() if c == cmd)
    a = next(x for c, _, x in actions() if c == cmd and option in x.option_strings)
    monkeypatch.setattr(mod, "run", lambda args: pytest.fail("the stage ran with a malformed value"))
    monkeypatch.chdir(tmp_path)
    dry = ["--dry-run"] if any("--dry-run" in x.option_strings for _, _, x in actions() if _ == cmd) else []
    tried = 0
    for bad in BAD:
        if a.choices is not None and bad in a.choices:
            continue
        try:  # a value the type accepts is not malformed for it
            if a.type is not None:
                a.type(bad)
                if a.choices is None:
                    continue
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            pass
        required = [x for x in REQUIRED.get(cmd, []) if option not in ("--levels", "--level")] \
            if option not in ("--levels", "--level", "--expansion") else REQUIRED.get(cmd, [])[:4]
        rc = cli.main([cmd, *required, option, bad, *dry])
        one_error_line(capsys.readouterr().err, rc, f"argument {a.option_strings[0]}")
        tried += 1
    assert tried >= 5, (option, tried)
    assert list(tmp_path.iterdir()) == []
