#!/usr/bin/env bash
# CI: regenerate every table, figure, the claims report and report.html, then compile
# paper/report.tex with a real TeX installation; fails on any LaTeX error (a generated table that
# breaks LaTeX included), on an overfull box (a table or cell wider than the page), and on an
# undefined reference. Then the tests that need the real tools: report.html rendered in headless
# Chromium, and a model named with LaTeX's specials compiled (required here: they cannot skip).
# Installs Debian's texlive + latexmk, chromium and poppler-utils when missing (as root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v latexmk >/dev/null && command -v pdflatex >/dev/null || \
  need+=(latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra)
command -v chromium >/dev/null || need+=(chromium)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
python3 -m nox -s tables
cd paper
rm -rf build
# -halt-on-error + nonstop: the first LaTeX error ends the run with a non-zero status
latexmk -pdf -interaction=nonstopmode -halt-on-error -file-line-error -outdir=build report.tex
# undefined references or citations count as failures too
if grep -E "LaTeX Warning: (Reference|Citation).*undefined" build/report.log; then
  echo "ci-compile: undefined references in report.tex" >&2
  exit 1
fi
# a box wider than its column is text or a table cut off on paper
if grep -A2 "^Overfull \\\\hbox" build/report.log; then
  echo "ci-compile: overfull boxes in report.tex (above)" >&2
  exit 1
fi
echo "ci-compile: paper/build/report.pdf ($(wc -c < build/report.pdf) bytes, $(pdfinfo build/report.pdf | awk '/^Pages/ {print $2}') pages)"
cd ..
REPRO_REQUIRE_BROWSER=1 REPRO_REQUIRE_TEX=1 python3 -m nox -s tests_light -- \
  tests/report/test_html_report.py tests/faults/test_report_outputs.py
