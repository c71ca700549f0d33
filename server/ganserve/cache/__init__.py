"""Caches of computed results: mapped w vectors and encoded images of deterministic requests.

A cache entry may vanish at any time, so every caller recomputes on a miss. The cache is
in-process (an LRU) by default, or Redis with GANSERVE_REDIS_URL. With Redis, a failing or slow
server is bypassed within GANSERVE_REDIS_TIMEOUT_MS, and a circuit breaker stops trying on every
request until Redis answers again: generation never fails because of the cache.
Keys carry the model name and version, so a new model version never serves stale entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ganserve.settings import Settings


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0  # Redis calls that failed or ran past the budget
    bypassed: int = 0  # lookups skipped while the circuit was open


class Cache(Protocol):
    """Bytes by string key."""

    stats: CacheStats

    async def get_many(self, keys: list[str]) -> list[bytes | None]: ...

    async def set_many(self, items: dict[str, bytes]) -> None:
        """May return before the write lands (Redis writes in the background)."""

    async def close(self) -> None: ...


def make_caches(settings: Settings) -> tuple[Cache, Cache]:
    """(w cache, image cache)."""
    if settings.redis_url:
        from ganserve.cache.breaker import CircuitBreaker
        from ganserve.cache.redis import RedisCache, connect

        client, budget_s = connect(settings), settings.redis_timeout_ms / 1000
        breaker = CircuitBreaker(settings.redis_breaker_failures, settings.redis_breaker_reset_s)
        return (
            RedisCache(client, settings.w_cache_ttl_s, budget_s, breaker, owns_client=True),
            RedisCache(client, settings.image_cache_ttl_s, budget_s, breaker),
        )
    from ganserve.cache.memory import MemoryCache

    return MemoryCache(settings.w_cache_entries), MemoryCache(settings.image_cache_bytes, cost=len)


def cache_key(model: str, version: str, kind: str, *parts: object) -> str:
    """ganserve:v1:<model>:<version>:<kind>:...: a new model version never reads an old entry."""
    return ":".join(["ganserve", "v1", model, version[:16], kind, *map(str, parts)])
