"""A reproduction judged on substance, with paired tests from its per-document scores: a toy
reproduction made here (evaluate cells with their logged samples, written by hand), aggregated
by the real `repro aggregate` and reported by the real `repro tables`."""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from repro.report.render import render
from repro.results import cells
from repro.results.aggregate import run as aggregate
from repro.results.samples import load_samples

pytestmark = pytest.mark.light

DATA = Path(__file__).resolve().parents[2] / "data"
N = 541  # IFEval prompts


def ifeval_cell(root: Path, level: float, right: np.ndarray, variant: str = "") -> None:
    """One evaluate cell of llama-3.2-1b on IFEval, its samples logged as lm-eval logs them."""
    follow = [[bool(r), bool(r or i % 3 == 0)] for i, r in enumerate(right)]
    lines = [json.dumps({"task": "ifeval", "doc_id": i, "filter": "none",
                         "metrics": ["prompt_level_strict_acc", "inst_level_strict_acc"],
                         "prompt_level_strict_acc": bool(right[i]),
                         "inst_level_strict_acc": follow[i]}) for i in range(N)]
    flat = [x for f in follow for x in f]
    payload = {"task": "ifeval", "metrics_kept": ["prompt_level_strict_acc,none", "inst_level_strict_acc,none"],
               "results": {"ifeval": {"prompt_level_strict_acc,none": float(np.mean(right)),
                                      "inst_level_strict_acc,none": float(np.mean(flat))}},
               "n-shot": {"ifeval": 0},
               "prune": {"kept_width": 8192 - int(8192 * level / 100), "params_after": 1,
                         "expansion_ratio": (8192 - int(8192 * level / 100)) / 2048}}
    cells.write(root, cells.Cell("evaluate", "llama-3.2-1b", "maw", level, "ifeval", variant), payload,
                {"kit_commit": "test"}, {"samples.jsonl.gz": gzip.compress(
                    ("\n".join(lines) + "\n").encode(), mtime=0)})


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    base = np.zeros(N, bool)
    base[:56] = True                       # 56 / 541 = 0.1035, the published baseline
    pruned = base.copy()
    pruned[:10] = False                    # 10 prompts lost ...
    pruned[56:92] = True                   # ... 36 gained: 82 / 541 = 0.1516 (+46.4%)
    ifeval_cell(root / "results", 0.0, base)
    ifeval_cell(root / "results", 40.0, pruned)
    aggregate(argparse.Namespace(results=str(root / "results"), out=str(root / "data/reproduction"),
                                 run_id="toy"))
    shutil.copytree(DATA / "published", root / "data/published")
    assert render(root / "data", root / "out") == 0
    claims = {c["id"]: c for c in json.loads((root / "out/claims.json").read_text())}
    return root, claims


def test_aggregate_writes_per_document_scores(report):
    root, _ = report
    per_doc = load_samples(root / "data")
    assert len(per_doc) == 2 * 2 * N
    strict = per_doc[(per_doc.metric == "prompt_level_strict_acc") & (per_doc.level == 40)]
    assert strict.value.sum() == 82 and set(strict.weight) == {1.0}
    inst = per_doc[per_doc.metric == "inst_level_strict_acc"]
    assert set(inst.weight) == {2.0}  # instructions followed / given, per prompt
    shots = (root / "data/reproduction/toy.csv").read_text()
    assert "ifeval,n_shot,none,0.0,,shots" in shots


def test_paired_mcnemar_decides_the_reproduction(report):
    from scipy import stats

    _, claims = report
    c = claims["ifeval-1b-40"]
    assert c["reproduction_value"] == "46.4%"
    assert c["reproduction_verdict"] == "reproduced"
    assert c["reproduction_how"] == "direction reproduced, significant, stated value inside the interval"
    sig = c["reproduction_significance"]
    assert sig["test"].startswith("exact McNemar, paired (n = 541; 10 lost, 36 gained)")
    assert sig["p_value"] == pytest.approx(stats.binomtest(36, 46, 0.5).pvalue, rel=1e-5)
    lo, hi = sig["ci95"]
    assert lo < 46.5 < hi and lo > 0
    # the README's +47% fails on the published digits, but a rerun is judged on substance
    assert claims["ifeval-1b-40-readme"]["paper_verdict"] == "fails"
    assert claims["ifeval-1b-40-readme"]["reproduction_verdict"] == "reproduced"


def test_a_reproduction_that_ran_fewer_levels_is_not_run_for_every_level_claims(report):
    _, claims = report
    assert claims["ifeval-1b-peak-level"]["reproduction_verdict"] == "not run"
    assert "lacks level(s) 10%, 20%, 30%, 50%, 60%" in claims["ifeval-1b-peak-level"]["reproduction_why"]
    assert claims["robust-ifeval-1b"]["reproduction_verdict"] == "not run"
    assert claims["ifeval-baseline-1b"]["reproduction_verdict"] == "reproduced"
    assert claims["mmlu-tqa-r-3b"]["reproduction_verdict"] == "not run"


def test_a_contradicting_reproduction_is_not_reproduced(tmp_path):
    base = np.zeros(N, bool)
    base[:56] = True
    worse = base.copy()
    worse[:40] = False                     # 16 / 541: a significant fall
    ifeval_cell(tmp_path / "results", 0.0, base)
    ifeval_cell(tmp_path / "results", 40.0, worse)
    aggregate(argparse.Namespace(results=str(tmp_path / "results"),
                                 out=str(tmp_path / "data/reproduction"), run_id="bad"))
    shutil.copytree(DATA / "published", tmp_path / "data/published")
    assert render(tmp_path / "data", tmp_path / "out") == 0
    c = {c["id"]: c for c in json.loads((tmp_path / "out/claims.json").read_text())}["ifeval-1b-40"]
    assert c["reproduction_verdict"] == "not reproduced"
    assert c["reproduction_how"].startswith("direction not reproduced, significant")
