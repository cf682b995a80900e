"""Text the report writes: LaTeX and Markdown escaping, and how numbers are shown."""

from __future__ import annotations

import re

PPL = {"word_perplexity", "perplexity", "byte_perplexity"}

_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
          "\u00b1": r"\ensuremath{\pm}"}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX))


def latex(value) -> str:
    """Escape a string from data for LaTeX text mode (every special character)."""
    s = str(value).replace("\u2212", "-").replace("\u2013", "--")
    return _LATEX_RE.sub(lambda m: _LATEX[m.group()], s)


_SIGNED = re.compile(r"(?<![\w\\{])([-+][0-9]+(?:[,.][0-9]+)*(?:\\%)?)")


def latex_prose(value) -> str:
    """latex(), for text set in narrow wrapping cells: a sign stays with its number, and a
    line may break after a slash or an underscore (workload and repository names)."""
    s = _SIGNED.sub(r"\\mbox{\1}", latex(value))
    return s.replace("/", "/\\allowbreak{}").replace("\\_", "\\_\\allowbreak{}")


def latex_ident(value) -> str:
    """latex() for an identifier set in a narrow cell (\\texttt): it may break after a hyphen."""
    return latex(value).replace("-", "-\\allowbreak{}")


def slug(name) -> str:
    """A name safe in a file name, a LaTeX path, \\label or \\hypertarget: letters, digits, dot,
    colon, hyphen; any other character replaced, with a short hash of the name so that two names that
    differ only there stay apart ('a#b' and 'a%b')."""
    text = str(name)
    safe = re.sub(r"[^A-Za-z0-9.:-]", "-", text)
    if safe == text:
        return text
    import hashlib

    return f"{safe}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def md(value) -> str:
    """Escape a string for a Markdown table cell."""
    return str(value).replace("|", r"\|").replace("\n", " ")


def fmt_number(v, digits: int = 1, unit: str = "") -> str:
    """A claim's number (or (low, high) range, or list) with its digits and unit."""
    if v is None:
        return "--"
    if isinstance(v, tuple | list):
        if len(v) == 2:
            return f"{fmt_number(v[0], digits)} .. {fmt_number(v[1], digits)}{unit}"
        return ", ".join(fmt_number(x, digits) for x in v) + unit
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    s = f"{v:,.{digits}f}" if abs(v) >= 1000 else f"{v:.{digits}f}"
    return f"{s}{unit}"


def fmt_value(v: float, metric: str) -> str:
    if v != v:  # NaN
        return ""
    return f"{v:.2f}" if metric in PPL or v >= 10 else f"{v:.4f}"


def fmt_change(v: float, base: float) -> str:
    if base in (0, None) or v != v or base != base:
        return ""
    s = f"{100.0 * (v / base - 1.0):+.1f}%"
    return "0.0%" if s in ("+0.0%", "-0.0%") else s


def fmt_diff(rep: float, pub: float, metric: str) -> str:
    if rep != rep or pub != pub:
        return ""
    return f"{rep - pub:+.2f}" if metric in PPL or abs(pub) >= 10 else f"{rep - pub:+.4f}"


def improved(v: float, base: float, better: str) -> bool:
    """Better than the baseline by a change the table shows (a 0.0% change is not bold)."""
    if fmt_change(v, base) in ("", "0.0%"):
        return False
    return (v > base) if better == "higher" else (v < base)


def level_label(level: float) -> str:
    return "0% (baseline)" if level == 0 else f"{level:g}%"
