"""Per-container layout cache, keyed on a container's structural content, never on ids.

A key holds what determines dot's result: child box sizes (and the border ports of expanded children),
the container's own ports, the edges between them, edge label sizes, the title width and the direction.
The 12 layers of BERT, once opened, have identical interiors and so share one entry.

There is one cache per process (``default_cache()``): the app, the widget, ``export`` and the Python API
all lay out through it, so a layout computed by one is reused by the others. It is bounded in entries and
in bytes (key + value, ``approx_bytes``), so a server cannot grow past ``max_bytes``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from bertviz_graph.memo import Memo
from bertviz_graph.memsize import approx_bytes


class LayoutCache(Memo):
    """A bounded LRU map: structural key -> local layout of one container. Thread-safe."""

    def __init__(self, max_entries: int = 20_000, max_bytes: int = 128 * 1024**2):
        super().__init__(max_entries, max_bytes=max_bytes)

    @property
    def max_entries(self) -> int:
        return self.size

    def entry_bytes(self, key: Hashable, value: Any) -> int:
        structural = isinstance(key, tuple) and len(key) > 5 and isinstance(key[2], tuple) and isinstance(key[5], tuple)
        # a LocalLayout says its own size (its nbytes); a key of another shape is walked
        return (key_bytes(key) if structural else approx_bytes(key)) + approx_bytes(value)


def key_bytes(key: Any) -> int:
    """``approx_bytes`` of a structural key (pieces.Builder.key) from its counts, erring large (tested): the
    walk itself cost ~20 ms on a 48-layer stack's key, once per cold click."""
    kids, pieces = key[2], key[5]
    borders = sum(len(k[2]) + len(k[3]) for k in kids if len(k) == 4)
    return 512 + 144 * len(kids) + 72 * borders + 460 * len(pieces)


_default = LayoutCache()


def default_cache() -> LayoutCache:
    """The process-wide cache ``layout_view`` uses when it is given none."""
    return _default
