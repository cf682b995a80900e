"""`repro sensitivity` and `repro extensions` on a tiny model through the real lm-eval and the
real CLI: cells with provenance, equal to a direct measurement, resumable; the scan's ranking
feeds spareK; allocations run as named variants of evaluate; aggregate makes tidy rows."""

from __future__ import annotations

import json

import pytest

from repro.cli import main
from repro.config.models import get as get_model
from repro.results import cells as cellio
from repro.results.aggregate import aggregate
from repro.results.sensitivity import layer_sensitivity
from tests.offline import offline_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
COMMON = ["--suite", "smoke", "--limit", "1", "--bootstrap-iters", "0", "--device", "cpu",
          "--dtype", "float32"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from repro.testing.toy import save_toy

    root = tmp_path_factory.mktemp("ext")
    mp = offline_env(root)
    model = save_toy(root / "toy5", layers=5)
    results = root / "results"
    assert main(["sensitivity", "--models", str(model), "--levels", "10", "40", "--results",
                 str(results), *COMMON]) == 0
    name = get_model(str(model)).name  # a local model's name carries its content hash
    yield model, results, name
    mp.undo()


def _cell(name, level, layer, task, crit="maw"):
    return cellio.Cell("sensitivity", name, "maw" if level == 0 else crit, level, task, f"layer{layer:02d}")


def test_scan_cells_hold_one_layer_cut_and_match_a_direct_measurement(env):
    from repro.evaluate.tasks.text import calibration_text
    from repro.extensions import scan
    from repro.prune import criteria
    from repro.prune.ranking import rank
    from repro.runtime.hf import load

    model_dir, results, name = env
    model, tok, _ = load(str(model_dir), dtype="float32")
    ranking = rank(model, "maw")
    windows = criteria.calibration_batches(tok, calibration_text(), seq_len=512, samples=1)
    for layer in (0, 4):
        rec = cellio.read(results, _cell(name, 40.0, layer, "calibration"))
        pruned, _ = scan.layer_cut(model, ranking, layer, 40.0, "topk")  # the paper's rule, the default
        ppl, n = scan.perplexity(pruned, windows)
        got = rec["payload"]["results"]["calibration"]
        assert got["perplexity,none"] == ppl and got["tokens,none"] == n == 511
        assert rec["payload"]["prune"]["layer"] == layer and rec["payload"]["prune"]["kept_width"] == 58
        assert rec["provenance"]["stage"] == "sensitivity" and "kit_commit" in rec["provenance"]
    base = [cellio.read(results, _cell(name, 0.0, i, "smoke_ppl"))["payload"]["results"] for i in range(5)]
    assert all(b == base[0] for b in base)  # one unpruned measurement, every layer's baseline
    cut = cellio.read(results, _cell(name, 40.0, 2, "smoke_ppl"))["payload"]
    assert cut["results"]["smoke_ppl"]["word_perplexity,none"] != base[0]["smoke_ppl"]["word_perplexity,none"]
    assert cut["prune"]["tie_break"] == "topk" and cut["settings"]["dtype"] == "float32"


def test_a_rerun_computes_nothing_and_a_damaged_cell_is_redone(env, capsys):
    model_dir, results, name = env
    path = _cell(name, 40.0, 3, "smoke_ppl").path(results)
    before = path.read_text()
    path.write_text(before[: len(before) // 2])
    argv = ["sensitivity", "--models", str(model_dir), "--levels", "10", "40", "--results",
            str(results), *COMMON, "--dry-run"]
    assert main(argv) == 0
    pending = [line for line in capsys.readouterr().out.splitlines() if line.startswith("pending")]
    assert pending == [f"pending  sensitivity/{name}/maw-layer03/level-40/smoke_ppl"]
    assert main(argv[:-1]) == 0
    assert json.loads(path.read_text())["payload"] == json.loads(before)["payload"]


def test_scan_ranks_layers_and_aggregates_to_tidy_rows(env):
    _, results, name = env
    scores, record = layer_sensitivity(results, name, "maw", 5)
    assert record["levels"] == [10.0, 40.0] and len(scores) == 5
    ppl = {lv: cellio.read(results, _cell(name, lv, 1, "calibration"))["payload"]["results"]["calibration"]
           ["perplexity,none"] for lv in (10.0, 40.0)}
    assert scores[1] == pytest.approx((ppl[10.0] * ppl[40.0]) ** 0.5)
    df, _, _ = aggregate(results, "t")
    rows = df[(df.variant == "layer01") & (df.task == "calibration")]
    assert sorted(rows.level) == [0.0, 10.0, 40.0] and set(rows.metric) == {"perplexity"}
    with pytest.raises(Exception, match=f"no complete sensitivity scan of {name} with criterion l2"):
        layer_sensitivity(results, name, "l2", 5)


def test_extensions_run_the_table_rows_with_allocations_as_variants(env):
    model_dir, results, name = env
    assert main(["extensions", "--models", str(model_dir), "--criteria", "maw", "--results",
                 str(results), "--calibration-samples", "2", *COMMON]) == 0
    spare = cellio.read(results, cellio.Cell("evaluate", name, "maw", 40.0, "smoke_ppl", "spare3"))
    owl = cellio.read(results, cellio.Cell("evaluate", name, "maw", 40.0, "smoke_ppl", "owl"))
    uniform = cellio.read(results, cellio.Cell("evaluate", name, "maw", 40.0, "smoke_ppl"))
    scores, record = layer_sensitivity(results, name, "maw", 5)
    spared = sorted(sorted(range(5), key=lambda i: -scores[i])[:3])
    p = spare["payload"]["prune"]
    assert p["allocation"] == "spare3" and p["allocation_record"]["spared_layers"] == spared
    assert [p["kept_widths"][i] for i in spared] == [96] * 3
    assert sum(p["kept_widths"]) == 5 * 58 == 5 * uniform["payload"]["prune"]["kept_width"]
    assert spare["payload"]["settings"]["allocation"] == {"rule": "spare", "k": 3,
                                                          "sensitivity_sha256": record["sha256"]}
    o = owl["payload"]["prune"]
    assert o["allocation"] == "owl" and sum(o["kept_widths"]) == 5 * 58
    assert len(set(o["kept_widths"])) > 1 and len(o["allocation_record"]["outlier_ratios"]) == 5
    assert owl["payload"]["settings"]["allocation"]["m"] == 5.0
    assert uniform["payload"]["prune"]["kept_widths"] is None  # the paper's cell is unchanged
    assert not cellio.Cell("evaluate", name, "maw", 0.0, "smoke_ppl", "owl").path(results).exists()
    df, _, _ = aggregate(results, "t")
    assert {"spare3", "owl", ""} <= set(df[(df.task == "smoke_ppl") & (df.level == 40)].variant)
