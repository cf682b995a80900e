#!/usr/bin/env bash
# CI: regenerate every table, figure and the claims report, then compile paper/report.tex with a
# real TeX installation; fails on any LaTeX error (a generated table that breaks LaTeX included).
# Installs Debian's texlive + latexmk when missing (about 45 s with apt-get update, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v latexmk >/dev/null || ! command -v pdflatex >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra
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
echo "ci-compile: paper/build/report.pdf ($(wc -c < build/report.pdf) bytes)"
