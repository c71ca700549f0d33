"""`python -m ganserve_bench slider`: the playground's slider path. An edited seed image over HTTP,
a new strength each request (a slider being dragged), against the same seed's image without an edit,
at each concurrency level; and the edit itself, timed in-process.

The server runs with its image cache off (GANSERVE_IMAGE_CACHE_BYTES=0), so both arms synthesise
every image, and the seed's w comes from the w cache after the first request: what an edit adds is
only its own arithmetic. The two arms alternate in rounds, so that a change in how busy the machine
is falls on both.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.processes import gateway
from ganserve_bench.report import contention, header, ratio, write_results
from ganserve_bench.server import PNG_MAGIC
from ganserve_bench.timing import closed_loop, latency_stats, timed_loop

SCHEMA = "ganserve-bench-slider/1"
SEED = 42
DIRECTION = "ganspace-0"
ROUNDS = 4


def strengths(count: int) -> list[float]:
    """A slider dragged from -3 sigma to 3 sigma: a new image each request."""
    return [round(-3 + 6 * i / max(count - 1, 1), 6) for i in range(count)]


async def _arm(
    client: httpx.AsyncClient, model: str, values: list[float | None], concurrency: int, base: dict[str, str]
) -> tuple[list[float], dict]:
    async def get(value: float | None) -> str:
        params = dict(base) if value is None else {**base, "edit": f"{DIRECTION}:{value}"}
        try:
            response = await client.get(f"/v1/models/{model}/seeds/{SEED}.png", params=params)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if response.status_code != 200:
            return str(response.status_code)
        return "ok" if response.content.startswith(PNG_MAGIC) else "not a PNG"

    latencies, outcomes, _ = await closed_loop(values, concurrency, get, ok="ok")
    return latencies, dict(outcomes)


async def _http(base_url: str, model: str, requests: int, levels: list[int], base: dict[str, str], log) -> list[dict]:
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    runs = []
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:
        (await client.get(f"/v1/models/{model}/seeds/{SEED}.png", params=base)).raise_for_status()  # w now cached
        for level in levels:
            await _arm(client, model, [None] * 2 * level, level, base)  # connections open, threads warm
            per_round = max(1, requests // ROUNDS)
            plain: list[float] = []
            edited: list[float] = []
            outcomes: dict[str, dict] = {"plain": {}, "edited": {}}
            for round_index in range(ROUNDS):
                latencies, counts = await _arm(client, model, [None] * per_round, level, base)
                plain += latencies
                outcomes["plain"][round_index] = counts
                values = strengths(per_round * ROUNDS)[round_index::ROUNDS]
                latencies, counts = await _arm(client, model, list(values), level, base)
                edited += latencies
                outcomes["edited"][round_index] = counts
            run = {
                "concurrency": level,
                "requests_per_arm": per_round * ROUNDS,
                "plain_latency_ms": latency_stats(plain),
                "edited_latency_ms": latency_stats(edited),
                "errors": {
                    arm: sum(n for counts in rounds.values() for k, n in counts.items() if k != "ok") for arm, rounds in outcomes.items()
                },
            }
            run["edited_over_plain_p50"] = ratio(run["edited_latency_ms"]["p50"], run["plain_latency_ms"]["p50"])
            run["edited_over_plain_p99"] = ratio(run["edited_latency_ms"]["p99"], run["plain_latency_ms"]["p99"])
            p50_plain, p50_edited = run["plain_latency_ms"]["p50"], run["edited_latency_ms"]["p50"]
            log(f"  c={level}: p50 {p50_plain} ms plain, {p50_edited} ms edited ({run['edited_over_plain_p50']}x)")
            runs.append(run)
    return runs


def edit_cost(model: str, models_dir: Path | None, seconds: float) -> dict:
    """The edit's own work, in-process, as the request path runs it: checking and resolving the edits,
    their offsets, and adding them after truncation; one edit and GANSERVE_MAX_EDITS edits."""
    from ganserve.artifacts import find_artifact
    from ganserve.cache import make_caches
    from ganserve.engines import load_engine
    from ganserve.pipeline import ModelPipeline
    from ganserve.protocol import Edit, Latent
    from ganserve.settings import Settings

    settings = Settings() if models_dir is None else Settings(models_dir=models_dir)
    artifact = find_artifact(settings.models_dir, model)
    pipeline = ModelPipeline(artifact, load_engine(artifact, settings, None), settings, make_caches(settings)[0])
    ws = np.random.default_rng(0).standard_normal((1, artifact.config.num_ws, artifact.config.w_dim)).astype(np.float32)
    found = {}
    for count in (1, settings.max_edits):
        latent = Latent(seed=SEED, edits=[Edit(direction=f"ganspace-{i % 32}", strength=1.5, layers="coarse") for i in range(count)])

        def edit(_: int, latent: Latent = latent) -> None:
            pipeline.truncate(ws, 0.7, None, pipeline.edit_offset(latent, "latent"))

        def plain(_: int) -> None:
            pipeline.truncate(ws, 0.7, None, pipeline.edit_offset(Latent(seed=SEED), "latent"))

        with_edit, _ = timed_loop(seconds, 200, edit)
        without, _ = timed_loop(seconds, 200, plain)
        entry = {"with_ms": latency_stats(with_edit), "without_ms": latency_stats(without)}
        entry["added_p50_ms"] = round(entry["with_ms"]["p50"] - entry["without_ms"]["p50"], 4)
        found[f"{count}_edits"] = entry
    pipeline.engine.close()
    return found


def run_slider_benchmark(model: str, out: Path, requests: int, levels: list[int], log=print) -> Path:
    created, started = datetime.now(UTC), time.perf_counter()
    cpu, machine = measure_machine(log)
    env = {"GANSERVE_IMAGE_CACHE_BYTES": "0"}
    with tempfile.TemporaryDirectory(prefix="ganserve-bench-") as tmp, gateway(env, Path(tmp), model) as (server, startup):
        info = httpx.get(f"{server.base_url}/v1/models/{model}", timeout=10).json()
        base = {"class": "0"} if info["c_dim"] else {}  # a conditional model: its first class
        runs = asyncio.run(_http(server.base_url, model, requests, levels, base, log))
    cost = edit_cost(model, None, seconds=1.0)
    finish_machine(cpu, machine)
    model_info = {"name": model, "resolution": info["resolution"], "version": info["version"], "engine": info["engine"]}
    result = header(SCHEMA, created, started) | {
        "machine": machine,
        "model": model_info,
        "direction": DIRECTION,
        "seed": SEED,
        "query": base,
        "image_cache": "off (GANSERVE_IMAGE_CACHE_BYTES=0): both arms synthesise every image; w from the w cache",
        "http": runs,
        "edit_in_process": cost,
        "edit_adds_under_1_ms": all(entry["added_p50_ms"] < 1.0 for entry in cost.values()),
    }
    lines = [
        f"ganserve_bench slider {model} ({info['resolution']}px) on {machine['cpu_model']}, {machine['usable_cpus']} cpus",
        *contention(machine),
    ]
    for run in runs:
        plain, edited = run["plain_latency_ms"], run["edited_latency_ms"]
        lines.append(
            f"  c={run['concurrency']}: plain p50 {plain['p50']} / p99 {plain['p99']} ms,"
            f" edited p50 {edited['p50']} / p99 {edited['p99']} ms"
            f" (x{run['edited_over_plain_p50']} / x{run['edited_over_plain_p99']})"
        )
    for name, entry in cost.items():
        lines.append(f"  in-process, {name.replace('_', ' ')}: the edit adds {entry['added_p50_ms']} ms at p50")
    return write_results(out, "bench-slider", created, result, "\n".join(lines), log)
