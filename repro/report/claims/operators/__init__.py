"""Claim operators: how each claims.yaml `op` is judged, one object per op (see base.py).

    numeric.py   ~  >=  <=  in  any          a number against the stated one(s)
    effects.py   worse  better  degrades      a significant change (and a dose-response)
    absence.py   not_worse  not_better  stable   no change beyond a margin (equivalence)
    shape.py     increasing  rising  falling  exponential  proportional  recovers
    compare.py   undominated  worse_than  worst    parts against each other
"""

from repro.core.errors import ReproError
from repro.report.claims.operators import absence, compare, effects, numeric, shape  # noqa: F401
from repro.report.claims.operators.base import (
    FAILS,
    HOLDS,
    NO_RULE,
    REGISTRY,
    UNDERPOWERED,
    Operator,
    Outcome,
)


def operator(name: str) -> Operator:
    """The operator of a claims.yaml `op` (every module above has registered its own)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ReproError(f"claims.yaml: unknown op '{name}'; use one of "
                         f"{', '.join(sorted(REGISTRY))} (repro claims --help)") from None


__all__ = ["FAILS", "HOLDS", "NO_RULE", "REGISTRY", "UNDERPOWERED", "Operator", "Outcome", "operator"]
