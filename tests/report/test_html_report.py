"""report.html: one self-contained page (nothing fetched from a network), rendered in a real
headless Chromium: its script runs, the digest comes first, the claims table filters by verdict
and by text (from the page address), and the first screen is drawn.

Chromium is Debian's /usr/bin/chromium (or $CHROMIUM). Without it the browser test skips,
saying so, unless REPRO_REQUIRE_BROWSER=1 (CI: paper/ci-compile.sh installs it and sets that),
where a missing browser fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from repro.report.render import render

pytestmark = [pytest.mark.light, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[2] / "data"
# the flags that work in a sandboxed machine without a display or a network
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html") / "generated"
    assert render(DATA, out) == 0
    return out / "report.html"


def chromium() -> str:
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get("REPRO_REQUIRE_BROWSER") == "1":
        pytest.fail("REPRO_REQUIRE_BROWSER=1 but no chromium: install Debian's chromium")
    pytest.skip("no chromium here (apt-get install chromium, or set CHROMIUM=/path); CI installs "
                "it in paper/ci-compile.sh and runs this test with REPRO_REQUIRE_BROWSER=1")


def browse(page: Path, tmp_path: Path, *args: str, address: str = "") -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args,
                           page.resolve().as_uri() + address],
                          capture_output=True, text=True, timeout=120)


def dom(page: Path, tmp_path: Path, address: str = "") -> str:
    done = browse(page, tmp_path, "--dump-dom", address=address)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'data-ready="1"' in done.stdout, "the page's script did not run"
    return done.stdout


def shown(html: str) -> tuple[int, int]:
    m = re.search(r'<span id="count">(\d+) of (\d+) claims shown', html)
    assert m, "no claim count"
    return int(m.group(1)), int(m.group(2))


def test_the_page_is_self_contained(page):
    html = page.read_text()
    # nothing to fetch: no stylesheet, script or image from elsewhere; figures inline
    assert not re.search(r'<(link|script)[^>]+(href|src)=', html)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count('src="data:image/png;base64,') >= 4
    assert html.index('id="digest"') < html.index('id="figures"') < html.index('id="claims"')
    assert "<details>" in html and html.count('class="claim"') == 137


def test_chromium_runs_the_filters(page, tmp_path):
    every = dom(page, tmp_path)
    assert shown(every) == (137, 137)
    fails = dom(page, tmp_path, "#verdict=fails")
    assert shown(fails) == (27, 137)
    rows = re.findall(r'<tr class="claim" id="([^"]+)" data-verdict="([^"]+)"[^>]*?( hidden="")?>', fails)
    assert len(rows) == 137
    assert all((verdict == "fails") == (not hidden) for _, verdict, hidden in rows)
    robust = dom(page, tmp_path, "#q=robust-musr")
    assert shown(robust) == (3, 137)


def test_chromium_draws_the_first_screen(page, tmp_path):
    import matplotlib.image as mpimg

    shot = tmp_path / "first-screen.png"
    done = browse(page, tmp_path, "--window-size=1400,1000", f"--screenshot={shot}")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = mpimg.imread(shot)
    assert image.shape[:2] == (1000, 1400)
    grey = image[..., :3].mean(axis=2)
    assert (grey < 0.3).mean() > 0.005, "no text drawn"  # dark text on a light page
    assert grey.std() > 0.05
