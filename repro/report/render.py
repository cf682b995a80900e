"""`python -m repro tables`: every table, figure and the claims report, regenerated from data/.

    python -m repro tables --data data --out paper/generated

writes tables/*.tex (booktabs, one per paper table), figures/*.pdf and *.png, claims.{md,tex,json},
analysis/, and models.tex and extensions.tex (every other model's tables and figures, the
sensitivity scans and the extensions table, by model: repro/report/extensions.py). Metrics per task come from repro/config/metrics.yaml. When data/ also holds
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
from repro.report.analysis import add_data_options, prepare_out, write_analysis
from repro.report.claims import run_claims
from repro.report.extensions import write_sections
from repro.report.queries import current
from repro.report.tables import all_tables
from repro.report.templating import environment
from repro.results.samples import load_samples
from repro.results.schema import load_dir

log = logging.getLogger("repro.render")


def render(data: str | Path, out: str | Path) -> int:
    t0 = time.perf_counter()
    out = prepare_out(out)
    df = current(load_dir(data))
    mark = rehearsal_mark(df)
    env = environment()
    tmpl = env.get_template("table.tex.j2")
    for name, table in sorted(all_tables(df).items()):
        if mark:
            table = {**table, "caption": f"{mark}: {table['caption']}"}
        write_text(out / "tables" / f"{name}.tex", tmpl.render(table=table))
    write_sections(df, out)  # models.tex, extensions.tex: what report.tex does not name
    write_analysis(df, out)
    figures.draw_all(df, out / "figures")  # marks its figures itself
    status = run_claims(df, out, load_samples(data))
    if mark:
        stamp(out)
    log.info("tables, figures and claims written to %s in %.2f s", out, time.perf_counter() - t0)
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
    """A rehearsal's mark at the top of every text file the report wrote (tables are marked
    in their captions too, figures across their face; CSV rows carry the run id REHEARSAL)."""
    import json

    from repro.core import rehearsal

    for path in sorted(p for p in out.rglob("*") if p.suffix in (".md", ".tex", ".json")):
        text = path.read_text(encoding="utf-8")
        if text.startswith(("> **REHEARSAL", "% REHEARSAL")) or '"rehearsal"' in text[:200]:
            continue  # marked by an earlier stamp (an interrupted run)
        if path.suffix == ".md":
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
