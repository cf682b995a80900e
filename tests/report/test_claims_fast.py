"""The claims report on a reproduction evaluated in the fast setting (batched, variant `fast`):
judged exactly as the same rows in the paper's setting would be, and labelled wherever its
verdict is shown (claims.md, claims.tex, digest.tex, claims.json, report.html, the terminal);
where the paper's setting is in the data too, that is judged and nothing says "fast"."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repro.report.analysis import correlations
from repro.report.claims import evaluation, load_claims
from repro.report.claims.console import evaluate_and_write
from repro.report.html import write_html
from repro.report.queries import current
from repro.report.render import render
from repro.results.aggregate import run as aggregate
from repro.results.schema import load_dir
from tests.report.test_claims_reproduction import N, ifeval_cell

pytestmark = [pytest.mark.light, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[2] / "data"
LINE = ("Reproduction: evaluated in the fast setting (batched, repro/config/evaluation.yaml fast:), "
        "not the paper's batch 1, for {which} claims it judges (each marked fast setting){rest}; "
        "scores can move with batching; python -m repro selftest on a GPU measures by how much.")
SCENARIOS = {  # name -> (variant, models, shift) of each reproduction run
    "paper": [("", ("llama-3.2-1b",), 0.0)],
    "fast": [("fast", ("llama-3.2-1b",), 0.0)],
    "both": [("", ("llama-3.2-1b",), 0.0), ("fast", ("llama-3.2-1b",), 0.05)],
    "split": [("fast", ("llama-3.2-1b",), 0.0), ("", ("llama-3.2-3b",), 0.0)],
}


def frame(scenario: str) -> pd.DataFrame:
    pub = load_dir(DATA / "published")
    runs = []
    for variant, models, shift in SCENARIOS[scenario]:
        rows = pub[pub.model.isin(models) & (pub.variant == "") & (pub.unit == "")].copy()
        rows["source"], rows["variant"] = "reproduction", variant
        rows["run_id"], rows["value"] = f"run-{variant or 'paper'}-{models[0]}", rows["value"] + shift
        runs.append(rows)
    return current(pd.concat([pub, *runs], ignore_index=True))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """scenario -> (claims.json by id, the reports' context, output folder, what it printed)."""
    import contextlib
    import io

    out = {}
    for name in SCENARIOS:
        folder = tmp_path_factory.mktemp(name)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            status, ctx = evaluate_and_write(frame(name), folder)
        assert status == 0
        write_html(folder, ctx)
        rows = {r["id"]: r for r in json.loads((folder / "claims.json").read_text())}
        out[name] = rows, ctx, folder, printed.getvalue()
    return out


def judged(rows: dict) -> list[str]:
    return [i for i, r in rows.items() if r["reproduction_verdict"] != "not run"
            and not r["section"]]


def test_a_fast_only_reproduction_is_judged_as_its_paper_setting_twin(reports):
    paper, fast = reports["paper"][0], reports["fast"][0]
    assert paper.keys() == fast.keys() and len(judged(fast)) > 30
    for i, row in fast.items():
        # verdict, value, how, tests, robustness: all the same; only the label is added
        assert {k: v for k, v in row.items() if k != "reproduction_setting"} == paper[i], i
        assert row.get("reproduction_setting", "fast") == "fast"
    assert not any("reproduction_setting" in r for r in paper.values())
    # every claim judged on the reproduction was judged in the fast setting, and says so
    assert all(fast[i].get("reproduction_setting") == "fast" for i in judged(fast))
    assert fast["ifeval-1b-40"]["reproduction_verdict"] == "reproduced"
    assert "reproduction_setting" not in fast["mmlu-tqa-r-3b"]  # no 3B rows at all: not run, as read


def test_claims_md_labels_each_verdict_and_says_which_setting(reports):
    fast_rows, ctx, folder, printed = reports["fast"]
    md = (folder / "claims.md").read_text()
    line = LINE.format(which=f"all {len(judged(fast_rows))}", rest="")
    assert ctx["reproduction_setting"] == line
    assert f"\n- {line}\n" in md  # the tally
    row = next(x for x in md.splitlines() if x.startswith("| [ifeval-1b-40](#ifeval-1b-40) |"))
    assert row.endswith("| 46.5% | holds under 4 of 4 choices | reproduced (fast setting) |")
    assert "\n- Reproduction: reproduced (fast setting), 46.5% (direction reproduced" in md
    assert md.count("(fast setting)") == sum(
        "reproduction_setting" in r for r in fast_rows.values() if not r["section"]) * 2 + sum(
        bool(d["reproduction_setting"]) for d in ctx["digest"])
    finding = next(d for d in ctx["digest"] if "ifeval-1b-30" in [c["id"] for c in d["claims"]])
    assert (finding["reproduction"], finding["reproduction_setting"]) == ("reproduced", " (fast setting)")
    assert "| reproduced (fast setting) |" in md
    assert line in " ".join(printed.split())  # the terminal's summary, wrapped


def test_claims_tex_and_digest_tex_label_it(reports):
    _, _, folder, _ = reports["fast"]
    tex = (folder / "claims.tex").read_text()
    assert r"Reproduction: \textbf{reproduced} (fast setting), direction reproduced" in tex
    caption = re.search(r"\\caption\{Every claim.*?\}\\label\{tab:claims\}", tex).group(0)
    assert r"Reproduction: evaluated in the fast setting (batched, repro/\allowbreak{}config/" in caption
    digest = (folder / "digest.tex").read_text()
    assert r"& reproduced\allowbreak$^\dagger$ &" in digest
    assert r" $^\dagger$Reproduction: evaluated in the fast setting" in digest


def test_report_html_labels_it(reports):
    _, _, folder, _ = reports["fast"]
    page = (folder / "report.html").read_text()
    header = re.search(r"<header>.*?</header>", page, re.S).group(0)
    assert "Reproduction: evaluated in the fast setting (batched, repro/config/evaluation.yaml " \
           "fast:), not the paper&#39;s batch 1, for all" in header
    row = re.search(r'<tr class="claim" id="ifeval-1b-40".*?</tr>', page, re.S).group(0)
    assert '<td><span class="v v-reproduced">reproduced</span> (fast setting)</td>' in row
    assert "<b>Reproduction:</b> reproduced (fast setting): direction reproduced" in row
    assert '<span class="v v-reproduced">reproduced</span> (fast setting)</td>' in page.split(
        '<table class="digest">')[1].split("</table>")[0]


def test_with_both_settings_the_paper_setting_is_judged_and_nothing_says_fast(reports):
    paper, _, pfolder, _ = reports["paper"]
    both, ctx, bfolder, printed = reports["both"]
    assert both == paper and ctx["reproduction_setting"] == ""
    for name in ("claims.md", "claims.tex", "digest.tex", "claims.json", "report.html"):
        text = (bfolder / name).read_text()
        assert text == (pfolder / name).read_text(), name
        assert "fast setting" not in text and "dagger" not in text, name
    assert "fast setting" not in printed


def test_one_model_fast_the_other_in_the_paper_setting(reports):
    rows, ctx, folder, _ = reports["split"]
    assert rows["ifeval-1b-40"]["reproduction_setting"] == "fast"
    assert "reproduction_setting" not in rows["ifeval-3b-40"]
    assert rows["ifeval-3b-40"]["reproduction_verdict"] == "reproduced"
    # a claim on both models reads one setting: the paper's, which the 1B rows lack
    both = rows["ifeval-gains-every-level"]
    assert both["reproduction_verdict"] == "not run" and "reproduction_setting" not in both
    n = sum(rows[i].get("reproduction_setting") == "fast" for i in judged(rows))
    assert 0 < n < len(judged(rows))
    assert ctx["reproduction_setting"] == LINE.format(
        which=f"{n} of the {len(judged(rows))}", rest=", in the paper's setting for the others")
    finding = next(d for d in ctx["digest"] if "ifeval-1b-30" in [c["id"] for c in d["claims"]])
    k = sum(rows[c["id"]].get("reproduction_setting") == "fast" for c in finding["claims"]
            if c["reproduction"] != "not run")
    m = sum(c["reproduction"] != "not run" for c in finding["claims"])
    assert 0 < k < m and finding["reproduction_setting"] == f" ({k} of {m} in the fast setting)"
    assert f"{finding['reproduction']} ({k} of {m} in the fast setting)" in (folder / "claims.md").read_text()


def test_the_light_path_reads_the_fast_rows():
    claim = next(c for c in load_claims() if c.id == "ifeval-1b-40")
    for scenario, variant in (("fast", "fast"), ("both", ""), ("paper", "")):
        verdict, read = evaluation.verdict_of(frame(scenario), claim, "reproduction")
        assert verdict == "holds" and {r[-1] for r in read if r[0] == "series"} == {variant}


def test_analysis_correlations_name_the_fast_setting():
    paper = {tuple(c["models"]): c for c in correlations(frame("paper")) if c["source"] == "reproduction"}
    split = {tuple(c["models"]): c for c in correlations(frame("split")) if c["source"] == "reproduction"}
    one_b = split[("llama-3.2-1b",)]
    assert one_b["setting"] == "fast" and one_b["n"] == 7
    assert {k: v for k, v in one_b.items() if k != "setting"} == paper[("llama-3.2-1b",)]
    assert "setting" not in split[("llama-3.2-3b",)] and split[("llama-3.2-3b",)]["n"] == 7
    assert "setting" not in paper[("llama-3.2-1b",)]


def test_paired_tests_use_the_fast_runs_own_per_document_scores(tmp_path):
    base = np.zeros(N, bool)
    base[:56] = True
    pruned = base.copy()
    pruned[:10] = False
    pruned[56:92] = True
    ifeval_cell(tmp_path / "results", 0.0, base, "fast")
    ifeval_cell(tmp_path / "results", 40.0, pruned, "fast")
    aggregate(argparse.Namespace(results=str(tmp_path / "results"),
                                 out=str(tmp_path / "data/reproduction"), run_id="toy-fast"))
    assert set(load_dir(tmp_path / "data/reproduction").variant) == {"fast"}
    shutil.copytree(DATA / "published", tmp_path / "data/published")
    assert render(tmp_path / "data", tmp_path / "out") == 0
    c = {c["id"]: c for c in json.loads((tmp_path / "out/claims.json").read_text())}["ifeval-1b-40"]
    assert c["reproduction_verdict"] == "reproduced" and c["reproduction_setting"] == "fast"
    assert c["reproduction_significance"]["test"].startswith(
        "exact McNemar, paired (n = 541; 10 lost, 36 gained)")
    table = (tmp_path / "out/tables/improving-llama-3.2-1b.tex").read_text()
    assert r"\quad\textit{reproduced}" in table and "evaluated in the fast setting" in table
