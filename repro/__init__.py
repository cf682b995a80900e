"""repro: reproducibility kit for the GLU width-pruning study of Llama-3.2 (arXiv 2512.22671).

Stages, one module each: prune -> evaluate -> efficiency -> analyze -> render.
Run `python -m repro --help` for the command line.
"""

__version__ = "0.1.0"
