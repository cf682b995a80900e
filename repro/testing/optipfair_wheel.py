"""One optipfair version from its own wheel, for differential tests against versions that
cannot share an environment with the installed 0.2.0 (the paper's).

    src = wheel_src("0.2.4")           # <cache>/optipfair/0.2.4/src, fetched once with pip
    out = run_with(src, SCRIPT, args)  # SCRIPT runs in a fresh Python with `src` first on sys.path

The wheel is fetched with `pip download --no-deps optipfair==V` into the kit's cache
($REPRO_CACHE, else ~/.cache/repro), checked against the SHA-256 recorded below (read from
PyPI on 2026-11-24), and unzipped: optipfair is pure Python, so unzipping is installing. The
script runs in a subprocess so that no optipfair already imported in the test process is
reused; `import optipfair` needs only torch and transformers.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from repro.core.atomicio import staged_dir
from repro.core.cache import cache_root

SHA256 = {
    "0.2.0": "b03338c3e6ac8923d64a2de4fd453e5135a2e676b112b83fbc9004e0ecf309f4",
    "0.2.4": "966389ed3d3b0c7170b13dadaf173c6375731d87bd67f0a7ce40e1713a37d161",
    "0.4.2": "51b497c1117432a873f90a8a1fd7c6a20979084f1aea4fd3fb008a13a5376109",
}


class WheelUnavailable(Exception):
    """The wheel could not be fetched (no network, no pip): tests skip with this reason."""


def wheel_src(version: str) -> Path:
    """The unzipped wheel of optipfair `version` (fetched and checked once)."""
    root = cache_root() / "optipfair" / version
    src = root / "src"
    if (src / "optipfair" / "__init__.py").is_file():
        return src
    wheels = root / "wheel"
    wheel = wheels / f"optipfair-{version}-py3-none-any.whl"
    if not wheel.is_file():
        wheels.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "-q", "-d", str(wheels), f"optipfair=={version}"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WheelUnavailable(f"pip download optipfair=={version}: {exc}") from exc
        if done.returncode != 0 or not wheel.is_file():
            last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise WheelUnavailable(f"pip download optipfair=={version} failed: {last}")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if version in SHA256 and digest != SHA256[version]:
        wheel.unlink()
        raise RuntimeError(f"{wheel.name} has SHA-256 {digest}, PyPI's was {SHA256[version]}")
    with staged_dir(src) as tmp, zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp)
    return src


def run_with(src: Path, script: str, *args: str, timeout: int = 600) -> str:
    """Run `script` in a fresh Python whose sys.path starts with `src`; its stdout."""
    prelude = f"import sys; sys.path.insert(0, {str(src)!r})\n"
    done = subprocess.run([sys.executable, "-c", prelude + script, *args],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"script under {src} failed:\n{done.stderr[-3000:]}")
    return done.stdout
