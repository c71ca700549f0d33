"""How the benchmark times work: a loop that runs for a set time, a closed loop of concurrent
requests, and the latency statistics kept for both."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import numpy as np


def timed_loop(seconds: float, min_iterations: int, step: Callable[[int], None]) -> tuple[list[float], float]:
    """Call step(i) until `seconds` have passed (at least min_iterations times): per-call ms and wall s."""
    latencies = []
    start = time.perf_counter()
    i = 0
    while i < min_iterations or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        step(i)
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    return latencies, time.perf_counter() - start


async def closed_loop(
    seeds: list[int], concurrency: int, request: Callable[[int], Awaitable[str]], ok: str
) -> tuple[list[float], Counter[str], float]:
    """`concurrency` workers share the seeds, each waiting for one answer before sending the next, as
    real clients do. request(seed) returns an outcome; failures count by kind, and only `ok` outcomes
    count towards latency, so fast errors cannot flatter it. Returns ms per ok request, the outcome
    counts and the wall seconds."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    pending = iter(seeds)

    async def worker() -> None:
        for seed in pending:
            t0 = time.perf_counter()
            outcome = await request(seed)
            elapsed_ms = (time.perf_counter() - t0) * 1000
            outcomes[outcome] += 1
            if outcome == ok:
                latencies.append(elapsed_ms)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, outcomes, time.perf_counter() - start


def latency_stats(latencies_ms: list[float]) -> dict:
    if not latencies_ms:
        return {"p50": None, "p90": None, "p99": None, "mean": None, "min": None, "max": None}
    values = np.asarray(latencies_ms)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "p50": round(float(p50), 3),
        "p90": round(float(p90), 3),
        "p99": round(float(p99), 3),
        "mean": round(float(values.mean()), 3),
        "min": round(float(values.min()), 3),
        "max": round(float(values.max()), 3),
    }


def closed_loop_record(concurrency: int, requests: int, latencies: list[float], outcomes: Counter, wall: float) -> dict:
    """The common fields of one closed-loop level, as every benchmark reports them."""
    return {
        "concurrency": concurrency,
        "requests": requests,
        "errors": requests - outcomes["ok"],
        "outcomes": dict(outcomes),
        "wall_s": round(wall, 4),
        "throughput_images_per_s": round(outcomes["ok"] / wall, 2),
        "latency_ms": latency_stats(latencies),
    }
