"""In-process LRU caches: mapped w vectors and encoded images of deterministic requests.

Keys include the model digest, so a new model version never serves stale entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Bounded by a total cost (entries, or bytes when cost=len)."""

    def __init__(self, capacity: int, cost=lambda value: 1):
        self.capacity, self.cost = capacity, cost
        self.entries: OrderedDict[Hashable, V] = OrderedDict()
        self.total = 0
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> V | None:
        value = self.entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self.entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        cost = self.cost(value)
        if cost > self.capacity:
            return
        if key in self.entries:
            self.total -= self.cost(self.entries.pop(key))
        self.entries[key] = value
        self.total += cost
        while self.total > self.capacity:
            _, evicted = self.entries.popitem(last=False)
            self.total -= self.cost(evicted)
