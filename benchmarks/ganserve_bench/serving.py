"""`python -m ganserve_bench server`: measure the real server, the bare engine and the eager-torch baseline in one run.

Everything is measured on the same machine in the same run, so the ratios between the parts mean
something even on a noisy shared machine. Results go to a JSON file that also describes the machine.

1. The machine (machine.py): CPU, memory, versions, commit and its measured fp32 matmul GFLOP/s,
   against which the generator's achieved GFLOP/s is reported; measured first, while it is idle.
2. The server as users start it, in a subprocess (server.py): time to /readyz, whether it loaded
   torch (read from /proc, so nothing in the server has to cooperate), RSS after the load; then HTTP
   load with distinct seeds per concurrency level (no cache hits) and one hot run on a single seed,
   from wrk (one thread, a fixed time per level) where it is installed, else from an httpx client
   (a fixed number of requests), which on a small machine competes with the server for its cores.
3. The ONNX Runtime engine in this process (engine.py): fixed batches, then concurrent requests
   through the same pipeline and micro-batchers that the server uses, without HTTP or encoding.
4. The baseline a user would run instead (engine.py): the same weights in eager PyTorch, one image
   at a time.
5. The encode budget (encode.py): the default format's (PNG's) encode ms per image at the model's
   resolution, next to the engine's ms per image: on a GPU the encoder is the bottleneck.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ganserve.artifacts import find_artifact
from ganserve.settings import Settings
from ganserve_bench.encode import model_encode_budget
from ganserve_bench.engine import bench_engine, bench_torch_baseline, generator_macs
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.report import header, ratios, summary, write_results
from ganserve_bench.server import HTTP_SECONDS, HTTPX, bench_server

SCHEMA = "ganserve-bench/1"
# The settings that decide the figures, recorded with them (the server reads the same GANSERVE_* env).
RECORDED_SETTINGS = {
    "engine",
    "threads",
    "batch_max_size",
    "batch_max_delay_ms",
    "queue_max_images",
    "encode_threads",
    "png_compress_level",
}

WRK_NOTE = (
    "wrk runs for a fixed time per level: its requests count what completed in that time, and requests_per_level "
    "applies to the engine runs only (and to the httpx client where wrk is not installed). wrk's latencies cover every "
    "completed response at microsecond resolution; after each run the server finishes what wrk left in flight."
)


def run_benchmark(
    model: str,
    requests: int,
    concurrency: list[int],
    out: Path,
    *,
    engine_seconds: float = 2.0,
    baseline_seconds: float | None = None,
    engine_batch_sizes: tuple[int, ...] = (1, 8, 32),
    hot_concurrency: int = 8,
    baseline: bool = True,
    http_seconds: int = HTTP_SECONDS,
    use_wrk: bool | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Run every part once and write `out/bench-<model>-<UTC time>.json`; returns its path.

    HTTP load comes from wrk for http_seconds per level where wrk is installed (use_wrk None), else
    (or with use_wrk False) from the httpx client for `requests` per level; the engine runs take
    `requests` per level either way.
    engine_seconds bounds each fixed-batch engine loop; baseline_seconds (default: the same) the
    eager-torch loop. The server is always stopped, also when a step fails.
    """
    if requests < 1 or not concurrency or min(concurrency) < 1:
        raise ValueError("requests and every concurrency level must be at least 1")
    settings = Settings()
    artifact = find_artifact(settings.models_dir, model)  # fail before anything starts
    created = datetime.now(UTC)
    macs = generator_macs(artifact.config)
    baseline_seconds = engine_seconds if baseline_seconds is None else baseline_seconds

    log(f"ganserve_bench server: {model}, {requests} requests per level, concurrency {concurrency}")
    started = time.perf_counter()
    cpu, machine = measure_machine(log)
    server = bench_server(model, requests, concurrency, hot_concurrency, log, http_seconds=http_seconds, use_wrk=use_wrk)
    engine = bench_engine(artifact, settings, requests, concurrency, list(engine_batch_sizes), engine_seconds, log)
    engine_ms = {str(b["batch_size"]): round(1000 / b["images_per_s"], 3) for b in engine["batches"]}
    encode_budget = model_encode_budget(model, settings, engine_ms)  # what the encoder leaves the engine
    torch_baseline = (
        bench_torch_baseline(artifact, settings, baseline_seconds, log) if baseline else {"status": "skipped", "reason": "disabled"}
    )
    finish_machine(cpu, machine)

    result = {
        **header(SCHEMA, created, started),
        "parameters": {
            "model": model,
            "requests_per_level": requests,
            "concurrency": concurrency,
            "hot_concurrency": hot_concurrency,
            "http_load_generator": server["http"]["load_generator"],
            "http_seconds_per_level": server["http"].get("seconds_per_level"),
            "engine_batch_sizes": list(engine_batch_sizes),
            "engine_seconds": engine_seconds,
            "baseline_seconds": baseline_seconds,
            "seeds": "distinct per run: http level*1e6+i, engine 2e9+level*1e6+i; warm-up and hot seeds apart",
            "settings": settings.model_dump(mode="json", include=RECORDED_SETTINGS),
        },
        "machine": machine,
        "model": {
            "name": model,
            "digest": artifact.digest,
            "resolution": artifact.config.resolution,
            "channel_base": artifact.config.synthesis.channel_base,
            "channel_max": artifact.config.synthesis.channel_max,
            "macs_per_image": macs,
            "gflop_per_image": round(2 * macs["total"] / 1e9, 4),
        },
        "server": server,
        "engine": engine,
        "encode_budget": encode_budget,
        "baseline_torch_eager": torch_baseline,
        "ratios": ratios(machine, server, engine, torch_baseline),
        "notes": [
            "The HTTP client runs on the same machine as the server and competes with it for CPU (see client_cpu_cores).",
            "Engine and baseline timings exclude PNG encoding; HTTP timings include it. encode_budget: the PNG encode of the model's"
            " images at the current settings, ms per image with one thread and the encode pool, against the engine's ms per image.",
            *([] if server["http"]["load_generator"] == HTTPX else [WRK_NOTE]),
        ],
    }

    return write_results(out, f"bench-{model}", created, result, summary(result), log)
