"""The runs of `python -m ganserve_bench triton`: a bare tritonclient gRPC client (Python, asyncio) doing the
gateway's engine work, HTTP load on a gateway (wrk where installed, else httpx), Triton's own
statistics around each run, and what a process tree (tritonserver and its Python-backend stubs)
holds and spends."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from pathlib import Path

import httpx
import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import InferenceServerException

from ganserve import latents
from ganserve.artifacts import ModelConfig
from ganserve.encode import ImageFormat, encode_image
from ganserve.repository import entry_name
from ganserve.settings import Settings
from ganserve_bench import proc
from ganserve_bench import wrk as wrk_runs
from ganserve_bench.server import HTTP_SECONDS, WARMUP_SECONDS, WARMUP_SEED_BASE, _http_run, seed_path
from ganserve_bench.timing import closed_loop, closed_loop_record, latency_stats

# Seeds of the direct client: apart from the HTTP ones (level * 1e6 + i) and their warm-up seeds.
DIRECT_SEED_BASE = 3_000_000_000


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (tritonserver starts one Python-backend stub per model instance)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def pss_bytes(pid: int) -> int | None:
    """Proportional set size: shared pages split between the processes that map them, so sums add up."""
    return proc.kib_to_bytes(proc.fields(f"/proc/{pid}/smaps_rollup", ["Pss"])["Pss"])


def tree_memory(pid: int) -> dict:
    """RSS (each process counts shared pages again) and PSS of a process and its descendants."""
    pids = process_tree(pid)
    rss = [proc.memory(p)["rss_bytes"] for p in pids]
    pss = [pss_bytes(p) for p in pids]
    return {
        "processes": len(pids),
        "rss_bytes": sum(r for r in rss if r),
        "pss_bytes": sum(p for p in pss if p),
        "main_rss_bytes": rss[0],
    }


def tree_cpu_seconds(pid: int) -> float:
    return sum(proc.cpu_seconds(p) or 0.0 for p in process_tree(pid))


class TritonWatch:
    """Triton's statistics and CPU time before and after a run: batch sizes it formed, where requests waited."""

    def __init__(self, client: grpcclient.InferenceServerClient, models: list[str], pid: int):
        self.client, self.models, self.pid = client, models, pid

    async def snapshot(self) -> dict:
        stats = {}
        for model in self.models:
            stats[model] = (await self.client.get_inference_statistics(model, as_json=True))["model_stats"][0]
        return {"stats": stats, "cpu_s": tree_cpu_seconds(self.pid), "t": time.perf_counter()}

    @staticmethod
    def delta(before: dict, after: dict) -> dict:
        wall = after["t"] - before["t"]
        out = {"triton_cpu_cores": round((after["cpu_s"] - before["cpu_s"]) / wall, 3), "models": {}}
        for model, end in after["stats"].items():
            start = before["stats"][model]
            executions = int(end.get("execution_count", 0)) - int(start.get("execution_count", 0))
            inferences = int(end.get("inference_count", 0)) - int(start.get("inference_count", 0))
            batches = {}
            for stat in end.get("batch_stats", []):
                old = next((s for s in start.get("batch_stats", []) if s["batch_size"] == stat["batch_size"]), None)
                n = _count(stat, "compute_infer") - (_count(old, "compute_infer") if old else 0)
                if n:
                    batches[int(stat["batch_size"])] = n
            out["models"][model] = {
                "executions": executions,
                "inferences": inferences,
                "mean_batch": round(inferences / executions, 2) if executions else None,
                "batch_sizes": dict(sorted(batches.items())),
                # Per request (Triton attributes a whole batch's compute to each request in it).
                "queue_ms_mean": _mean_ms(start, end, "queue"),
                "request_ms_mean": _mean_ms(start, end, "success"),
                # Per execution: what one backend call cost, summed over the batch sizes it ran.
                "compute_ms_per_execution": _per_execution_ms(start, end, executions),
            }
        return out


def _count(stat: dict | None, key: str, field: str = "count") -> int:
    return int((stat or {}).get(key, {}).get(field, 0))


def _stats(model: dict, key: str, field: str) -> int:
    return _count(model.get("inference_stats"), key, field)


def _mean_ms(start: dict, end: dict, key: str) -> float | None:
    count = _stats(end, key, "count") - _stats(start, key, "count")
    ns = _stats(end, key, "ns") - _stats(start, key, "ns")
    return round(ns / count / 1e6, 3) if count else None


def _per_execution_ms(start: dict, end: dict, executions: int) -> float | None:
    parts = ("compute_input", "compute_infer", "compute_output")

    def total(model: dict) -> int:
        return sum(_count(s, part, "ns") for s in model.get("batch_stats", []) for part in parts)

    return round((total(end) - total(start)) / executions / 1e6, 3) if executions else None


async def direct_levels(
    url: str, config: ModelConfig, levels: list[int], requests: int, pid: int, settings: Settings, encoder: Executor | None = None
) -> list[dict]:
    """The gateway's engine work for one seed image, from one bare tritonclient aio client: z from the
    seed, mapping, ws = w broadcast, synthesis; with an encoder, PNG-encoded there too, as the gateway does."""
    from ganserve.engines.triton import CHANNEL_ARGS

    mapping, synthesis = entry_name(config.name, "mapping"), entry_name(config.name, "synthesis")
    gain = np.ones([1, 1], np.float32)
    c = latents.one_hot([0], config.c_dim) if config.c_dim else None
    loop = asyncio.get_running_loop()
    client = grpcclient.InferenceServerClient(url, channel_args=CHANNEL_ARGS)

    async def infer(model: str, feeds: dict[str, np.ndarray], output: str) -> np.ndarray:
        inputs = []
        for name, array in feeds.items():
            tensor = grpcclient.InferInput(name, list(array.shape), "FP32")
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        return (await client.infer(model, inputs, client_timeout=settings.triton_timeout_s)).as_numpy(output)

    encode_ms: list[float] = []

    def encode(image: np.ndarray) -> None:
        t0 = time.perf_counter()
        encode_image(image, ImageFormat.png, settings)
        encode_ms.append((time.perf_counter() - t0) * 1000)

    async def generate(seed: int) -> str:
        try:
            feeds = {"z": latents.seeds_to_z([seed], config.z_dim)} | ({"c": c} if c is not None else {})
            w = await infer(mapping, feeds, "w")
            images = await infer(synthesis, {"ws": latents.broadcast_ws(w, config.num_ws), "noise_gain": gain}, "images")
            if encoder is not None:
                await loop.run_in_executor(encoder, encode, images[0])
        except InferenceServerException as exc:
            return f"grpc {exc.status()}"
        return "ok"

    watch = TritonWatch(client, [mapping, synthesis], pid)
    runs = []
    try:
        for level in levels:
            base = DIRECT_SEED_BASE + level * 1_000_000
            await closed_loop([base + 500_000 + i for i in range(min(requests, 2 * level))], level, generate, ok="ok")  # warm-up
            before, client_cpu = await watch.snapshot(), time.process_time()
            encode_ms.clear()
            latencies, outcomes, wall = await closed_loop([base + i for i in range(requests)], level, generate, ok="ok")
            client_cores = round((time.process_time() - client_cpu) / wall, 3)
            runs.append(
                {
                    **closed_loop_record(level, requests, latencies, outcomes, wall),
                    "client_cpu_cores": client_cores,
                    "triton": TritonWatch.delta(before, await watch.snapshot()),
                }
            )
            if encoder is not None:  # the encoder's own time, in its thread (the GIL and the CPU are shared)
                runs[-1]["png_encode_ms"] = latency_stats(encode_ms)
    finally:
        await client.close()
    return runs


async def http_levels(
    base_url: str,
    model: str,
    levels: list[int],
    requests: int,
    pid: int,
    triton: tuple[str, int] | None,
    *,
    wrk: wrk_runs.Wrk | None = None,
    seconds: int = HTTP_SECONDS,
) -> list[dict]:
    """GET /v1/models/<model>/seeds/<seed>.png on distinct seeds per level (as `python -m ganserve_bench server` does):
    from wrk for `seconds` per level when given, else from the httpx client for `requests` per level;
    with triton = (grpc url, tritonserver pid), Triton's statistics and CPU for each run too (after a
    wrk run, once the gateway has answered what wrk left in flight, so Triton saw every request sent)."""
    stats_client = grpcclient.InferenceServerClient(triton[0]) if triton else None
    watch = TritonWatch(stats_client, [entry_name(model, "mapping"), entry_name(model, "synthesis")], triton[1]) if triton else None
    runs = []
    try:
        if wrk is not None:
            for level in levels:
                # The wrk runs block this event loop; nothing else runs on it meanwhile.
                warmup = WARMUP_SEED_BASE + level * 10_000
                wrk_runs.run(wrk, base_url, seed_path(model), level, min(WARMUP_SECONDS, seconds), first_seed=warmup)
                before = await watch.snapshot() if watch else None
                run = wrk_runs.run(wrk, base_url, seed_path(model), level, seconds, first_seed=level * 1_000_000, pid=pid)
                if watch:
                    run["triton"] = TritonWatch.delta(before, await watch.snapshot())
                runs.append(run)
            return runs
        widest = max(levels)
        limits = httpx.Limits(max_connections=widest, max_keepalive_connections=widest)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:
            for level in levels:
                warmup = [WARMUP_SEED_BASE + level * 10_000 + i for i in range(min(requests, 2 * level))]
                await _http_run(client, model, warmup, level, pid)  # opens the connections, fills the thread pools
                before = await watch.snapshot() if watch else None
                run = await _http_run(client, model, [level * 1_000_000 + i for i in range(requests)], level, pid)
                if watch:
                    run["triton"] = TritonWatch.delta(before, await watch.snapshot())
                runs.append(run)
    finally:
        if stats_client is not None:
            await stats_client.close()
    return runs
