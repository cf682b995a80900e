"""Bad input to every stage: one `error:` line naming the problem, a non-zero exit, no
traceback, and nothing written (the folders the command was pointed at are unchanged).

Each case runs the real command line in this process (`repro.cli.main`); the case's `{w}`
folder is snapshotted before and after. Grid stages' option errors are also tried with
--dry-run: they fail when the command line is parsed, with the option's name.
"""

from __future__ import annotations

import json
import shutil

import pytest

from repro.cli import main
from tests.faults.harness import one_error_line, snapshot

pytestmark = pytest.mark.integration

W = "{w}"
OUT = f"{W}/out"
RES = f"{W}/results"
EVAL = ["evaluate", "--models", "{toy}", "--suite", "smoke", "--results", RES]
NS = ["neuron-selection", "--models", "{toy}", "--suite", "smoke_neuron_selection", "--results", RES]
EFF = ["efficiency", "--models", "{toy}", "--device", "cpu", "--results", RES]
PRUNE = ["prune", "--model", "{toy}", "--levels", "40", "--out", OUT]

# (case, argv, what the one error line must contain); "parse" cases are retried with --dry-run
PARSE = [
    ("evaluate-limit-0", [*EVAL, "--limit", "0"], "argument --limit"),
    ("evaluate-limit-negative", [*EVAL, "--limit", "-3"], "argument --limit"),
    ("evaluate-limit-2.5", [*EVAL, "--limit", "2.5"], "argument --limit"),
    ("evaluate-limit-nan", [*EVAL, "--limit", "nan"], "argument --limit"),
    ("evaluate-bootstrap-negative", [*EVAL, "--bootstrap-iters", "-1"], "argument --bootstrap-iters"),
    ("evaluate-seed-text", [*EVAL, "--seed", "abc"], "argument --seed"),
    ("evaluate-seed-huge", [*EVAL, "--seed", str(2**64)], "argument --seed"),
    ("evaluate-batch-0", [*EVAL, "--batch-size", "0"], "argument --batch-size"),
    ("evaluate-max-length-0", [*EVAL, "--max-length", "0"], "argument --max-length"),
    ("evaluate-shard-0", [*EVAL, "--shard", "0/2"], "argument --shard"),
    ("evaluate-shard-text", [*EVAL, "--shard", "half"], "argument --shard"),
    ("evaluate-criteria", [*EVAL, "--criteria", "magic"], "argument --criteria"),
    ("evaluate-variants", [*EVAL, "--variants", "fancy"], "argument --variants"),
    ("evaluate-device-tpu", [*EVAL, "--device", "tpu"], "argument --device"),
    ("evaluate-dtype", [*EVAL, "--dtype", "int8"], "argument --dtype"),
    ("evaluate-level-100", [*EVAL, "--levels", "100"], "argument --levels"),
    ("evaluate-level-digits", [*EVAL, "--levels", "40.0000001"], "argument --levels"),
    ("evaluate-calibration-samples", [*EVAL, "--calibration-samples", "0"], "argument --calibration-samples"),
    ("neuron-selection-criteria", [*NS, "--criteria", "vow", "magic"], "argument --criteria"),
    ("neuron-selection-level-nan", [*NS, "--levels", "nan"], "argument --levels"),
    ("neuron-selection-seed", [*NS, "--seed", "-1"], "argument --seed"),
    ("efficiency-threads-0", [*EFF, "--threads", "0"], "argument --threads"),
    ("efficiency-widths", [*EFF, "--widths", "align7"], "argument --widths"),
    ("efficiency-protocols", [*EFF, "--protocols", "fast"], "argument --protocols"),
    ("efficiency-criteria", [*EFF, "--criteria", "best"], "argument --criteria"),
    ("efficiency-level-inf", [*EFF, "--levels", "inf"], "argument --levels"),
    ("efficiency-shard", [*EFF, "--shard", "3/2"], "argument --shard"),
]
RUN = [
    # prune (every one before any weights load, except where the weights are the problem)
    ("prune-level-100", [*PRUNE[:4], "100", *PRUNE[5:]], "argument --levels"),
    ("prune-expansion-0", ["prune", "--model", "{toy}", "--expansion", "0", "--out", OUT], "argument --expansion"),
    ("prune-expansion-nan", ["prune", "--model", "{toy}", "--expansion", "nan", "--out", OUT], "argument --expansion"),
    ("prune-expansion-too-wide", ["prune", "--model", "{toy}", "--expansion", "1000", "--out", OUT], "expansion ratio 1000"),
    ("prune-levels-and-expansion", [*PRUNE, "--expansion", "2"], "not allowed with"),
    ("prune-seed", [*PRUNE, "--seed", "1.5"], "argument --seed"),
    ("prune-criterion", [*PRUNE, "--criterion", "magic"], "argument --criterion"),
    ("prune-align-0", [*PRUNE, "--align", "0"], "argument --align"),
    ("prune-align-too-wide", [*PRUNE, "--align", "4096"], "exceeds the layer width"),
    ("prune-device-cuda", [*PRUNE, "--device", "cuda"], "--device cuda requested but no CUDA GPU"),
    ("prune-device-index", [*PRUNE, "--device", "cuda:x"], "argument --device"),
    ("prune-out-is-a-file", [*PRUNE[:5], "--out", "{file}"], "is a file, not a folder"),
    ("prune-out-inside-a-file", [*PRUNE[:5], "--out", "{file}/sub"], "is a file, not a folder"),
    ("prune-out-exists", [*PRUNE[:5], "--out", "{busy}"], "not a folder prune wrote"),
    ("prune-overwrite-user-folder", [*PRUNE[:5], "--out", "{busy}", "--overwrite"], "not a folder prune wrote"),
    ("prune-no-config", ["prune", "--model", "{noconfig}", "--levels", "40", "--out", OUT], "noconfig"),
    ("prune-bad-config-json", ["prune", "--model", "{badjson}", "--levels", "40", "--out", OUT], "config"),
    ("prune-unknown-architecture", ["prune", "--model", "{future}", "--levels", "40", "--out", OUT], "not implemented in transformers"),
    ("prune-missing-tensors", ["prune", "--model", "{incomplete}", "--levels", "40", "--out", OUT], "lack"),
    ("prune-shape-contradicts-config", ["prune", "--model", "{misshapen}", "--levels", "40", "--out", OUT], "cannot load it"),
    ("prune-activation-no-calibration", [*PRUNE, "--criterion", "activation"], "--calibration"),
    ("prune-activation-binary-calibration", [*PRUNE, "--criterion", "activation", "--calibration", "{binary}"], "NUL"),
    ("prune-duplicate-targets", ["prune", "--model", "{toy}", "--expansion", "2.4", "2.40000001", "--out", OUT], "share the folder name"),
    # evaluate / neuron-selection
    ("evaluate-results-is-a-file", [*EVAL[:5], "--results", "{file}"], "is a file, not a folder"),
    ("evaluate-results-is-a-file-dry-run", [*EVAL[:5], "--results", "{file}", "--dry-run"], "is a file, not a folder"),
    ("evaluate-results-inside-a-file-dry-run", [*EVAL[:5], "--results", "{file}/sub", "--dry-run"], "is a file, not a folder"),
    ("evaluate-device-cuda-dry-run", [*EVAL, "--device", "cuda", "--dry-run"], "no CUDA GPU"),
    ("evaluate-unknown-task", [*EVAL, "--tasks", "mmlu"], "unknown task(s) mmlu"),
    ("evaluate-unknown-suite", [*EVAL, "--suite", "nope"], "nope"),
    ("evaluate-local-without-suite", ["evaluate", "--models", "{toy}", "--results", RES], "pass --suite"),
    ("evaluate-unknown-model", ["evaluate", "--models", "llama-9b", "--results", RES], "unknown model 'llama-9b'"),
    ("evaluate-level-not-in-list", ["evaluate", "--models", "llama-3.2-1b-instruct", "--levels", "20",
                                    "--results", RES], "level 20 is not in"),
    ("evaluate-calibration-missing", [*EVAL, "--criteria", "activation", "--calibration", f"{W}/nope.txt"], "--calibration"),
    ("evaluate-calibration-binary", [*EVAL, "--criteria", "activation", "--calibration", "{binary}", "--dry-run"], "NUL"),
    ("evaluate-model-bad-config", ["evaluate", "--models", "{badjson}", "--suite", "smoke", "--results", RES], "not valid JSON"),
    ("neuron-selection-results-is-a-file", [*NS[:5], "--results", "{file}"], "is a file, not a folder"),
    # efficiency
    ("efficiency-profile", [*EFF, "--profile", "turbo"], "--profile 'turbo'"),
    ("efficiency-workloads", [*EFF, "--workloads", "nope"], "--workloads: unknown"),
    ("efficiency-config-missing", [*EFF, "--config", f"{W}/none.yaml"], "none.yaml"),
    ("efficiency-results-is-a-file", [*EFF[:5], "--results", "{file}"], "is a file, not a folder"),
    ("efficiency-activation", [*EFF, "--criteria", "activation"], "calibration"),
    ("efficiency-device-cuda", [*EFF[:3], "--device", "cuda", "--results", RES], "no CUDA GPU"),
    # aggregate
    ("aggregate-run-id-slash", ["aggregate", "--results", "{cells}", "--out", OUT, "--run-id", "a/b"], "argument --run-id"),
    ("aggregate-run-id-newline", ["aggregate", "--results", "{cells}", "--out", OUT, "--run-id", "a\nb"], "argument --run-id"),
    ("aggregate-run-id-dots", ["aggregate", "--results", "{cells}", "--out", OUT, "--run-id", ".."], "argument --run-id"),
    ("aggregate-run-id-comma", ["aggregate", "--results", "{cells}", "--out", OUT, "--run-id", "a,b"], "argument --run-id"),
    ("aggregate-results-missing", ["aggregate", "--results", f"{W}/none", "--out", OUT], "is not a folder"),
    ("aggregate-no-cells", ["aggregate", "--results", "{emptydir}", "--out", OUT], "no finished cells"),
    ("aggregate-out-is-a-file", ["aggregate", "--results", "{cells}", "--out", "{file}"], "is a file, not a folder"),
    ("aggregate-two-models-one-name", ["aggregate", "--results", "{twomodels}", "--out", OUT], "come from two models"),
    # tables / analyze / claims
    ("tables-no-csv", ["tables", "--data", "{emptydir}", "--out", OUT], "no result CSV"),
    ("tables-semicolons", ["tables", "--data", "{semicolon}", "--out", OUT], "separated by ';'"),
    ("tables-not-a-number", ["tables", "--data", "{nan_value}", "--out", OUT], "'value' is not a number"),
    ("tables-duplicate-key", ["tables", "--data", "{duplicate}", "--out", OUT], "duplicate key"),
    ("tables-missing-column", ["tables", "--data", "{nocolumn}", "--out", OUT], "missing column(s) params"),
    ("tables-out-is-a-file", ["tables", "--data", "{published}", "--out", "{file}"], "is a file, not a folder"),
    ("analyze-out-inside-a-file", ["analyze", "--data", "{published}", "--out", "{file}/x"], "is a file, not a folder"),
    ("claims-no-csv", ["claims", "--data", "{emptydir}", "--out", OUT], "no result CSV"),
    ("claims-out-is-a-file", ["claims", "--data", "{published}", "--out", "{file}"], "is a file, not a folder"),
    # pipeline, preflight, the command itself
    ("pipeline-profile", ["pipeline", "--profile", "nope", "--out", OUT], "argument --profile"),
    ("pipeline-stages", ["pipeline", "--stages", "nope", "--out", OUT], "argument --stages"),
    ("pipeline-threads", ["pipeline", "--threads", "-1", "--out", OUT], "argument --threads"),
    ("pipeline-unknown-model", ["pipeline", "--models", "nope", "--out", OUT], "unknown model 'nope'"),
    ("pipeline-out-is-a-file", ["pipeline", "--profile", "smoke", "--stages", "tables", "--out", "{file}"], "is a file"),
    ("pipeline-shard", ["pipeline", "--shard", "2/1", "--out", OUT], "argument --shard"),
    ("preflight-min-free", ["preflight", "--min-free-gb", "-1", "--results", RES], "argument --min-free-gb"),
    ("preflight-skip", ["preflight", "--skip", "everything", "--results", RES], "argument --skip"),
    ("unknown-command", ["frobnicate"], "invalid choice"),
]
CASES = ([(n, a, s) for n, a, s in PARSE] + [(n + "-dry-run", [*a, "--dry-run"], s) for n, a, s in PARSE]
         + RUN)


@pytest.fixture(scope="module")
def inputs(fault_env, toy):
    """Damaged and odd inputs, made once (outside the snapshotted folder)."""
    from repro.testing.toy import toy_model, toy_tokenizer

    d = fault_env / "bad-inputs"
    d.mkdir()
    (d / "afile").write_text("not a folder")
    (d / "emptydir").mkdir()
    (d / "binary.txt").write_bytes(b"\0\1\2 binary")
    (d / "busy").mkdir()
    (d / "busy" / "x").write_text("keep me")
    (d / "noconfig").mkdir()
    (d / "noconfig" / "model.safetensors").write_bytes(b"")
    shutil.copytree(toy, d / "badjson")
    (d / "badjson" / "config.json").write_text('{"model_type": "llama", ')
    shutil.copytree(toy, d / "future")
    cfg = json.loads((toy / "config.json").read_text())
    (d / "future" / "config.json").write_text(json.dumps({**cfg, "model_type": "llama9"}))
    incomplete = d / "incomplete"  # a layer's weights missing: transformers would invent them
    model = toy_model()
    state = {k: v for k, v in model.state_dict().items() if "layers.1.mlp.down_proj" not in k}
    model.save_pretrained(incomplete, state_dict=state)
    toy_tokenizer().save_pretrained(incomplete)
    shutil.copytree(toy, d / "misshapen")  # the config says one width, the weights another
    (d / "misshapen" / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 64}))
    header = "model,criterion,level,variant,task,metric,filter,value,stderr,unit,kept_width,expansion_ratio,params,source,run_id\n"
    row = "m,maw,0.0,,t,acc,none,0.5,,,96,3.0,100,reproduction,r\n"
    for name, text in {"semicolon": header.replace(",", ";") + row.replace(",", ";"),
                       "nan_value": header + row.replace("0.5", "half"),
                       "duplicate": header + row + row,
                       "nocolumn": header.replace(",params", "") + row.replace(",100", "")}.items():
        (d / name).mkdir()
        (d / name / "x.csv").write_text(text)
    shutil.copytree(__import__("tests.faults.conftest", fromlist=["PUBLISHED"]).PUBLISHED, d / "published")
    from repro.results import cells

    cell = cells.Cell("evaluate", "m", "maw", 0.0, "t")
    payload = {"results": {"t": {"acc,none": 0.5}}, "metrics_kept": ["acc,none"], "prune": {}}
    cells.write(d / "cells", cell, payload, {"model": {"identity": "content-v1:aaa"}})
    cells.write(d / "twomodels", cell, payload, {"model": {"identity": "content-v1:aaa"}})
    cells.write(d / "twomodels", cells.Cell("evaluate", "m", "maw", 10.0, "t"), payload,
                {"model": {"identity": "content-v1:bbb"}})
    return d


@pytest.mark.parametrize(("argv", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(argv, needle, inputs, toy, tmp_path, capsys, monkeypatch):
    import repro.runtime.hf

    names = {"w": str(tmp_path), "toy": str(toy), "file": str(inputs / "afile"),
             **{p.name.replace(".txt", ""): str(p) for p in inputs.iterdir()}}
    argv = [a.format(**names) for a in argv]
    monkeypatch.setattr(repro.runtime.hf, "_quiet_hub", lambda: None)
    before = snapshot(tmp_path), snapshot(inputs)
    rc = main(argv)
    one_error_line(capsys.readouterr().err, rc, needle)
    assert (snapshot(tmp_path), snapshot(inputs)) == before, "the refused command wrote something"


def test_at_least_forty_cases_over_every_stage():
    stages = {c[1][0] for c in CASES}
    assert len(CASES) >= 40
    assert stages >= {"prune", "evaluate", "neuron-selection", "efficiency", "aggregate", "tables",
                      "analyze", "claims", "pipeline", "preflight"}
