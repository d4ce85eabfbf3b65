"""Per-container layout cache, keyed on a container's structural content, never on ids.

A key holds what determines dot's result: child box sizes (and the border ports of expanded children),
the container's own ports, the edges between them, edge label sizes, the title width and the direction.
The 12 layers of BERT, once opened, have identical interiors and so share one entry.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

from bertviz_graph.memsize import approx_bytes


class LayoutCache:
    """A bounded LRU map: structural key -> local layout of one container. Thread-safe.

    Bounded in entries and in bytes (key + value, ``approx_bytes``), so a server cannot grow past
    ``max_bytes`` however many different views its users open."""

    def __init__(self, max_entries: int = 20_000, max_bytes: int = 128 * 1024**2):
        from cachetools import LRUCache

        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data = LRUCache(maxsize=max_bytes, getsizeof=lambda entry: entry[1])
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: Any) -> None:
        nbytes = approx_bytes(key) + approx_bytes(value)
        if nbytes > self.max_bytes:
            return
        with self._lock:
            self._data[key] = (value, nbytes)
            while len(self._data) > self.max_entries:
                self._data.popitem()

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._data), "bytes": int(self._data.currsize), "hits": self.hits,
                "misses": self.misses}


_default = LayoutCache()


def default_cache() -> LayoutCache:
    """The process-wide cache ``layout_view`` uses when it is given none."""
    return _default
