#!/usr/bin/env bash
# Regenerate the report's screenshots under docs/ (README, "The tables, figures and claims"):
# report.html's first screen in headless Chromium, and two pages of the PDF (pdftoppm).
# Needs what paper/ci-compile.sh installs: TeX, chromium, poppler-utils. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m nox -s paper
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --window-size=1400,1000 \
  --screenshot="$PWD/docs/report-html-first-screen.png" "file://$PWD/paper/generated/report.html"
# page 1: the digest; page 2: the dichotomy figure and the paper's first table
pdftoppm -png -r 80 -f 1 -l 1 -singlefile paper/build/report.pdf docs/report-pdf-page1
pdftoppm -png -r 80 -f 2 -l 2 -singlefile paper/build/report.pdf docs/report-pdf-page2
ls -l docs/report-*.png
