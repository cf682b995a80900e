"""Stage 1 of the paper: width pruning of GLU MLPs.

    glu.py       find every decoder layer's GLU MLP, or say why a model has none
    criteria.py  neuron scores (maw/ppm, vow, pon as optipfair 0.2.0; l2 as 0.2.4; random; activation)
    hybrid.py    optipfair 0.2.0's data-driven hybrid score and its activation hook, bit for bit
    allocation.py  non-uniform widths: the uniform budget shared by spareK or OWL (no torch)
    allocator.py   an allocation's per-layer widths from its inputs (scan, outlier ratios), for
                   prune and the grid stages alike
    owl.py       OWL's layer outlier ratios
    widths.py    kept widths: optipfair's keep count, expansion ratios, alignment (no torch)
    ranking.py   one ranking per model and criterion; the tie-break rules
    apply.py     cut a ranking at a target: a pruned copy sharing untouched tensors
    save.py      the output folder and its sidecar record
    cli.py       `prune_model()` and `python -m repro prune`
(the names of criteria, allocations and tie-breaks: repro/core/pruning.py)
"""
