import asyncio
import time

import numpy as np
import pytest

from ganserve.cache import cache_key, make_caches
from ganserve.cache.breaker import CircuitBreaker
from ganserve.cache.codec import decode_array, encode_array
from ganserve.cache.memory import LRUCache
from ganserve.settings import Settings
from ganserve_bench.processes import RedisServer


def test_lru_evicts_least_recently_used_and_counts():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1 and cache.get("c") == 3
    assert (cache.hits, cache.misses) == (3, 1)


def test_byte_bounded_cache():
    cache = LRUCache(10, cost=len)
    cache.put("x", b"12345678")
    cache.put("y", b"123")
    assert cache.get("x") is None and cache.total == 3
    cache.put("huge", b"x" * 11)  # larger than the whole cache: not stored
    assert cache.get("huge") is None and cache.get("y") == b"123"


# -- the Cache interface, in memory and in a real redis-server ------------------------------------


def test_codec_round_trips_float32_bit_exactly_and_says_what_it_is():
    array = np.random.RandomState(0).randn(10, 256).astype(np.float32)
    data = encode_array(array)
    assert data.startswith(b"<f4|10,256|") and b"pickle" not in data
    np.testing.assert_array_equal(decode_array(data), array)
    with pytest.raises(ValueError):
        decode_array(b"<f8|2|" + b"\0" * 16)


def test_breaker_opens_after_failures_then_lets_one_trial_through():
    breaker = CircuitBreaker(failures=2, reset_s=0.05)
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.is_open and not breaker.allow()
    time.sleep(0.06)
    assert breaker.allow() and not breaker.allow()  # one trial, the rest still wait
    breaker.success()
    assert not breaker.is_open and breaker.allow()


def test_keys_are_versioned():
    assert cache_key("m", "a" * 64, "w", 1, None) != cache_key("m", "b" * 64, "w", 1, None)
    assert cache_key("m", "a" * 64, "w", 1, None).startswith("ganserve:v1:m:aaaaaaaaaaaaaaaa:w:")


@pytest.fixture(scope="module")
def redis_cache_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-cache"), durable=False).start()
    yield server
    server.stop()


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_hits_misses_and_writes(backend, redis_cache_server):
    settings = Settings(redis_url=redis_cache_server.url if backend == "redis" else None)
    w_cache, image_cache = make_caches(settings)
    key = cache_key("demo", "0" * 64, "img", backend)
    assert await image_cache.get_many([key]) == [None]
    await image_cache.set_many({key: b"png bytes"})
    await _settle(image_cache)
    assert await image_cache.get_many([key, key + "x"]) == [b"png bytes", None]
    assert (image_cache.stats.hits, image_cache.stats.misses, image_cache.stats.errors) == (1, 2, 0)
    await image_cache.close()
    await w_cache.close()


async def test_redis_down_is_a_fast_miss_then_bypassed_then_recovers(tmp_path):
    server = RedisServer(tmp_path, durable=False).start()
    settings = Settings(redis_url=server.url, redis_timeout_ms=50, redis_breaker_failures=2, redis_breaker_reset_s=0.2)
    w_cache, image_cache = make_caches(settings)
    try:
        await image_cache.set_many({"k": b"v"})
        await _settle(image_cache)
        server.kill()
        started = time.monotonic()
        for _ in range(5):
            assert await image_cache.get_many(["k"]) == [None]
        assert time.monotonic() - started < 2  # within the budget, never hanging on a dead server
        assert image_cache.stats.errors == 2 and image_cache.stats.bypassed == 3  # the circuit opened after 2
        server.start()
        deadline = time.monotonic() + 5
        while await image_cache.get_many(["k2"]) == [None] and image_cache.stats.misses == 0:
            assert time.monotonic() < deadline, "the cache did not come back"
            time.sleep(0.05)
        await image_cache.set_many({"k3": b"v3"})
        await _settle(image_cache)
        assert await image_cache.get_many(["k3"]) == [b"v3"]
    finally:
        await image_cache.close()
        await w_cache.close()
        server.stop()


async def _settle(cache) -> None:
    """Redis writes go in the background: wait for them."""
    pending = list(getattr(cache, "pending", ()))
    if pending:
        await asyncio.gather(*pending)
