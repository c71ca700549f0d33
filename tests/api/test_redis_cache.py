"""The gateway with its cache in a real redis-server: hits, version isolation, and Redis killed and
restarted under a stream of requests with zero failed generations."""

import asyncio
import time

import httpx
import pytest
import redis

from ganserve.api.app import create_app
from ganserve_bench.processes import RedisServer

URL = "/v1/models/demo64/seeds"


@pytest.fixture
def redis_cache(tmp_path):
    server = RedisServer(tmp_path / "redis", durable=False).start()
    yield server
    server.stop()


def metric(text: str, series: str) -> float:
    return float(next(line for line in text.splitlines() if line.startswith(series + " ")).split()[-1])


def cache_lookups(text: str, cache: str, result: str) -> float:
    return metric(text, f'ganserve_cache_lookups_total{{cache="{cache}",result="{result}"}}')


async def started(app):
    return app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_repeated_seeds_come_from_redis(settings, redis_cache):
    app = create_app(settings.model_copy(update={"redis_url": redis_cache.url}))
    lifespan, client = await started(app)
    async with lifespan, client:
        first = await client.get(f"{URL}/123.png")
        await asyncio.sleep(0.1)  # cache writes go in the background
        pipeline = app.state.ganserve.pipelines["demo64"]
        mapping_calls = pipeline.mapping.batches_run
        again = await client.get(f"{URL}/123.png")
        other_format = await client.get(f"{URL}/123.webp")  # new image, same w: the mapping is skipped
        assert first.content == again.content and other_format.status_code == 200
        assert pipeline.mapping.batches_run == mapping_calls
        metrics = (await client.get("/metrics")).text
        assert cache_lookups(metrics, "image", "hit") == 1 and cache_lookups(metrics, "w", "hit") >= 1

        keys = {k.decode() for k in redis.Redis.from_url(redis_cache.url).keys("ganserve:v1:demo64:*")}
        version = pipeline.digest[:16]
        assert f"ganserve:v1:demo64:{version}:w:123:None" in keys
        assert any(k.startswith(f"ganserve:v1:demo64:{version}:img:") for k in keys)
        value = redis.Redis.from_url(redis_cache.url).get(f"ganserve:v1:demo64:{version}:w:123:None")
        assert value.startswith(b"<f4|256|") and len(value) == len(b"<f4|256|") + 256 * 4  # raw float32, no pickle


async def test_a_new_model_version_never_reads_old_entries(settings, redis_cache):
    app = create_app(settings.model_copy(update={"redis_url": redis_cache.url}))
    lifespan, client = await started(app)
    async with lifespan, client:
        await client.get(f"{URL}/77.png")
        await asyncio.sleep(0.1)
        pipeline = app.state.ganserve.pipelines["demo64"]
        pipeline.digest = "f" * 64  # as if new weights were deployed under the same name
        hits_before = cache_lookups((await client.get("/metrics")).text, "w", "hit")
        assert (await client.get(f"{URL}/77.png")).status_code == 200
        assert cache_lookups((await client.get("/metrics")).text, "w", "hit") == hits_before
        await asyncio.sleep(0.1)
        assert redis.Redis.from_url(redis_cache.url).exists("ganserve:v1:demo64:ffffffffffffffff:w:77:None")


async def test_redis_killed_and_restarted_under_load_fails_no_generation(settings, redis_cache):
    app = create_app(settings.model_copy(update={"redis_url": redis_cache.url, "redis_timeout_ms": 25}))
    lifespan, client = await started(app)
    results: list[tuple[int, float]] = []
    stop = asyncio.Event()

    async def worker(offset: int):
        seed = offset
        while not stop.is_set():
            started_at = time.perf_counter()
            response = await client.get(f"{URL}/{seed % 40}.png")  # repeats, so the cache matters
            results.append((response.status_code, time.perf_counter() - started_at))
            seed += 4

    async with lifespan, client:
        workers = [asyncio.create_task(worker(i)) for i in range(4)]
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis_cache.kill)
        killed_at = len(results)
        await asyncio.sleep(1.5)
        during_outage = len(results) - killed_at
        await asyncio.to_thread(redis_cache.start)
        await asyncio.sleep(2.5)  # the breaker's trial call reconnects
        stop.set()
        await asyncio.gather(*workers)
        metrics = (await client.get("/metrics")).text

    statuses = [status for status, _ in results]
    print(f"{len(results)} requests, {during_outage} while Redis was down, max latency {max(t for _, t in results) * 1000:.0f} ms")
    assert statuses and set(statuses) == {200}, f"{len(statuses) - statuses.count(200)} failed generations"
    assert during_outage > 0
    assert metric(metrics, 'ganserve_cache_errors_total{cache="image"}') > 0
    assert cache_lookups(metrics, "image", "bypassed") > 0  # the circuit opened
    assert redis.Redis.from_url(redis_cache.url).dbsize() > 0  # and writes resumed after the restart
