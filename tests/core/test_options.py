"""The shared command-line vocabulary: each value checked once, at parse time, in one line."""

from __future__ import annotations

import argparse

import pytest

from repro.core import options

pytestmark = pytest.mark.light


@pytest.mark.parametrize("text, value", [("0", 0.0), ("40", 40.0), ("99.5", 99.5)])
def test_levels_in_range(text, value):
    assert options.level(text) == value


@pytest.mark.parametrize("text, needle", [("100", r"outside \[0, 100\)"), ("-5", "outside"),
                                          ("nan", "not a finite number"), ("inf", "not a finite number"),
                                          ("forty", "is not a number")])
def test_levels_out_of_range(text, needle):
    with pytest.raises(argparse.ArgumentTypeError, match=needle):
        options.level(text)


@pytest.mark.parametrize("text, ok", [("auto", True), ("cpu", True), ("cuda", True),
                                      ("cuda:3", True), ("gpu", False), ("cuda:", False),
                                      ("cuda:x", False), ("CPU", False), ("cpu ", False)])
def test_device_syntax(text, ok):
    if ok:
        assert options.device(text) == text
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="is not a device"):
            options.device(text)


@pytest.mark.parametrize("text, needle", [("3/2", "need 1 <= i <= n"), ("0/4", "need 1 <= i <= n"),
                                          ("a/b", "must look like i/n"), ("2", "must look like i/n")])
def test_shard(text, needle):
    assert options.shard("2/4") == "2/4" and options.parse_shard(None) == (1, 1)
    with pytest.raises(argparse.ArgumentTypeError, match=needle):
        options.shard(text)


def test_parser_reports_one_line(capsys):
    p = options.Parser(prog="repro thing")
    options.add_grid(p, models_help="m", levels_help="l", criteria=["maw"])
    with pytest.raises(SystemExit) as e:
        p.parse_args(["--levels", "120"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err == ("error: argument --levels: 120 is outside [0, 100): give a percentage such "
                   "as 40 (see repro thing --help)\n")
    args = p.parse_args(["--model", "a", "b", "--criterion", "vow", "--device", "cuda:1"])
    assert (args.models, args.criteria, args.device) == (["a", "b"], ["vow"], "cuda:1")  # aliases
    assert p.parse_args([]).criteria == ["maw"] and p.parse_args([]).device == "auto"
