"""A small in-memory map with a time to live, for what channels keep briefly (retries, files)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class Expiring:
    """A small in-memory map with a time to live, bounded in entries and bytes (oldest out)."""

    def __init__(self, ttl: float, max_items: int, max_bytes: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl, self.max_items, self.max_bytes, self.clock = ttl, max_items, max_bytes, clock
        self._items: OrderedDict[str, tuple[float, int, Any]] = OrderedDict()
        self._bytes = 0

    def put(self, key: str, value: Any, size: int = 0) -> None:
        self._drop(key)
        self._items[key] = (self.clock() + self.ttl, size, value)
        self._bytes += size
        self._prune()

    def get(self, key: str) -> Any | None:
        self._prune()
        item = self._items.get(key)
        return None if item is None else item[2]

    def pop(self, key: str) -> Any | None:
        """The value, removed (None when absent or expired)."""
        value = self.get(key)
        self._drop(key)
        return value

    def drop_where(self, test: Callable[[Any], bool]) -> int:
        """Remove every entry whose value passes `test`; how many."""
        keys = [k for k, (_, _, v) in self._items.items() if test(v)]
        for k in keys:
            self._drop(k)
        return len(keys)

    def __len__(self) -> int:
        self._prune()
        return len(self._items)

    def _drop(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._bytes -= item[1]

    def _prune(self) -> None:
        now = self.clock()
        while self._items:
            key, (expires, _, _) = next(iter(self._items.items()))
            too_many = len(self._items) > self.max_items
            too_big = self.max_bytes is not None and self._bytes > self.max_bytes
            if expires > now and not too_many and not too_big:
                break  # insertion order is expiry order (one ttl for all)
            self._drop(key)
