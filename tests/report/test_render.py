"""Tables, figures and claims: escaping, byte-identical reruns, side-by-side reproduction."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro.report.formatting import latex
from repro.report.render import render
from repro.results.schema import load_dir, write_csv

pytestmark = pytest.mark.light

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def test_latex_escaping():
    assert latex("50% & a_b #1 {x} $y") == r"50\% \& a\_b \#1 \{x\} \$y"
    assert latex("~^\\") == r"\textasciitilde{}\textasciicircum{}\textbackslash{}"
    assert latex("0.28 ± 0.02") == r"0.28 \ensuremath{\pm} 0.02"
    assert latex("<|>") == r"\textless{}\textbar{}\textgreater{}"


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_rerender_is_byte_identical(tmp_path, capsys):
    assert render(DATA, tmp_path / "a") == 0
    assert render(DATA, tmp_path / "b") == 0
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    for name in ("tables/benchmarks-llama-3.2-1b.tex", "tables/improving-llama-3.2-3b.tex",
                 "tables/instruct-llama-3.2-1b-instruct.tex", "tables/neuron-selection.tex",
                 "tables/widths.tex", "tables/efficiency-llama-3.2-3b.tex", "claims.tex", "claims.md",
                 "digest.tex", "report.html",
                 "figures/dichotomy.pdf", "figures/dichotomy.png", "figures/mmlu-truthfulqa.pdf",
                 "figures/efficiency.png", "figures/neuron-selection.pdf"):
        assert name in a, name
    assert b"CreationDate" not in a["figures/dichotomy.pdf"]
    improving = a["tables/improving-llama-3.2-1b.tex"].decode()
    # value over change in one cell: the table keeps a readable size
    assert r"0.1516\\(\textbf{+46.5\%})" in improving and r"0.1811\\(\textbf{+75.0\%})" in improving
    assert r"\resizebox" not in improving
    assert "prompt\\_level\\_strict\\_acc" in improving  # the table names its metric
    assert "0.349x" in a["tables/efficiency-llama-3.2-1b.tex"].decode()
    widths = a["tables/widths.tex"].decode()
    assert "4916 & 2.40x & 913.77" in widths and "1235.81" in widths
    assert "-0.864" in capsys.readouterr().out


@pytest.mark.slow
def test_reproduction_side_by_side_and_claims_for_both(tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(DATA / "published", data / "published")
    pub = load_dir(data / "published")
    fake = pub[(pub.model == "llama-3.2-1b") & (pub.variant == "") & (pub.unit == "")].copy()
    fake["source"], fake["run_id"] = "reproduction", "test-run"
    hit = (fake.task == "ifeval") & (fake.metric == "prompt_level_strict_acc") & (fake.level == 40)
    fake.loc[hit, "value"] = 0.16
    write_csv(fake, data / "reproduction" / "llama-3.2-1b.csv")

    out = tmp_path / "out"
    assert render(data, out) == 0
    improving = (out / "tables/improving-llama-3.2-1b.tex").read_text()
    assert r"\quad\textit{reproduced}" in improving and r"\quad\textit{difference}" in improving
    assert "+0.0084" in improving  # 0.16 reproduced - 0.1516 published
    assert "reproduced" not in (out / "tables/improving-llama-3.2-3b.tex").read_text()

    claims = {c["id"]: c for c in json.loads((out / "claims.json").read_text())}
    assert claims["ifeval-1b-30"]["reproduction_verdict"] == "reproduced"
    # judged on substance, not digits: +54.6% against +46.5% is inside its 95% interval
    assert claims["ifeval-1b-40"]["reproduction_value"] == "54.6%"
    assert claims["ifeval-1b-40"]["reproduction_verdict"] == "reproduced"
    assert claims["ifeval-1b-40"]["reproduction_how"] == (
        "direction reproduced, significant, stated value inside the interval")
    assert "unpaired" in claims["ifeval-1b-40"]["reproduction_significance"]["test"]
    assert claims["ifeval-1b-40"]["paper_verdict"] == "holds"
    assert claims["mmlu-tqa-r-3b"]["reproduction_verdict"] == "not run"
    assert claims["mmlu-tqa-r-3b"]["paper_verdict"] == "holds"
    assert "reproduction:" in capsys.readouterr().out


@pytest.mark.slow
def test_reproduction_with_a_non_paper_tie_break_is_shown_marked(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA / "published", data / "published")
    pub = load_dir(data / "published")
    fake = pub[(pub.model == "llama-3.2-1b") & (pub.variant == "") & (pub.unit == "")].copy()
    fake["source"], fake["run_id"], fake["variant"] = "reproduction", "stable-run", "stable"
    write_csv(fake, data / "reproduction" / "stable.csv")
    note = "pruned with tie-break 'stable', not the paper's 'topk'"
    assert render(data, tmp_path / "a") == 0
    table = (tmp_path / "a/tables/improving-llama-3.2-1b.tex").read_text()
    assert r"\quad\textit{reproduced}" in table and note in table
    # a run with the paper's rule beside it: the table shows that one, unmarked
    fake["run_id"], fake["variant"], fake["value"] = "paper-rule-run", "", fake["value"] + 0.5
    write_csv(fake, data / "reproduction" / "topk.csv")
    assert render(data, tmp_path / "b") == 0
    table = (tmp_path / "b/tables/improving-llama-3.2-1b.tex").read_text()
    assert r"\quad\textit{reproduced}" in table and note not in table and "+0.5000" in table


def test_claims_exit_status_flags_unevaluable_published_claims(tmp_path, capsys):
    data = tmp_path / "data"
    pub = load_dir(DATA / "published")
    write_csv(pub[pub.model == "llama-3.2-3b"], data / "only-3b.csv")
    from repro.report.claims import run_claims
    from repro.report.queries import current

    assert run_claims(current(load_dir(data)), tmp_path / "out") == 1
    assert run_claims(current(pub), tmp_path / "out2") == 0


@pytest.mark.slow
def test_tables_command_does_not_import_torch(tmp_path):
    code = ("import sys; from repro.cli import main; "
            f"rc = main(['-q', 'tables', '--data', {str(DATA)!r}, '--out', {str(tmp_path)!r}]); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "claims.md").exists()

