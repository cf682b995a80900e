"""A calibration file is read and tokenised only as far as its windows need (a 50 MB file once
took 11.5 GB to keep 16,384 tokens), with the same tokens as the whole text gives; and a stage
run outside a git checkout prints no stray "fatal: not a git repository"."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro.core.textio import TextFile
from repro.prune import criteria
from repro.testing.toy import toy_tokenizer
from tests.faults.conftest import eval_argv
from tests.faults.harness import env

pytestmark = pytest.mark.integration

SENTENCES = ("The quick brown fox jumps over the lazy dog. ", "Pack my box with five dozen "
             "liquor jugs!\n", "Sphinx of black quartz, judge my vow; ", "12345 67.89 — naïve café\r\n")


def _text(chars: int) -> str:
    out, i = [], 0
    while sum(map(len, out)) < chars:
        out.append(SENTENCES[i % len(SENTENCES)] * (1 + i % 3))
        i += 1
    return "".join(out)[:chars]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_the_prefix_gives_the_tokens_the_whole_text_gives(tmp_path, encoding):
    tok = toy_tokenizer()
    text = _text(400_000)
    path = tmp_path / "calib.txt"
    path.write_bytes(text.encode(encoding))
    whole = tok(text.replace("\r\n", "\n"), add_special_tokens=False)["input_ids"]
    for samples, seq_len in ((32, 512), (3, 100), (1, 7)):
        need = samples * seq_len
        got = criteria.calibration_tokens(tok, TextFile(path, "--calibration"), need)
        assert got == whole[:need], (encoding, samples, seq_len)
        assert criteria.calibration_tokens(tok, text.replace("\r\n", "\n"), need) == whole[:need]
    short = tmp_path / "short.txt"
    short.write_text("only a few words", encoding=encoding)
    assert criteria.calibration_tokens(tok, TextFile(short), 16384) == \
        tok("only a few words", add_special_tokens=False)["input_ids"]


def test_a_50_mb_calibration_file_is_read_only_as_far_as_needed(tmp_path):
    path = tmp_path / "big.txt"
    block = _text(1 << 20).encode()
    with open(path, "wb") as f:
        for _ in range(50):
            f.write(block)
    code = (f"import resource, time; from repro.core.textio import TextFile; "
            f"from repro.prune.criteria import calibration_batches; "
            f"from repro.testing.toy import toy_tokenizer; tok = toy_tokenizer(); "
            f"base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; t = time.time(); "
            f"b = calibration_batches(tok, TextFile({str(path)!r})); "
            f"print(sum(int(m.sum()) for _, m in b), time.time() - t, "
            f"resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)")
    out = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    tokens, seconds, grown_kib = out.stdout.split()
    assert int(tokens) == 32 * 512
    assert float(seconds) < 20 and int(grown_kib) < 200 * 1024, (seconds, grown_kib)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 2 * 1024 * 1024


@pytest.mark.slow
def test_no_stray_git_output_outside_a_checkout(fault_env, toy, tmp_path):
    """The kit installed outside any git repository, a stage started from a folder that is not
    one either (a container's working folder): nothing on stderr says 'fatal'."""
    kit = tmp_path / "site"
    shutil.copytree(Path(__file__).resolve().parents[2] / "repro", kit / "repro")
    work = tmp_path / "work"
    work.mkdir()
    e = env(PYTHONPATH=str(kit), GIT_CEILING_DIRECTORIES=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "repro", "-q",
                        *eval_argv(toy, work / "results")[:5], "--tasks", "smoke_mc", "--levels",
                        "0", "--limit", "2", "--bootstrap-iters", "0", "--dtype", "float32",
                        "--results", str(work / "results")],
                       cwd=work, env=e, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "fatal" not in r.stderr and "not a git repository" not in r.stderr, r.stderr[-2000:]
