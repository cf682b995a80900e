"""The grid stages' one executor (executor.py) and their shared options (options.py).

evaluate, neuron-selection, sensitivity, extensions and efficiency each say what they measure
on one pruned model (a repro.grid.executor.GridStage); the executor plans, shards, claims,
loads, ranks, prunes, checks freshness, writes atomically, waits for other runners and
summarises, once for all of them.
"""
