"""Canonical JSON, the one way the kit hashes a record: keys sorted, anything JSON cannot hold
written as its str(). Two spacings, because hashes already recorded in results were taken with
each: `compact` (cell payloads) and json's default spacing (task configs, sensitivity records,
random-weight shapes); a hash a cell recorded never changes."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any, *, compact: bool = True) -> bytes:
    separators = (",", ":") if compact else None
    return json.dumps(obj, sort_keys=True, separators=separators, default=str).encode()


def sha256_json(obj: Any, *, compact: bool = True) -> str:
    return hashlib.sha256(canonical_json(obj, compact=compact)).hexdigest()
