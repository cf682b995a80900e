"""The dress rehearsal of the paper profile on a CPU, offline (`python -m repro rehearsal`):

    models.py     tiny random Llama models under the paper's names, in a hub cache
    standins.py   stand-in documents in each task's dataset schema and splits
    sandbox.py    the two substitutions wired into the stages' environment
    cli.py        runs the paper profile's stages, then check.py judges what came out
"""
