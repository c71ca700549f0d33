"""The measurements of `python -m ganserve_bench cache`, per cache backend: seed PNGs over HTTP from a server
with that backend (a miss and a hit run per level, with the server's own cache counters), the w
cache in this process through the pipeline (hits, misses, the bare engine.map), and a raw Redis MGET
as the round-trip floor."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

from ganserve import latents
from ganserve.artifacts import Artifact
from ganserve.cache import Cache, make_caches
from ganserve.cache.codec import encode_array
from ganserve.cache.redis import connect
from ganserve.pipeline import ModelPipeline
from ganserve.settings import Settings
from ganserve_bench import proc
from ganserve_bench import wrk as wrk_runs
from ganserve_bench.processes import gateway
from ganserve_bench.server import WARMUP_SECONDS, seed_path
from ganserve_bench.timing import latency_stats, timed_loop

BACKENDS = ("lru", "redis")  # the in-process LRU (no GANSERVE_REDIS_URL), then Redis
PRIMED_SEEDS = 256  # distinct primed seeds the hit calls cycle through
MGET_VALUE_BYTES = 1024
# Seed ranges, apart per backend and part so that nothing meant to miss can hit: HTTP misses at
# base + level * 1e6 + i, their warm-up 5e7 above, the hit URL 9.9e7 above; in-process seeds from 1e9.
HTTP_SEED_BASE = {"lru": 100_000_000, "redis": 200_000_000}
HTTP_WARMUP_OFFSET, HTTP_HOT_OFFSET = 50_000_000, 99_000_000
W_SEED_BASE = {"lru": 1_000_000_000, "redis": 1_100_000_000}
W_MISS_OFFSET, W_WARMUP_OFFSET = 10_000_000, 20_000_000
# ganserve_cache_lookups_total{cache="image",result="hit"} 12.0 and ganserve_cache_errors_total{cache="w"} 0.0
CACHE_COUNTERS = re.compile(r'^ganserve_cache_(lookups|errors)(?:_total)?\{cache="(\w+)"(?:,result="(\w+)")?\} ([0-9.e+-]+)$', re.MULTILINE)


# -- part 1: seed images over HTTP ---------------------------------------------------------------
def _server_cache_counts(base_url: str) -> dict[str, float]:
    """The server's cache counters: lookups by cache and result, and errors by cache."""
    text = httpx.get(f"{base_url}/metrics", timeout=10.0).raise_for_status().text
    return {f"{cache}_{result or kind}": float(n) for kind, cache, result, n in CACHE_COUNTERS.findall(text)}


def _counted(base_url: str, run: Callable[[], dict]) -> dict:
    """A wrk run (drained) with what the server's caches did during it."""
    before = _server_cache_counts(base_url)
    result = run()
    after = _server_cache_counts(base_url)
    result["server_cache"] = {key: round(after[key] - before.get(key, 0)) for key in sorted(after)}
    return result


def http_backend(
    backend: str,
    env: dict[str, str],
    model: str,
    levels: list[int],
    seconds: int,
    wrk: wrk_runs.Wrk,
    tmp: Path,
    log: Callable[[str], None],
) -> dict:
    """One server with this cache backend: per level a warm-up, a miss run and a hit run; always stopped."""
    path, seed_base = seed_path(model), HTTP_SEED_BASE[backend]
    with gateway(env, tmp / f"server-{backend}", model) as (server, startup):
        base, pid = server.base_url, startup["pid"]
        runs = []
        for level in levels:
            warmup_seed = seed_base + HTTP_WARMUP_OFFSET + level * 1_000_000
            wrk_runs.run(wrk, base, path, level, min(WARMUP_SECONDS, seconds), first_seed=warmup_seed)
            first = seed_base + level * 1_000_000
            miss = _counted(base, partial(wrk_runs.run, wrk, base, path, level, seconds, first_seed=first, pid=pid))
            hot_seed = seed_base + HTTP_HOT_OFFSET + level
            hot_path = f"/v1/models/{model}/seeds/{hot_seed}.png"
            httpx.get(base + hot_path, timeout=60.0).raise_for_status()  # primed: the image is now cached
            hit = _counted(base, partial(wrk_runs.run, wrk, base, hot_path, level, seconds, pid=pid)) | {"seed": hot_seed}
            for kind, run in (("miss", miss), ("hit", hit)):
                log(
                    f"  http {backend} {kind} c={level}: {run['throughput_images_per_s']} img/s, p50 {run['latency_ms']['p50']} ms, "
                    f"p99 {run['latency_ms']['p99']} ms, errors {run['errors']}"
                )
            runs.append({"concurrency": level, "miss": miss, "hit": hit})
        result = {"startup": startup, "levels": runs, "memory_after_load": proc.memory(pid)}
    result["exit_code"] = server.exit_code
    return result


# -- part 2: the w cache in this process -----------------------------------------------------------
def _us_stats(latencies_us: list[float]) -> dict:
    return {"calls": len(latencies_us), "latency_us": latency_stats(latencies_us)}


async def _drain(cache: Cache) -> None:
    """Wait for the cache's background writes (RedisCache); the in-process LRU writes in the call."""
    pending = list(getattr(cache, "pending", ()))
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


async def _timed_calls(seeds: list[int], call: Callable, after: Callable | None = None) -> list[float]:
    """µs per `await call(seed)`, one at a time; `after` runs between calls, outside the timing."""
    out = []
    for seed in seeds:
        t0 = time.perf_counter()
        await call(seed)
        out.append((time.perf_counter() - t0) * 1e6)
        if after is not None:
            await after()
    return out


STATS = ("hits", "misses", "errors", "bypassed")


def _snapshot(cache: Cache) -> dict[str, int]:
    return {name: getattr(cache.stats, name) for name in STATS}


def _stats_delta(cache: Cache, before: dict[str, int]) -> dict[str, int]:
    """What the cache counted since `before`."""
    return {name: value - before[name] for name, value in _snapshot(cache).items()}


async def w_backend(artifact: Artifact, settings: Settings, backend: str, lookups: int, map_seconds: float) -> dict:
    """w_from_seeds hits and misses through the pipeline over this backend's w cache, and engine.map alone."""
    from ganserve.engines.onnxruntime import OnnxRuntimeEngine

    w_cache, image_cache = make_caches(settings)
    engine = OnnxRuntimeEngine(artifact, settings)
    pipeline = ModelPipeline(artifact, engine, settings, w_cache)
    config, base = artifact.config, W_SEED_BASE[backend]

    async def lookup(seed: int) -> None:
        await pipeline.w_from_seeds([seed], None)

    async def drain() -> None:
        await _drain(w_cache)

    try:
        primed = [base + i for i in range(PRIMED_SEEDS)]
        await pipeline.w_from_seeds(primed, None)
        await drain()
        await _timed_calls([base + W_WARMUP_OFFSET + i for i in range(20)], lookup, drain)  # warm-up: misses, then hits
        await _timed_calls(primed[:20], lookup)

        before = _snapshot(w_cache)
        hit = _us_stats(await _timed_calls([primed[i % PRIMED_SEEDS] for i in range(lookups)], lookup)) | {
            "cache_stats": _stats_delta(w_cache, before)
        }
        misses = max(lookups // 3, 1)
        before = _snapshot(w_cache)
        miss = _us_stats(await _timed_calls([base + W_MISS_OFFSET + i for i in range(misses)], lookup, drain)) | {
            "cache_stats": _stats_delta(w_cache, before)
        }
        before = _snapshot(w_cache)  # the misses' writes landed: they are hits now
        await _timed_calls([base + W_MISS_OFFSET + i for i in range(min(misses, 50))], lookup)
        written = _stats_delta(w_cache, before)

        z = latents.seeds_to_z([base + W_MISS_OFFSET], config.z_dim)
        c = latents.one_hot([None], config.c_dim)
        engine.map(z, c)  # warm-up
        map_ms, _ = timed_loop(map_seconds, 20, lambda _: engine.map(z, c))
        w_bytes = len(encode_array(engine.map(z, c)[0]))
    finally:
        await pipeline.close()  # also closes the engine
        await image_cache.close()
        await w_cache.close()  # owns the Redis client
    return {
        "cache": type(w_cache).__name__,
        "w_entry_bytes": w_bytes,
        "hit": hit | {"primed_seeds": PRIMED_SEEDS},
        "miss": miss | {"rechecked_as_hits": written},
        "engine_map": _us_stats([ms * 1000 for ms in map_ms]),
    }


async def raw_mget(settings: Settings, calls: int) -> dict:
    """MGET of one 1 KiB key (a w entry's size) on a client made as the cache makes its own: Redis' round-trip floor here."""
    client = connect(settings)
    try:
        key = "ganserve-bench:mget-1kib"
        await client.set(key, os.urandom(MGET_VALUE_BYTES))
        for _ in range(50):  # warm-up: the connection
            await client.mget([key])
        latencies = []
        for _ in range(calls):
            t0 = time.perf_counter()
            (value,) = await client.mget([key])
            latencies.append((time.perf_counter() - t0) * 1e6)
            if value is None or len(value) != MGET_VALUE_BYTES:
                raise RuntimeError("the MGET reference key vanished")
        await client.delete(key)
    finally:
        await client.aclose()
    return {"value_bytes": MGET_VALUE_BYTES, "client": "cache.redis.connect(), one connection"} | _us_stats(latencies)
