"""Per-container layout cache, keyed on a container's structural content, never on ids.

A key holds what determines dot's result: child box sizes (and the border ports of expanded children),
the container's own ports, the edges between them, edge label sizes, the title width and the direction.
The 12 layers of BERT, once opened, have identical interiors and so share one entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class LayoutCache:
    """A bounded LRU map: structural key -> local layout of one container. Thread-safe."""

    def __init__(self, max_entries: int = 20_000):
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._data), "hits": self.hits, "misses": self.misses}


_default = LayoutCache()


def default_cache() -> LayoutCache:
    """The process-wide cache ``layout_view`` uses when it is given none."""
    return _default
