"""Per-caller rate limits on requests and on images, with the `limits` library (moving windows).

A limit of R per second with a burst of GANSERVE_RATE_LIMIT_BURST_S seconds allows R × burst_s in
any window of burst_s seconds: a caller may send that many at once, then R per second on average.
The counters live in Redis (the cache instance: they are short-lived) when GANSERVE_REDIS_URL is
set, so that every gateway counts the same caller together; in process otherwise. When Redis fails,
each gateway counts on its own until it is back: limits are loosened, requests never fail for it.
"""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from ganserve.errors import InvalidInput, RateLimited
from ganserve.settings import Settings

log = logging.getLogger("ganserve.access")

PREFIX = "ganserve:ratelimit"


def _item(per_second: int, burst_s: int) -> RateLimitItem | None:
    return RateLimitItemPerSecond(per_second * burst_s, burst_s) if per_second else None


class RateLimits:
    def __init__(self, settings: Settings):
        burst_s = settings.rate_limit_burst_s
        self.limits = {
            "requests": _item(settings.rate_limit_requests_per_s, burst_s),
            "images": _item(settings.rate_limit_images_per_s, burst_s),
        }
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.shared: MovingWindowRateLimiter | None = None
        self.pool: aioredis.ConnectionPool | None = None
        if settings.redis_url and any(self.limits.values()):
            timeout_s = settings.redis_timeout_ms / 1000
            # Our own pool (redis-py, as the cache), so that closing the gateway closes its connections.
            self.pool = aioredis.ConnectionPool.from_url(settings.redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
            storage = RedisStorage(
                "async+" + settings.redis_url, implementation="redispy", wrap_exceptions=True, key_prefix=PREFIX, connection_pool=self.pool
            )
            self.shared = MovingWindowRateLimiter(storage)

    async def _hit(self, item: RateLimitItem, kind: str, who: str, cost: int) -> tuple[bool, MovingWindowRateLimiter]:
        if self.shared is not None:
            try:
                return await self.shared.hit(item, kind, who, cost=cost), self.shared
            except Exception as exc:  # limits wraps every storage failure: Redis down, slow, out of memory...
                log.warning("rate limits: Redis failed (%s); counting in this process", exc)
        return await self.local.hit(item, kind, who, cost=cost), self.local

    async def charge(self, who: str, kind: str, cost: int) -> None:
        """Count `cost` requests or images for `who`; RateLimited when over, and then nothing is counted."""
        item = self.limits[kind]
        if item is None or cost <= 0:
            return
        name = "GANSERVE_RATE_LIMIT_REQUESTS_PER_S" if kind == "requests" else "GANSERVE_RATE_LIMIT_IMAGES_PER_S"
        if cost > item.amount:  # could never pass: waiting would not help
            raise InvalidInput(
                "body", f"this request makes {cost} {kind}, more than a burst of the rate limit allows ({item.amount}, {name})"
            )
        allowed, limiter = await self._hit(item, kind, who, cost)
        if allowed:
            return
        try:
            stats = await limiter.get_window_stats(item, kind, who)
            reset_at, remaining = stats.reset_time, stats.remaining
        except Exception:  # the window is unknown: one window from now is always enough
            reset_at, remaining = time.time() + item.get_expiry(), 0
        wait_s = max(1, math.ceil(reset_at - time.time()))
        per_second = item.amount // item.get_expiry()
        headers = {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(wait_s),
            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
        }
        message = f"rate limit: {per_second} {kind} per second, bursts of {item.amount} ({name}); retry in {wait_s} s"
        raise RateLimited(message, wait_s, headers)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
