"""`python -m ganserve_bench cache`: what a cache hit saves against a miss, with the in-process LRU and with Redis.

Both caches are measured on this machine in one run, against a redis-server started here (no
persistence, maxmemory 64mb, allkeys-lru: the cache's production settings) and stopped at the end.

1. Seed images over HTTP: `ganserve serve` in a subprocess, once per backend (GANSERVE_REDIS_URL
   empty: in-process LRU; set: Redis), loaded by wrk (wrk.py) at each concurrency level:
   a miss run on distinct seeds (new image, w and PNG each request), then a hit run on one URL,
   primed by a first request, repeated (the image cache answers every request). The server's own
   cache counters around each run say what was a hit.
2. The w cache in this process, without HTTP: a ModelPipeline (ONNX Runtime engine, as the server
   builds it) over the w cache of make_caches(), timing `w_from_seeds([seed])` on primed seeds
   (hits), on fresh seeds (lookup, mapping through the micro-batcher, then the cache write: in the
   background with Redis, waited for between calls outside the timing), and the bare `engine.map`
   of one seed; with a raw MGET of one 1 KiB value as Redis' round-trip floor.

The redis-server is a processes.RedisServer (described by cache_redis.py), the measurements are in
cache_runs.py, the comparisons and the printed summary in cache_report.py; this module runs them
and writes the result file.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ganserve.artifacts import find_artifact
from ganserve.settings import Settings
from ganserve_bench.cache_redis import describe_redis, redis_state
from ganserve_bench.cache_report import comparisons, summary
from ganserve_bench.cache_runs import BACKENDS, PRIMED_SEEDS, http_backend, raw_mget, w_backend
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.processes import RedisServer
from ganserve_bench.report import RESULTS, header, write_results
from ganserve_bench.server import WARMUP_SECONDS, load_generator

SCHEMA = "ganserve-bench-cache/1"
HTTP_SECONDS = 6  # wrk: measured seconds per run (a miss and a hit run per level and backend)
W_LOOKUPS = 3000  # in-process: timed w_from_seeds calls on primed seeds; a third as many misses
MAP_SECONDS = 1.0  # the bare engine.map loop, per backend
RECORDED_SETTINGS = {
    "threads",
    "batch_max_size",
    "batch_max_delay_ms",
    "encode_threads",
    "png_compress_level",
    "redis_timeout_ms",
    "w_cache_entries",
    "image_cache_bytes",
}


def run_cache_benchmark(
    model: str = "demo64",
    out: Path = RESULTS,
    *,
    concurrency: tuple[int, ...] | list[int] = (1, 8),
    http_seconds: int = HTTP_SECONDS,
    w_lookups: int = W_LOOKUPS,
    map_seconds: float = MAP_SECONDS,
    log: Callable[[str], None] = print,
) -> Path:
    """Run both parts for both backends and write `out/bench-cache-<model>-<UTC time>.json`; returns its path.

    http_seconds: each wrk run (a miss and a hit run per level and backend, after a warm-up of at
    most WARMUP_SECONDS per level). w_lookups: timed w hits per backend (a third as many misses).
    Needs wrk and redis-server on PATH (make system-deps). Every server started is stopped.
    """
    levels = list(concurrency)
    if not levels or min(levels) < 1 or http_seconds < 1 or w_lookups < 1:
        raise ValueError("concurrency levels, http_seconds and w_lookups must be at least 1")
    settings = Settings()
    artifact = find_artifact(settings.models_dir, model)  # fail before anything starts
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed (make system-deps)")
    wrk = load_generator(True)
    created = datetime.now(UTC)
    log(f"ganserve_bench cache: {model}, backends {', '.join(BACKENDS)}, concurrency {levels}, {wrk.label} {http_seconds} s per run")
    started = time.perf_counter()
    cpu, machine = measure_machine(log)

    with tempfile.TemporaryDirectory(prefix="ganserve-bench-cache-") as tmp_name, RedisServer(Path(tmp_name), durable=False) as redis:
        tmp, url = Path(tmp_name), redis.url
        redis_info = describe_redis(redis)
        log(f"  redis-server {redis_info['version']} at {url}")
        http, redis_keys = {}, {}
        for backend in BACKENDS:
            env = {"GANSERVE_REDIS_URL": url if backend == "redis" else ""}  # empty: the in-process LRU
            http[backend] = http_backend(backend, env, model, levels, http_seconds, wrk, tmp, log)
            redis_keys[f"after_http_{backend}"] = redis_state(url)
        inprocess = {}
        for backend in BACKENDS:
            backend_settings = settings.model_copy(update={"redis_url": url if backend == "redis" else None})
            inprocess[backend] = asyncio.run(w_backend(artifact, backend_settings, backend, w_lookups, map_seconds))
            r = inprocess[backend]
            log(
                f"  w {backend}: hit p50 {r['hit']['latency_us']['p50']} µs, miss p50 {r['miss']['latency_us']['p50']} µs, "
                f"engine.map p50 {r['engine_map']['latency_us']['p50']} µs"
            )
        inprocess["redis_mget_1kib"] = asyncio.run(raw_mget(settings.model_copy(update={"redis_url": url}), w_lookups))
        log(f"  redis MGET 1 KiB: p50 {inprocess['redis_mget_1kib']['latency_us']['p50']} µs")
        redis_keys["at_end"] = redis_state(url)
        redis_info["state"] = redis_keys

    finish_machine(cpu, machine)
    result = {
        **header(SCHEMA, created, started),
        "parameters": {
            "model": model,
            "backends": {"lru": "in-process LRU (GANSERVE_REDIS_URL unset/empty)", "redis": "Redis (GANSERVE_REDIS_URL)"},
            "concurrency": levels,
            "http_load_generator": wrk.label,
            "http_seconds_per_run": http_seconds,
            "http_warmup_seconds": min(WARMUP_SECONDS, http_seconds),
            "http_miss": "GET /v1/models/<model>/seeds/<seed>.png on distinct seeds (base + level*1e6 + i): image and w miss",
            "http_hit": "the same one URL repeated after a priming request (image cache hit on every request)",
            "w_hit_calls": w_lookups,
            "w_miss_calls": max(w_lookups // 3, 1),
            "w_primed_seeds": PRIMED_SEEDS,
            "map_seconds": map_seconds,
            "settings": settings.model_dump(mode="json", include=RECORDED_SETTINGS),
        },
        "machine": machine,
        "model": {
            "name": model,
            "digest": artifact.digest,
            "resolution": artifact.config.resolution,
            "z_dim": artifact.config.z_dim,
            "w_dim": artifact.config.w_dim,
        },
        "redis": redis_info,
        "http": {"load_generator": wrk.label, "backends": http},
        "inprocess": inprocess,
        "notes": [
            "wrk, the server and (for the redis backend) redis-server share this machine's CPUs; see client_cpu_cores and "
            "server_cpu_cores per run. wrk runs for a fixed time: requests count what completed in it.",
            "server_cache per HTTP run: the server's own cache counters (lookups by cache and result, errors) during the run.",
            "In-process w timings are per `await pipeline.w_from_seeds([seed], None)` call, one at a time. A miss includes "
            "the lookup, z from the seed, the mapping through the micro-batcher (a worker thread) and the cache write: "
            "in the call for the LRU, a background task for Redis (waited for between calls, outside the timing).",
            "engine_map: the bare engine.map(z, c) of one seed, in this thread, without the batcher.",
        ],
    }
    result["comparisons"] = comparisons(result)
    return write_results(out, f"bench-cache-{model}", created, result, summary(result), log)
