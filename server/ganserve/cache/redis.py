"""The cache in Redis: shared by every gateway, bounded by Redis' maxmemory and allkeys-lru, with TTLs.

Every call has a budget (GANSERVE_REDIS_TIMEOUT_MS). A failure or a call past it counts as a miss,
and after a few in a row the circuit opens: lookups skip Redis entirely until a trial call
succeeds. Writes go in the background, so a slow Redis never delays a response.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ganserve.cache import CacheStats
from ganserve.cache.breaker import CircuitBreaker
from ganserve.settings import Settings

log = logging.getLogger("ganserve.cache")
MAX_PENDING_WRITES = 256  # past this, new writes are dropped rather than queued


def connect(settings: Settings) -> aioredis.Redis:
    """A client of GANSERVE_REDIS_URL (which must be set)."""
    if not settings.redis_url:
        raise ValueError("GANSERVE_REDIS_URL is not set")
    timeout = settings.redis_timeout_ms / 1000
    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry_on_timeout=False,
        health_check_interval=0,
    )


class RedisCache:
    def __init__(self, client: aioredis.Redis, ttl_s: int, budget_s: float, breaker: CircuitBreaker, owns_client: bool = False):
        self.client, self.ttl_s, self.budget_s, self.owns_client = client, ttl_s, budget_s, owns_client
        self.breaker = breaker  # one per Redis server, shared by the caches that use it
        self.stats = CacheStats()
        self.pending: set[asyncio.Task] = set()

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        if not keys:
            return []
        if not self.breaker.allow():
            self.stats.bypassed += len(keys)
            return [None] * len(keys)
        try:
            async with asyncio.timeout(self.budget_s):
                values = await self.client.mget(keys)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return [None] * len(keys)
        self.breaker.success()
        hits = sum(v is not None for v in values)
        self.stats.hits += hits
        self.stats.misses += len(values) - hits
        return values

    async def set_many(self, items: dict[str, bytes]) -> None:
        if not items or self.breaker.is_open or len(self.pending) >= MAX_PENDING_WRITES:
            return
        task = asyncio.get_running_loop().create_task(self._write(items))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _write(self, items: dict[str, bytes]) -> None:
        try:
            async with asyncio.timeout(self.budget_s):
                async with self.client.pipeline(transaction=False) as pipe:
                    for key, value in items.items():
                        pipe.set(key, value, ex=self.ttl_s)
                    await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.stats.errors += 1
        was_open = self.breaker.is_open
        self.breaker.failure()
        if self.breaker.is_open and not was_open:
            log.warning("Redis cache unavailable (%s): bypassing it for %.1f s", exc or type(exc).__name__, self.breaker.reset_s)

    async def close(self) -> None:
        for task in list(self.pending):
            task.cancel()
        if self.owns_client:
            await self.client.aclose()
