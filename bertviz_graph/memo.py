"""Bounded caches for every stage: ``cachetools.LRUCache`` behind a lock, each value computed once.

``Memo.get_or_make(key, make)`` computes a missing value once even when several threads ask for it at the
same time (the others wait for it): two app callbacks wanting the same 30522×768 overview read the tensor
once. A memo is bounded in entries and, given ``max_bytes``, in bytes too (``memsize.approx_bytes`` of key
and value), so a server cannot grow past its budget however many views its users open; a value larger than
the whole budget is returned but not kept. Used by the layout cache, the app's caches and the widget's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import LRUCache

from bertviz_graph.memsize import approx_bytes

_MISSING = object()


class Memo:
    """A thread-safe LRU map: at most ``size`` entries (and ``max_bytes`` bytes), single-flight computation."""

    def __init__(self, size: int, max_bytes: int | None = None):
        self.size = size
        self.max_bytes = max_bytes
        if max_bytes is None:
            self._data: LRUCache = LRUCache(maxsize=size)
        else:
            self._data = LRUCache(maxsize=max_bytes, getsizeof=lambda entry: entry[1])
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def _lookup(self, key: Hashable) -> Any:
        # one lookup (cachetools' get() asks "in" first: one more hash and compare of a key that can be a tuple
        # of thousands of fields, ~2 ms of a deep click); [] marks it recently used
        try:
            entry = self._data[key]
        except KeyError:
            return _MISSING
        return entry if self.max_bytes is None else entry[0]

    def _store(self, key: Hashable, value: Any) -> None:
        if self.max_bytes is None:
            self._data[key] = value
            return
        nbytes = self.entry_bytes(key, value)
        if nbytes > self.max_bytes:
            return
        self._data[key] = (value, nbytes)
        while len(self._data) > self.size:
            self._data.popitem()

    def entry_bytes(self, key: Hashable, value: Any) -> int:
        """Bytes an entry holds (``approx_bytes`` of both); a memo whose keys are big and regular may say it
        cheaper (the layout cache: walking a 48-layer stack's key cost ~20 ms per cold click)."""
        return approx_bytes(key) + approx_bytes(value)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            value = self._lookup(key)
            if value is _MISSING:
                self.misses += 1
                return default
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._store(key, value)

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        while True:
            with self._lock:
                value = self._lookup(key)
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
                self._store(key, value)
            return value
        finally:
            with self._lock:
                self._making.pop(key).set()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """Bytes held (0 when the memo is bounded in entries only)."""
        return int(self._data.currsize) if self.max_bytes is not None else 0

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._data), "bytes": self.nbytes, "hits": self.hits, "misses": self.misses}
