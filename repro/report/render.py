"""`python -m repro tables`: every table, figure and the claims report, regenerated from data/.

    python -m repro tables --data data --out paper/generated

writes tables/*.tex (booktabs, one per paper table), figures/*.pdf and *.png, claims.{md,tex,json},
digest.tex, report.html (the whole report in one page: html.py), analysis/, and models.tex and
extensions.tex (every other model's tables and figures, the sensitivity scans and the extensions
table, by model: repro/report/extensions.py), as one set: built beside --out, then swapped in
(publish.py), so that an interrupted run leaves the old set whole. Metrics per task come from
repro/config/metrics.yaml. When data/ also holds
`source=reproduction` rows, each table shows the published value, the reproduced one and their
difference, and the claims report evaluates both (paired tests from its per-document scores,
<run_id>.samples.csv.gz, where aggregate wrote them). Output is byte-identical across reruns (no
timestamps, fixed fonts and hash salt, sorted inputs). Needs no torch: numpy, pandas, scipy,
jinja2, matplotlib and pyyaml only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from repro.core.atomicio import write_text
from repro.report import figures
from repro.report.analysis import add_data_options, write_analysis
from repro.report.claims.console import evaluate_and_write
from repro.report.extensions import write_sections
from repro.report.formatting import slug
from repro.report.html import write_html
from repro.report.publish import prepare, publish
from repro.report.queries import current
from repro.report.tables import all_tables
from repro.report.templating import environment
from repro.results.samples import load_samples
from repro.results.schema import load_dir

log = logging.getLogger("repro.render")


def render(data: str | Path, out: str | Path) -> int:
    t0 = time.perf_counter()
    out = prepare(out)  # checked before any work
    df = current(load_dir(data))
    mark = rehearsal_mark(df)
    samples = load_samples(data)
    env = environment()
    tmpl = env.get_template("table.tex.j2")
    with publish(out) as stage:
        for name, table in sorted(all_tables(df).items()):
            if mark:
                table = {**table, "caption": f"{mark}: {table['caption']}"}
            write_text(stage / "tables" / f"{slug(name)}.tex", tmpl.render(table=table))
        write_sections(df, stage)  # models.tex, extensions.tex: what report.tex does not name
        write_analysis(df, stage)
        figures.draw_all(df, stage / "figures")  # marks its figures itself
        status, ctx = evaluate_and_write(df, stage, samples)
        write_html(stage, ctx)
        if mark:
            stamp(stage)
    log.info("tables, figures, claims and report.html written to %s in %.2f s", out,
             time.perf_counter() - t0)
    return status


def rehearsal_mark(df) -> str:
    """REHEARSAL when the data holds a rehearsal's rows (repro/core/rehearsal.py), which are
    never mixed with a real reproduction's; else ''."""
    from repro.core import rehearsal
    from repro.core.errors import ReproError

    marked = df.run_id.map(rehearsal.is_rehearsal_run)
    if not marked.any():
        return ""
    real = df[~marked & (df.source == "reproduction")]
    if len(real):
        raise ReproError(f"the data mixes a rehearsal's rows with a real reproduction's (run "
                         f"{sorted(set(real.run_id))[0]}); keep them in separate --data folders")
    return rehearsal.MARK


def stamp(out: Path) -> None:
    """A rehearsal's mark at the top of every text file the report wrote, report.html included
    (tables are marked in their captions too, figures across their face; CSV rows carry the run
    id REHEARSAL)."""
    import html
    import json

    from repro.core import rehearsal

    banner = f'<p class="rehearsal"><strong>{html.escape(rehearsal.NOTE)}</strong></p>'
    for path in sorted(p for p in out.rglob("*") if p.suffix in (".md", ".tex", ".json", ".html")):
        text = path.read_text(encoding="utf-8")
        if (text.startswith(("> **REHEARSAL", "% REHEARSAL")) or '"rehearsal"' in text[:200]
                or banner in text):
            continue  # marked already
        if path.suffix == ".html":
            text = text.replace("<body>", f"<body>\n{banner}", 1)
        elif path.suffix == ".md":
            text = f"> **{rehearsal.NOTE}**\n\n{text}"
        elif path.suffix == ".tex":
            text = f"% {rehearsal.NOTE}\n\\noindent\\textbf{{{rehearsal.MARK}}}\\par\n{text}"
        else:
            data = json.loads(text)
            data = ([{**r, "rehearsal": rehearsal.NOTE} if isinstance(r, dict) else r for r in data]
                    if isinstance(data, list) else {"rehearsal": rehearsal.NOTE, **data})
            text = json.dumps(data, indent=1) + "\n"
        write_text(path, text)


def configure(parser) -> None:
    add_data_options(parser)


def run(args) -> int:
    return render(args.data, args.out)
