"""A thread-safe LRU cache, for results kept per index version (cachetools' LRU)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import LRUCache


class LRU:
    """At most ``size`` units of entries, each weighing ``weigh(value)`` units (one by
    default); the least recently used go first. An entry heavier than the whole cache is
    not kept."""

    def __init__(self, size: int, weigh: Callable[[Any], int] | None = None) -> None:
        self.size = size
        self.data: LRUCache[Hashable, Any] = LRUCache(maxsize=size, getsizeof=weigh)
        self.lock = threading.Lock()
        self.hits = self.misses = 0  # lookups since the cache was made

    def get(self, key: Hashable) -> Any:
        with self.lock:
            value = self.data.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self.lock:
            try:
                self.data[key] = value
            except ValueError:  # heavier than the whole cache
                self.data.pop(key, None)
