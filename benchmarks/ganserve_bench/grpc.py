"""`python -m ganserve_bench grpc`: one image per request over gRPC (raw uint8 tensor), gRPC (PNG) and HTTP
(PNG, the stable seed URL), p50/p99 at each concurrency level, against one `ganserve serve`.

Every request asks for a seed never asked before (base + level * 1e6 + i), so nothing is served
from the image or w cache: each pays for mapping, synthesis and (PNG) encoding. All three loads
come from Python clients in this process (grpc.aio, httpx), on the same cores as the server, in
closed loops (timing.py). The server's CPU seconds per image are reported beside the
latencies: they do not depend on how fast the load generator is.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx

from ganserve.artifacts import find_artifact
from ganserve.settings import Settings
from ganserve_bench import proc
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.processes import gateway
from ganserve_bench.report import contention, header, number, title, write_results
from ganserve_bench.timing import closed_loop, closed_loop_record
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

SCHEMA = "ganserve-bench-grpc/1"
MODES = {
    "grpc_raw": "gRPC Generate, one seed, format RAW (uint8 [H, W, C], no encoding)",
    "grpc_png": "gRPC Generate, one seed, format PNG",
    "http_png": "HTTP GET /v1/models/<model>/seeds/<seed>.png (the stable URL product apps use)",
}
WARMUP_REQUESTS = 50


async def _run_mode(mode: str, server, model: str, levels: list[int], requests: dict[int, int], pid: int, log) -> list[dict]:
    channel = grpc.aio.insecure_channel(server.grpc_target)
    stub = ganserve_pb2_grpc.GeneratorStub(channel)
    http = httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=httpx.Limits(max_connections=max(levels)))
    fmt = pb.IMAGE_FORMAT_RAW if mode == "grpc_raw" else pb.IMAGE_FORMAT_PNG

    async def over_grpc(seed: int) -> str:
        try:
            response = await stub.Generate(pb.GenerateRequest(model=model, latents=[pb.Latent(seed=seed)], format=fmt), timeout=30)
        except grpc.RpcError as error:
            return error.code().name
        return "ok" if len(response.images) == 1 else "no_image"

    async def over_http(seed: int) -> str:
        response = await http.get(f"/v1/models/{model}/seeds/{seed}.png")
        return "ok" if response.status_code == 200 else str(response.status_code)

    request: Callable[[int], Awaitable[str]] = over_http if mode == "http_png" else over_grpc
    runs = []
    try:
        await closed_loop(list(range(10**9, 10**9 + WARMUP_REQUESTS)), 4, request, "ok")  # connections, first calls
        for level in levels:
            seeds = list(range(level * 1_000_000 + (1 + list(MODES).index(mode)) * 100_000, level * 1_000_000 + 10**5 * 9))
            cpu_before = proc.cpu_seconds(pid)
            latencies, outcomes, wall = await closed_loop(seeds[: requests[level]], level, request, "ok")
            run = closed_loop_record(level, requests[level], latencies, outcomes, wall)
            cpu = proc.cpu_seconds(pid) - cpu_before if cpu_before is not None else None
            run["server_cpu_ms_per_image"] = round(cpu * 1000 / max(outcomes["ok"], 1), 3) if cpu is not None else None
            lat = run["latency_ms"]
            summary_line = f"{run['throughput_images_per_s']} img/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms, errors {run['errors']}"
            log(f"  {mode} c={level}: {summary_line}")
            runs.append(run)
    finally:
        await channel.close()
        await http.aclose()
    return runs


def run_grpc_benchmark(model: str, out: Path, levels: list[int], requests_c1: int, requests_per_worker: int, log=print) -> Path:
    created, started = datetime.now(UTC), time.perf_counter()
    log(f"ganserve_bench grpc: {model}")
    cpu, machine = measure_machine(log)
    artifact = find_artifact(Settings().models_dir, model)
    requests = {level: requests_c1 if level == 1 else level * requests_per_worker for level in levels}
    with tempfile.TemporaryDirectory(prefix="ganserve-bench-") as tmp, gateway({}, Path(tmp), model) as (server, startup):
        log(f"  server ready in {startup['time_to_ready_s']:.3f} s (http {server.port}, grpc {server.grpc_port})")
        modes = {mode: asyncio.run(_run_mode(mode, server, model, levels, requests, startup["pid"], log)) for mode in MODES}
    finish_machine(cpu, machine)
    result = {
        **header(SCHEMA, created, started),
        "parameters": {
            "model": model,
            "modes": MODES,
            "concurrency": levels,
            "requests_per_level": requests,
            "warmup_requests_per_mode": WARMUP_REQUESTS,
            "seeds": "distinct per request and mode: no image or w cache hits",
            "load_generator": f"Python in this process: grpcio {grpc.__version__} (grpc.aio), httpx {httpx.__version__}",
        },
        "machine": machine,
        "model": {"name": model, "digest": artifact.digest, "resolution": artifact.config.resolution},
        "server": {"startup": startup, "exit_code": server.exit_code},
        "modes": modes,
    }
    result["comparisons"] = _comparisons(modes)
    return write_results(out, "bench-grpc-" + model, created, result, summary(result), log)


def _comparisons(modes: dict) -> dict:
    """p50 and p99 of each mode relative to HTTP PNG, per level (below 1: faster)."""
    out = {}
    for i, run in enumerate(modes["http_png"]):
        level = run["concurrency"]
        for mode in ("grpc_raw", "grpc_png"):
            other = modes[mode][i]["latency_ms"]
            for stat in ("p50", "p99"):
                base = run["latency_ms"][stat]
                out[f"{mode}_vs_http_png_{stat}_c{level}"] = round(other[stat] / base, 3) if base and other[stat] else None
    return out


def summary(result: dict) -> str:
    lines = [title("grpc", result), result["parameters"]["load_generator"] + ", on the same cores as the server", ""]
    lines.append(f"{'mode':<12}{'conc':>5}{'n':>7}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'img/s':>9}{'srv cpu ms/img':>16}")
    for mode, runs in result["modes"].items():
        for run in runs:
            lat = run["latency_ms"]
            lines.append(
                f"{mode:<12}{run['concurrency']:>5}{run['requests']:>7}{run['errors']:>5}{number(lat['p50']):>9}{number(lat['p99']):>9}"
                f"{run['throughput_images_per_s']:>9}{number(run['server_cpu_ms_per_image']):>16}"
            )
    lines += ["", *contention(result["machine"])]
    return "\n".join(lines)
