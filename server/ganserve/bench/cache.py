"""`ganserve bench-cache`: what a cache hit saves against a miss, with the in-process LRU and with Redis.

Both caches are measured on this machine in one run, against a redis-server started here (no
persistence, maxmemory 64mb, allkeys-lru: the cache's production settings) and stopped at the end.

1. Seed images over HTTP: `ganserve serve` in a subprocess, once per backend (GANSERVE_REDIS_URL
   empty: in-process LRU; set: Redis), loaded by wrk (bench/wrk.py) at each concurrency level:
   a miss run on distinct seeds (new image, w and PNG each request), then a hit run on one URL,
   primed by a first request, repeated (the image cache answers every request). The server's own
   cache counters around each run say what was a hit.
2. The w cache in this process, without HTTP: a ModelPipeline (ONNX Runtime engine, as the server
   builds it) over the w cache of make_caches(), timing `w_from_seeds([seed])` on primed seeds
   (hits), on fresh seeds (lookup, mapping through the micro-batcher, then the cache write: in the
   background with Redis, waited for between calls outside the timing), and the bare `engine.map`
   of one seed; with a raw MGET of one 1 KiB value as Redis' round-trip floor.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path

import httpx
import redis

from ganserve import latents
from ganserve.artifacts import Artifact, discover
from ganserve.bench import proc
from ganserve.bench import wrk as wrk_runs
from ganserve.bench.machine import CpuAccount, describe_machine, load_average
from ganserve.bench.report import write_results
from ganserve.bench.server import WARMUP_SECONDS, ServerProcess, _free_port, load_generator, seed_path
from ganserve.bench.timing import latency_stats, timed_loop
from ganserve.bench.triton import gateway_env
from ganserve.cache import Cache, make_caches
from ganserve.cache.codec import encode_array
from ganserve.cache.redis import connect
from ganserve.pipeline import ModelPipeline
from ganserve.settings import Settings

SCHEMA = "ganserve-bench-cache/1"
BACKENDS = ("lru", "redis")  # the in-process LRU (no GANSERVE_REDIS_URL), then Redis
HTTP_SECONDS = 6  # wrk: measured seconds per run (a miss and a hit run per level and backend)
W_LOOKUPS = 3000  # in-process: timed w_from_seeds calls on primed seeds; a third as many misses
PRIMED_SEEDS = 256  # distinct primed seeds the hit calls cycle through
MAP_SECONDS = 1.0  # the bare engine.map loop, per backend
REDIS_ARGS = ["--save", "", "--appendonly", "no", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]
REDIS_READY_TIMEOUT_S = 10.0
MGET_VALUE_BYTES = 1024
# Seed ranges, apart per backend and part so that nothing meant to miss can hit: HTTP misses at
# base + level * 1e6 + i, their warm-up 5e7 above, the hit URL 9.9e7 above; in-process seeds from 1e9.
HTTP_SEED_BASE = {"lru": 100_000_000, "redis": 200_000_000}
HTTP_WARMUP_OFFSET, HTTP_HOT_OFFSET = 50_000_000, 99_000_000
W_SEED_BASE = {"lru": 1_000_000_000, "redis": 1_100_000_000}
W_MISS_OFFSET, W_WARMUP_OFFSET = 10_000_000, 20_000_000
# ganserve_cache_lookups_total{cache="image",result="hit"} 12.0 and ganserve_cache_errors_total{cache="w"} 0.0
CACHE_COUNTERS = re.compile(r'^ganserve_cache_(lookups|errors)(?:_total)?\{cache="(\w+)"(?:,result="(\w+)")?\} ([0-9.e+-]+)$', re.MULTILINE)
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


# -- redis-server ------------------------------------------------------------------------------
@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A redis-server on a free loopback port with the cache's settings; its URL. Always stopped."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed (make system-deps)")
    port = _free_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--daemonize", "no", *REDIS_ARGS]
    log_path = directory / "redis.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5)
        deadline = time.monotonic() + REDIS_READY_TIMEOUT_S
        try:
            while True:
                try:
                    client.ping()
                    break
                except redis.exceptions.ConnectionError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not start:\n{log_path.read_text(errors='replace')[-2000:]}") from None
                    time.sleep(0.02)
        finally:
            client.close()
        yield url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def redis_state(url: str) -> dict:
    """What the Redis server holds: keys, memory, evictions (allkeys-lru must not have dropped any)."""
    with redis.Redis.from_url(url, socket_timeout=2) as client:
        memory, stats = client.info("memory"), client.info("stats")
        return {
            "keys": client.dbsize(),
            "used_memory_bytes": memory["used_memory"],
            "evicted_keys": stats["evicted_keys"],
            "keyspace_hits": stats["keyspace_hits"],
            "keyspace_misses": stats["keyspace_misses"],
        }


def describe_redis(url: str) -> dict:
    printed = subprocess.run([shutil.which("redis-server") or "redis-server", "--version"], capture_output=True, text=True, timeout=10)
    with redis.Redis.from_url(url, socket_timeout=2) as client:
        server, memory = client.info("server"), client.info("memory")
    return {
        "version": server["redis_version"],
        "version_line": printed.stdout.strip(),
        "arch_bits": server.get("arch_bits"),
        "multiplexing_api": server.get("multiplexing_api"),
        "maxmemory_bytes": memory.get("maxmemory"),
        "maxmemory_policy": memory.get("maxmemory_policy"),
        "server_args": REDIS_ARGS,
        "redis_py": metadata.version("redis"),
        "connection": "loopback TCP on this machine",
    }


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
    server = ServerProcess(tmp / f"server-{backend}.log")
    base, path, seed_base = server.base_url, seed_path(model), HTTP_SEED_BASE[backend]
    try:
        with gateway_env(env):
            startup = server.start()
        pid = startup["pid"]
        if model not in startup["readyz_body"].get("models", []):
            raise RuntimeError(f"the server did not load {model}: {startup['readyz_body']}")
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
    finally:
        exit_code = server.stop()
    result["exit_code"] = exit_code
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


# -- the command -------------------------------------------------------------------------------
def run_cache_benchmark(
    model: str = "demo64",
    out: Path = Path("benchmarks/results"),
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
    known = {a.config.name: a for a in discover(settings.models_dir)}
    if model not in known:
        raise ValueError(f"unknown model {model!r} in {settings.models_dir}; models: {', '.join(known) or 'none'}")
    artifact = known[model]
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed (make system-deps)")
    wrk = load_generator(True)
    created = datetime.now(UTC)
    log(f"ganserve bench-cache: {model}, backends {', '.join(BACKENDS)}, concurrency {levels}, {wrk.label} {http_seconds} s per run")
    started = time.perf_counter()
    cpu = CpuAccount()
    machine = describe_machine()  # first, while the machine is idle
    log(f"  matmul fp32: {machine['matmul_fp32']['best_gflops']} GFLOP/s")

    with tempfile.TemporaryDirectory(prefix="ganserve-bench-cache-") as tmp_name, redis_server(Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        redis_info = describe_redis(url)
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

    machine["load_average_at_end"] = load_average()
    machine["contention"] = cpu.report()
    result = {
        "schema": SCHEMA,
        "created_utc": created.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 2),
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


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def comparisons(result: dict) -> dict:
    """Hit against miss over HTTP per backend and level; w hit against the mapping it saves."""
    http = []
    for backend, runs in result["http"]["backends"].items():
        for level in runs["levels"]:
            miss, hit = level["miss"], level["hit"]
            http.append(
                {
                    "backend": backend,
                    "concurrency": level["concurrency"],
                    "hit_throughput_vs_miss": _ratio(hit["throughput_images_per_s"], miss["throughput_images_per_s"]),
                    "miss_p50_vs_hit_p50": _ratio(miss["latency_ms"]["p50"], hit["latency_ms"]["p50"]),
                }
            )
    w = {}
    for backend in BACKENDS:
        r = result["inprocess"][backend]
        w[backend] = {
            "miss_p50_vs_hit_p50": _ratio(r["miss"]["latency_us"]["p50"], r["hit"]["latency_us"]["p50"]),
            "engine_map_p50_vs_hit_p50": _ratio(r["engine_map"]["latency_us"]["p50"], r["hit"]["latency_us"]["p50"]),
            "saved_per_hit_p50_us": round(r["miss"]["latency_us"]["p50"] - r["hit"]["latency_us"]["p50"], 1),
        }
    return {"http": http, "w": w}


def summary(result: dict) -> str:
    m, redis_info = result["machine"], result["redis"]
    lines = [
        f"ganserve bench-cache {result['model']['name']} ({result['model']['resolution']}px) on {m['cpu_model']}, {m['usable_cpus']} cpus, "
        f"commit {(m['git_commit'] or 'unknown')[:12]}{' (dirty)' if m['git_dirty'] else ''}; redis-server {redis_info['version']}",
        f"http load: {result['http']['load_generator']}, {result['parameters']['http_seconds_per_run']} s per run; "
        "miss = distinct seeds, hit = one primed URL repeated",
        "",
        f"{'http png':<22}{'conc':>5}{'n':>7}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'img/s':>10}  server image cache hit/miss",
    ]
    for backend, runs in result["http"]["backends"].items():
        for level in runs["levels"]:
            for kind in ("miss", "hit"):
                r = level[kind]
                cache = r["server_cache"]
                lines.append(
                    f"{backend + ' ' + kind:<22}{r['concurrency']:>5}{r['requests']:>7}{r['errors']:>5}{_num(r['latency_ms']['p50']):>9}"
                    f"{_num(r['latency_ms']['p99']):>9}{r['throughput_images_per_s']:>10}  "
                    f"{cache.get('image_hit', 0)}/{cache.get('image_miss', 0)}"
                )
    lines += ["", f"{'w in-process (µs)':<30}{'calls':>7}{'p50':>10}{'p99':>10}{'mean':>10}"]
    for backend in BACKENDS:
        r = result["inprocess"][backend]
        for name, run in (("w hit", r["hit"]), ("w miss (map + write)", r["miss"]), ("engine.map alone", r["engine_map"])):
            lat = run["latency_us"]
            lines.append(f"{backend + ' ' + name:<30}{run['calls']:>7}{_num(lat['p50']):>10}{_num(lat['p99']):>10}{_num(lat['mean']):>10}")
    mget = result["inprocess"]["redis_mget_1kib"]
    lat = mget["latency_us"]
    lines.append(f"{'redis raw MGET 1 KiB':<30}{mget['calls']:>7}{_num(lat['p50']):>10}{_num(lat['p99']):>10}{_num(lat['mean']):>10}")
    lines.append("")
    for c in result["comparisons"]["http"]:
        lines.append(
            f"http {c['backend']} c={c['concurrency']}: hit x{c['hit_throughput_vs_miss']} the miss throughput, "
            f"miss p50 x{c['miss_p50_vs_hit_p50']} the hit p50"
        )
    for backend, c in result["comparisons"]["w"].items():
        lines.append(
            f"w {backend}: a hit saves {c['saved_per_hit_p50_us']} µs at p50 (miss x{c['miss_p50_vs_hit_p50']}, "
            f"bare engine.map x{c['engine_map_p50_vs_hit_p50']} the hit)"
        )
    busy = m["contention"]
    lines.append(
        f"other processes used {busy['foreign_cpu_cores']} cores (steal {busy['steal_cpu_cores']}) of {m['usable_cpus']} during the run; "
        f"load average {m['load_average_at_start']} -> {m['load_average_at_end']}"
    )
    if (busy["foreign_cpu_cores"] or 0) > 0.2:
        lines.append("WARNING: the machine was not idle: these figures are skewed, run again when it is")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
