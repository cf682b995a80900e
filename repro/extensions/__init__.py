"""The study's extensions, built on the evaluate stage (repro/config/extensions.yaml).

    replay.py       skip recomputing unpruned layers in a per-layer scan, exactly
    scan.py         cut one decoder layer; the kit's own perplexity of a text
    stage.py        the scan of one model: cells written with provenance, resumable
    sensitivity.py  `python -m repro sensitivity`
    grid.py         `python -m repro extensions`: the extensions table's rows through evaluate
"""
