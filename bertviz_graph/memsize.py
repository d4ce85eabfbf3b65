"""Approximate memory held by a cached value, so server caches can be bounded in bytes, not entries."""

from __future__ import annotations

import sys
from typing import Any

_ATOMS = (int, float, bool, complex, type(None))


def approx_bytes(value: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Bytes of ``value`` and what it references (containers, dataclasses, numpy arrays, plotly figures),
    each object counted once. An estimate: it is what bounds the caches, so it errs on the large side."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value, 64)
    if isinstance(value, _ATOMS) or isinstance(value, (str, bytes, bytearray)) or _depth > 12:
        return size
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):  # numpy arrays, torch tensors (getsizeof counts owned data, not views')
        return nbytes + 128
    to_plotly = getattr(value, "to_plotly_json", None)
    if callable(to_plotly) and not isinstance(value, dict):  # plotly figures and Dash components
        value = to_plotly()
    d = _depth + 1
    if isinstance(value, dict):
        return size + sum(approx_bytes(k, seen, d) + approx_bytes(v, seen, d) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return size + sum(approx_bytes(v, seen, d) for v in value)
    fields = getattr(value, "__dict__", None)
    if fields is not None:
        size += approx_bytes(fields, seen, d)
    for slot in getattr(type(value), "__slots__", ()):
        if hasattr(value, slot):
            size += approx_bytes(getattr(value, slot), seen, d)
    return size
