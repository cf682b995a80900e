"""The study's extensions, built on the evaluate stage (repro/config/extensions.yaml).

    replay.py       skip recomputing unpruned layers in a per-layer scan, exactly
    scan.py         cut one decoder layer; the kit's own perplexity of a text
    stage.py        the scan as a grid stage (repro/grid's executor): one layer cut, both tasks
    sensitivity.py  `sensitivity()` and `python -m repro sensitivity`
    grid.py         `extensions()` and `python -m repro extensions`: the table's rows through evaluate
"""
