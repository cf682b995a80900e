"""Stage 3 of the paper, its cost: latency, throughput and energy per token per pruning level.

    workloads.py       the workloads efficiency.yaml names; a cell's variant label
    prompts.py         synthetic and dataset prompts, padding, token counting
    generation.py      greedy generation of an exact token count, prefill and decode timed
    timing.py          synchronised timed regions, repetitions and their statistics
    energy.py          NVML's energy counter, idle power subtracted
    bench.py           what every workload shares; rows from repetitions
    corrected.py       the corrected protocol
    paper_protocol.py  the paper's protocol, with real token counts beside its own
    grid.py            the cells of a model, and the grid stage that measures them
    cli.py             `efficiency()` and `python -m repro efficiency`
"""
