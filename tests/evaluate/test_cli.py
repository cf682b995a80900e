"""Bad input is refused in one line before any weights load."""

from __future__ import annotations

import pytest

from repro.cli import main


@pytest.fixture(autouse=True)
def no_weights(monkeypatch, tmp_path):
    import repro.runtime.hf

    def boom(*a, **k):
        raise AssertionError("weights were loaded before the input was checked")

    monkeypatch.setattr(repro.runtime.hf, "load", boom)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setenv("HF_HOME", str(tmp_path))


def one_line_error(capsys, argv, match):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.startswith("error: ") and "\n" not in err, err
    assert match in err, err
    return err


def test_unknown_model(capsys, tmp_path):
    one_line_error(capsys, ["evaluate", "--models", "llama-9b", "--results", str(tmp_path)],
                   "unknown model 'llama-9b'")


def test_unknown_task(capsys, tmp_path):
    one_line_error(capsys, ["evaluate", "--models", "smollm2-135m-instruct", "--tasks", "mmlu",
                            "--results", str(tmp_path)], "unknown task(s) mmlu")


def test_level_outside_list(capsys, tmp_path):
    one_line_error(capsys, ["evaluate", "--models", "llama-3.2-1b-instruct", "--levels", "20",
                            "--results", str(tmp_path)], "level 20 is not in llama-3.2-1b-instruct")


def test_gated_without_token(capsys, tmp_path):
    err = one_line_error(capsys, ["evaluate", "--models", "llama-3.2-1b", "--results", str(tmp_path)],
                         "is gated")
    assert "HF_TOKEN" in err and "huggingface.co/settings/tokens" in err


def test_bad_shard_and_criterion(capsys, tmp_path):
    one_line_error(capsys, ["evaluate", "--models", "smollm2-135m-instruct", "--shard", "3/2",
                            "--results", str(tmp_path)], "argument --shard: need 1 <= i <= n")
    one_line_error(capsys, ["neuron-selection", "--models", "smollm2-135m-instruct", "--criteria",
                            "magic", "--results", str(tmp_path)], "unknown pruning criterion")


def test_dry_run_lists_the_grid(capsys, tmp_path):
    assert main(["evaluate", "--models", "smollm2-135m-instruct", "--dry-run",
                 "--results", str(tmp_path)]) == 0
    *lines, summary = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 * 4 and all(x.startswith("pending") for x in lines)
    assert all("/maw/" in x for x in lines)  # the paper's tie-break: no variant
    assert summary == "evaluate: 28 cells in the grid, 28 in shard 1/1, 28 to compute"
    assert main(["evaluate", "--models", "smollm2-135m-instruct", "--dry-run", "--tie-break",
                 "stable", "--results", str(tmp_path)]) == 0
    *lines, _ = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 * 4 and all("/maw-stable/" in x for x in lines)


def test_real_ifeval_needs_real_punkt_tab(capsys, tmp_path, monkeypatch):
    from repro.evaluate import nltk_data

    monkeypatch.setenv("REPRO_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN", "hf_dummy")  # past the gate check; nothing is downloaded
    monkeypatch.setenv("NLTK_DATA", str(nltk_data.write_stub()))
    one_line_error(capsys, ["evaluate", "--models", "llama-3.2-1b", "--tasks", "ifeval",
                            "--results", str(tmp_path)], "punkt_tab")
