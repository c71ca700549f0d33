"""The server as users start it, measured from outside: `ganserve serve` in a subprocess, its time
to /readyz, memory and native libraries, then HTTP load on it: from wrk (wrk.py) for a fixed
time per level where wrk is installed, else from an httpx client for a fixed number of requests."""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ganserve_bench import proc
from ganserve_bench import wrk as wrk_runs
from ganserve_bench.processes import gateway
from ganserve_bench.timing import closed_loop, latency_stats

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Seed ranges: measured seeds are level * 1e6 + i; warm-up and hot seeds lie apart from them, so
# neither the w cache nor the image cache can answer a request that is meant to miss.
WARMUP_SEED_BASE = 900_000_000
HOT_SEED = 999_999_999
HTTP_SECONDS = 8  # wrk: measured seconds per level
WARMUP_SECONDS = 2  # wrk: seconds of warm-up before each level (at most the measured seconds)
HTTPX = "httpx"


def load_generator(use_wrk: bool | None) -> wrk_runs.Wrk | None:
    """wrk where it is installed (use_wrk None), required (True) or never (False: the httpx client)."""
    if use_wrk is False:
        return None
    found = wrk_runs.find()
    if found is None and use_wrk:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    return found


def seed_path(model: str) -> str:
    return f"/v1/models/{model}/seeds/{{seed}}.png"


def bench_server(
    model: str,
    requests: int,
    levels: list[int],
    hot_concurrency: int,
    log: Callable[[str], None],
    *,
    http_seconds: int = HTTP_SECONDS,
    use_wrk: bool | None = None,
) -> dict:
    """Start the server, record its startup and memory, load it; requests is per level for the httpx
    client, http_seconds per level for wrk."""
    wrk = load_generator(use_wrk)
    with tempfile.TemporaryDirectory(prefix="ganserve-bench-") as tmp, gateway({}, Path(tmp), model) as (server, startup):
        pid = startup["pid"]
        result = {"startup": startup, "memory_at_ready": proc.memory(pid), "libraries_at_ready": proc.loaded_libraries(pid)}
        log(f"  server ready in {startup['time_to_ready_s']:.3f} s (pid {pid}, port {server.port})")
        if wrk is not None:
            result["http"] = _wrk_load(wrk, server.base_url, model, http_seconds, levels, hot_concurrency, pid, log)
        else:
            result["http"] = asyncio.run(_http_load(server.base_url, model, requests, levels, hot_concurrency, pid, log))
        result["memory_after_load"] = proc.memory(pid)
        result["libraries_after_load"] = proc.loaded_libraries(pid)
        result["torch_loaded"] = result["libraries_after_load"]["torch"]
    result["exit_code"] = server.exit_code
    return result


def _wrk_load(
    wrk: wrk_runs.Wrk,
    base_url: str,
    model: str,
    seconds: int,
    levels: list[int],
    hot_concurrency: int,
    pid: int,
    log: Callable[[str], None],
) -> dict:
    """As _http_load, from wrk: per level a warm-up, then `seconds` on new seeds; then the hot run."""
    runs = []
    for level in levels:
        wrk_runs.run(wrk, base_url, seed_path(model), level, min(WARMUP_SECONDS, seconds), first_seed=WARMUP_SEED_BASE + level * 10_000)
        run = wrk_runs.run(wrk, base_url, seed_path(model), level, seconds, first_seed=level * 1_000_000, pid=pid)
        log(f"  http c={level} (wrk): {run['throughput_images_per_s']} img/s, p50 {run['latency_ms']['p50']} ms, errors {run['errors']}")
        runs.append(run)
    hot_path = f"/v1/models/{model}/seeds/{HOT_SEED}.png"
    httpx.get(base_url + hot_path, timeout=60.0).raise_for_status()  # the one image is now cached
    hot = wrk_runs.run(wrk, base_url, hot_path, hot_concurrency, seconds, pid=pid) | {"seed": HOT_SEED}
    log(f"  http hot c={hot_concurrency} (wrk): {hot['throughput_images_per_s']} img/s, p50 {hot['latency_ms']['p50']} ms")
    metrics = _parse_metrics(httpx.get(f"{base_url}/metrics", timeout=10.0).text)
    return {
        "format": "png",
        "load_generator": wrk.label,
        "seconds_per_level": seconds,
        "warmup_seconds": min(WARMUP_SECONDS, seconds),
        "levels": runs,
        "hot": hot,
        "server_metrics": metrics,
    }


async def _http_load(
    base_url: str, model: str, requests: int, levels: list[int], hot_concurrency: int, pid: int, log: Callable[[str], None]
) -> dict:
    """One run per concurrency level on distinct seeds (all misses), then one on a single hot seed."""
    widest = max([*levels, hot_concurrency])
    limits = httpx.Limits(max_connections=widest, max_keepalive_connections=widest)
    async with httpx.AsyncClient(base_url=base_url, http1=True, http2=False, limits=limits, timeout=60.0) as client:
        runs = []
        for level in levels:
            warmup = [WARMUP_SEED_BASE + level * 10_000 + i for i in range(min(requests, 2 * level))]
            await _http_run(client, model, warmup, level, pid)  # opens the connections, fills the thread pools
            seeds = [level * 1_000_000 + i for i in range(requests)]
            run = await _http_run(client, model, seeds, level, pid)
            log(f"  http c={level}: {run['throughput_images_per_s']} img/s, p50 {run['latency_ms']['p50']} ms, errors {run['errors']}")
            runs.append(run)
        await _http_run(client, model, [HOT_SEED], 1, pid)  # the one image is now cached
        hot = await _http_run(client, model, [HOT_SEED] * requests, hot_concurrency, pid)
        hot["seed"] = HOT_SEED
        log(f"  http hot c={hot_concurrency}: {hot['throughput_images_per_s']} img/s, p50 {hot['latency_ms']['p50']} ms")
        metrics = _parse_metrics((await client.get("/metrics")).text)
    return {"format": "png", "load_generator": HTTPX, "requests_per_level": requests, "levels": runs, "hot": hot, "server_metrics": metrics}


async def _http_run(client: httpx.AsyncClient, model: str, seeds: list[int], concurrency: int, pid: int) -> dict:
    """GET one PNG per seed with `concurrency` requests in flight; latency per request, errors by kind."""

    async def get_png(seed: int) -> str:
        try:
            response = await client.get(f"/v1/models/{model}/seeds/{seed}.png")
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if response.status_code != 200:
            return str(response.status_code)
        return "200" if response.content.startswith(PNG_MAGIC) else "200 not a PNG"

    server_cpu, client_cpu = proc.cpu_seconds(pid), time.process_time()
    latencies, outcomes, wall = await closed_loop(seeds, concurrency, get_png, ok="200")
    server_cpu_end = proc.cpu_seconds(pid)
    ok = outcomes["200"]
    return {
        "concurrency": concurrency,
        "requests": len(seeds),
        "ok": ok,
        "errors": len(seeds) - ok,
        "outcomes": dict(outcomes),
        "wall_s": round(wall, 4),
        "throughput_images_per_s": round(ok / wall, 2),
        "latency_ms": latency_stats(latencies),
        # The client shares the machine: how many cores each side kept busy during the run.
        "server_cpu_cores": None if server_cpu is None or server_cpu_end is None else round((server_cpu_end - server_cpu) / wall, 3),
        "client_cpu_cores": round((time.process_time() - client_cpu) / wall, 3),
    }


def _parse_metrics(text: str) -> dict:
    """The server's own counters worth keeping: cache lookups and requests by route and status."""
    out: dict[str, dict[str, float]] = {"cache_lookups": {}, "requests": {}}
    for line in text.splitlines():
        match = re.match(r"^(ganserve_cache_lookups_total|ganserve_requests_total)\{(.*)\} ([0-9.e+-]+)$", line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match[2]))
        if match[1] == "ganserve_cache_lookups_total":
            out["cache_lookups"][f"{labels['cache']}_{labels['result']}"] = float(match[3])
        else:
            out["requests"][f"{labels['route']} {labels['status']}"] = float(match[3])
    return out
