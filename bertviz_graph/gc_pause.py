"""Pause Python's cyclic garbage collector around a click's allocation-heavy work (view, layout, SVG).

A click at 48 layers allocates ~10^5 short-lived objects beside a heap of millions (the traced graph, its
hierarchy, the caches); the collections those allocations trigger walk that heap again and again (with the
SVG's batched numbers: 0.71-0.80x the CPU of a depth-5 48-layer click, benchmarks/click_bench.py). Layout and
SVG make no reference cycles, so reference counting frees their garbage anyway; the collector runs again
when the last pause ends.

The pause is counted across threads (two tabs' clicks overlap: the collector comes back after both), and a
collector someone else turned off stays off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = [0, False]  # pauses in progress (any thread), whether the collector was on when the first began


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off; nested and concurrent pauses are counted."""
    with _lock:
        if _active[0] == 0:
            _active[1] = gc.isenabled()
            gc.disable()
        _active[0] += 1
    try:
        yield
    finally:
        with _lock:
            _active[0] -= 1
            if _active[0] == 0 and _active[1]:
                gc.enable()
