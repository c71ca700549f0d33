"""The embedded default: in-process LRU caches."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Bounded by a total cost (entries, or bytes when cost=len)."""

    def __init__(self, capacity: int, cost: Callable[[V], int] = lambda value: 1):
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


class MemoryCache:
    """The Cache interface over an LRU (no TTL: entries live until evicted or the process ends)."""

    def __init__(self, capacity: int, cost: Callable[[bytes], int] = lambda value: 1):
        from ganserve.cache import CacheStats

        self.lru: LRUCache[bytes] = LRUCache(capacity, cost)
        self.stats = CacheStats()

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        values = [self.lru.get(key) for key in keys]
        hits = sum(v is not None for v in values)
        self.stats.hits += hits
        self.stats.misses += len(values) - hits
        return values

    async def set_many(self, items: dict[str, bytes]) -> None:
        for key, value in items.items():
            self.lru.put(key, value)

    async def close(self) -> None:
        self.lru.entries.clear()
