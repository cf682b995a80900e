"""The report: tables, figures, the claims verdicts and report.html, from the tidy data alone
(never torch).

    queries.py       one run per cell, a task's values by level, the metric a table reports
    analysis.py      relative changes and correlations (`python -m repro analyze`)
    formatting.py    LaTeX/Markdown escaping, safe names for paths and labels, number formats
    templating.py    the jinja2 environments over templates/ (shipped inside the package)
    tables.py        the paper's tables as data for templates/table.tex.j2
    figures.py       the figures (matplotlib, byte-identical reruns); figure_style.py: one
                     colour per task, 95% bands, labels that do not overlap
    confounds.py     what the published efficiency rows were measured on, said everywhere
    claims/          every claim checked, the digest (`python -m repro claims`)
    html.py          report.html: the whole report in one self-contained page
    publish.py       an output set staged beside --out, then swapped in whole
    render.py        all of it at once (`python -m repro tables`)
"""
