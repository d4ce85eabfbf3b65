"""Bounded caches for every stage: ``cachetools.LRUCache`` behind a lock, each value computed once.

``Memo.get_or_make(key, make)`` computes a missing value once even when several threads ask for it at the
same time (the others wait for it): two app callbacks wanting the same 30522×768 overview read the tensor
once. Used by the layout cache, the app's view/matrix/statistics caches and the widget's caches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import LRUCache

_MISSING = object()


class Memo:
    """A thread-safe LRU map with at most ``size`` entries and single-flight computation."""

    def __init__(self, size: int):
        self.size = size
        self._data: LRUCache = LRUCache(maxsize=size)
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            value = self._data.get(key, _MISSING)
            if value is _MISSING:
                self.misses += 1
                return default
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        while True:
            with self._lock:
                value = self._data.get(key, _MISSING)
                if value is not _MISSING:
                    self.hits += 1
                    return value
                busy = self._making.get(key)
                if busy is None:
                    self.misses += 1
                    self._making[key] = threading.Event()
                    break
            busy.wait(60)  # someone else is computing it: wait, then look again
        try:
            value = make()
            with self._lock:
                self._data[key] = value
            return value
        finally:
            with self._lock:
                self._making.pop(key).set()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._data), "hits": self.hits, "misses": self.misses}
