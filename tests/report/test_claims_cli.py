"""The claims command in a terminal: --id selects claims, --help says what verdicts, tests and
outputs are, and what it prints fits a terminal (the digest, not every row)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.cli import main
from repro.report.claims.operators import REGISTRY

pytestmark = pytest.mark.light

DATA = str(Path(__file__).resolve().parents[2] / "data")


def test_claims_help_explains_verdicts_tests_outputs_and_every_operator(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["claims", "--help"]) == 0
    text = capsys.readouterr().out
    for needle in ("not contradicted", "no rule stated", "alpha = 0.05", "unpaired", "McNemar",
                   "claims.md", "claims.json", "report.html", "Exit status", "--id"):
        assert needle in text, needle
    assert all(f"  {name} " in text for name in REGISTRY)
    assert max(map(len, text.splitlines())) <= 80


def test_claims_prints_the_digest_in_a_terminal_and_writes_every_claim(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["claims", "--data", DATA, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Digest") and len(lines) < 70 and max(map(len, lines)) <= 80
    assert "published: 137 claims" in out and "22 substantive; 1 rounding; 4 plan" in out
    assert "robust-musr-3b" not in out  # rows stay in claims.md
    assert "robust-musr-3b" in (tmp_path / "out" / "claims.md").read_text()


def test_claims_id_prints_chosen_claims_in_full_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["claims", "--data", DATA, "--out", str(out), "--id", "robust-musr-3b", "ifeval-1b-3*"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("robust-musr-3b: Robust: MUSR")
    assert "not contradicted" in text and "detectable change 6.9 points" in text
    assert "ifeval-1b-30-table:" in text and "fragile-mmlu-1b" not in text
    assert not out.exists()


def test_an_unknown_id_is_one_error_line_naming_the_nearest(capsys):
    assert main(["claims", "--data", DATA, "--id", "robust-musr-3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --id robust-musr-3: no such claim")
    assert "robust-musr-3b" in err[0]


def test_analyze_says_which_correlation_is_a_claim_of_the_paper(tmp_path, capsys):
    assert main(["analyze", "--data", DATA, "--out", str(tmp_path / "out")]) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if "r(" in x]
    claim = [x for x in lines if "llama-3.2-3b =" in x and "truthfulqa" in x]
    assert claim and "the paper's claim mmlu-tqa-r-3b" in claim[0]
    pooled = [x for x in lines if "r(mmlu, ifeval)" in x]
    assert pooled and "not a claim of the paper" in pooled[0]
