"""Each stage called as a Python function, without argparse: typed options in, a report of its
cells out; what it wrote is what the command line with the same values would want (`--check`
finds nothing missing)."""

from __future__ import annotations

import pytest

from repro.cli import main
from repro.evaluate.plan import LmEvalOptions
from repro.grid.options import GridOptions
from repro.results import cells as cellio
from tests.offline import offline_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LM = LmEvalOptions(suite="smoke", tasks=["smoke_ppl"], limit=1, bootstrap_iters=0)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from repro.config.models import get
    from repro.testing.toy import save_toy

    root = tmp_path_factory.mktemp("py")
    mp = offline_env(root)
    model = save_toy(root / "toy")
    yield model, get(str(model)).name, root
    mp.undo()


def grid(model, results, **kw) -> GridOptions:
    return GridOptions(models=[str(model)], device="cpu", dtype="float32", results=results, **kw)


def cli_finds_nothing_missing(argv) -> None:
    assert main([*argv, "--check"]) == 0


def test_evaluate_and_neuron_selection_and_extensions(toy, tmp_path):
    from repro.evaluate.neuron_selection import neuron_selection
    from repro.evaluate.stage import evaluate
    from repro.extensions.grid import extensions

    model, name, _ = toy
    r = evaluate(grid(model, tmp_path, levels=[0, 10]), LM, allocations=["uniform", "owl"])
    assert sorted(c.id for c in r.written) == [
        f"evaluate/{name}/maw-owl/level-10/smoke_ppl", f"evaluate/{name}/maw/level-0/smoke_ppl",
        f"evaluate/{name}/maw/level-10/smoke_ppl"]
    rec = cellio.read(tmp_path, r.written[0])
    assert rec["payload"]["settings"]["limit"] == 1 and rec["provenance"]["stage"] == "evaluate"
    common = ["--models", str(model), "--device", "cpu", "--dtype", "float32", "--results",
              str(tmp_path), "--suite", "smoke", "--tasks", "smoke_ppl", "--limit", "1",
              "--bootstrap-iters", "0"]
    cli_finds_nothing_missing(["evaluate", *common, "--levels", "0", "10", "--allocations", "uniform", "owl"])

    r = neuron_selection(grid(model, tmp_path, criteria=["maw", "random"]), LM)
    assert {c.variant for c in r.written} == {"fp32"} and len(r.written) == 3
    assert (tmp_path / "neuron_selection" / name / "summary-fp32.md").is_file()
    cli_finds_nothing_missing(["neuron-selection", *common, "--criteria", "maw", "random"])

    r = extensions(grid(model, tmp_path, criteria=["random"], levels=[10]), LM)
    assert [c.id for c in r.written] == [f"evaluate/{name}/random/level-10/smoke_ppl"]
    assert len(r.done) == 1  # the unpruned baseline, computed by evaluate above
    cli_finds_nothing_missing(["extensions", *common, "--criteria", "random", "--levels", "10"])


def test_sensitivity(toy, tmp_path):
    from repro.extensions.sensitivity import sensitivity

    model, name, _ = toy
    r = sensitivity(grid(model, tmp_path, levels=[40], criteria=["maw"]), LM, perplexity_windows=1)
    assert len(r.written) == 2 * 2 * 2  # levels 0 and 40, two layers, two tasks
    cell = cellio.Cell("sensitivity", name, "maw", 40.0, "calibration", "layer01")
    assert cellio.read(tmp_path, cell)["payload"]["prune"]["layer"] == 1
    cli_finds_nothing_missing(["sensitivity", "--models", str(model), "--device", "cpu", "--dtype",
                               "float32", "--results", str(tmp_path), "--suite", "smoke", "--tasks",
                               "smoke_ppl", "--limit", "1", "--bootstrap-iters", "0", "--levels",
                               "40", "--criteria", "maw", "--perplexity-windows", "1"])


def test_efficiency(toy, tmp_path):
    from repro.efficiency.cli import efficiency
    from tests.efficiency.test_protocols import small_config

    model, name, _ = toy
    cfg = small_config(tmp_path)
    r = efficiency(grid(model, tmp_path / "r", levels=[0, 40]), widths=["unaligned"],
                   protocols=["corrected"], workloads=["prefill_p8_b1"], config=cfg)
    assert [c.id for c in r.written] == [f"efficiency/{name}/maw-cpu-float32/level-{lv}/prefill_p8_b1"
                                         for lv in (0, 40)]
    cli_finds_nothing_missing(["efficiency", "--models", str(model), "--device", "cpu", "--dtype",
                               "float32", "--results", str(tmp_path / "r"), "--levels", "0", "40",
                               "--widths", "unaligned", "--protocols", "corrected", "--workloads",
                               "prefill_p8_b1", "--config", str(cfg)])


def test_prune(toy, tmp_path):
    import json

    from repro.prune.cli import prune_model

    model, _, _ = toy
    outs = prune_model(model, tmp_path / "out", levels=[10, 40], criterion="PPM", dtype="float32")
    assert [o.name for o in outs] == ["maw-level10", "maw-level40"]
    record = json.loads((outs[1] / "repro_prune.json").read_text())
    assert record["prune"]["criterion"] == "maw" and record["prune"]["kept_width"] == 58
