"""The jinja2 environment of every report template (repro/report/templates, inside the
package): delimiters that never clash with LaTeX, strict undefined names, the escaping filters."""

from __future__ import annotations

import functools
from pathlib import Path

from repro.report.formatting import latex, latex_ident, latex_prose, md, slug
from repro.report.queries import setting_label

TEMPLATES = Path(__file__).resolve().parent / "templates"


def chunks(text: str, width: int = 200, sep: str = "; ") -> list[str]:
    """A long "a; b; c" list cut into lines of about `width` characters, at the separators."""
    lines, line = [], ""
    for part in str(text).split(sep):
        if line and len(line) + len(sep) + len(part) > width:
            lines.append(line + sep.rstrip())
            line = part
        else:
            line = f"{line}{sep}{part}" if line else part
    return [*lines, line] if line else lines


def md_lines(text: str, width: int = 200, sep: str = "; ", indent: str = "    ") -> str:
    """Markdown-escaped text cut at its separators into lines of about `width` characters,
    continued at `indent` (inside a list item)."""
    return ("\n" + indent).join(md(line) for line in chunks(text, width, sep))


@functools.cache
def environment(templates: Path = TEMPLATES, html: bool = False):
    """The templates' environment; html=True escapes every value for HTML (report.html)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)), undefined=jinja2.StrictUndefined,
        # LaTeX uses { } and %: these delimiters never clash with it
        block_start_string="<%", block_end_string="%>", variable_start_string="<<",
        variable_end_string=">>", comment_start_string="<#", comment_end_string="#>",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=html)
    env.filters["latex"] = latex
    env.filters["prose"] = latex_prose
    env.filters["slug"] = slug
    env.filters["ident"] = latex_ident
    env.filters["mdlines"] = md_lines
    env.filters["md"] = md
    env.filters["setting"] = setting_label  # a claims row: ' (fast setting)' or ''
    return env
