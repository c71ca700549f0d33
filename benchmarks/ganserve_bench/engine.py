"""The generator in this process, without HTTP or encoding: the ONNX Runtime engine on fixed batches
and behind the server's own pipeline and micro-batchers, the eager-torch baseline a user would run
instead, and what one image costs in multiply-accumulates."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

import numpy as np

from ganserve import latents
from ganserve.artifacts import Artifact, ModelConfig
from ganserve.cache.memory import MemoryCache
from ganserve.engines.base import Engine
from ganserve.pipeline import ModelPipeline, NoiseMode
from ganserve.settings import Settings
from ganserve_bench.timing import closed_loop, closed_loop_record, latency_stats, timed_loop

# Apart from the seeds the server is sent; concurrency level L uses ENGINE_SEED_BASE + L * 1e6 + i.
ENGINE_SEED_BASE = 2_000_000_000


def generator_macs(config: ModelConfig) -> dict[str, int]:
    """Multiply-accumulates per image as executed here (StyleGAN2 layout).

    A 3x3 conv at resolution r costs r*r*9*in*out; the up-sampling conv is a stride-2 transposed
    conv, which executes at its input resolution (r/2)**2*9*in*out (papers that count it at the
    output resolution quote about twice the total). This reproduces the 74 GMAC of config F at 1024.
    """
    cfg, syn = config, config.synthesis
    resolutions = [2**i for i in range(2, config.resolution.bit_length())]
    channels = {r: min(syn.channel_base // r, syn.channel_max) for r in resolutions}
    conv = torgb = fir = affine = 0
    for r in resolutions:
        out = channels[r]
        conv += r * r * 9 * out * out  # conv1
        affine += cfg.w_dim * out * 2  # conv1 and toRGB styles
        torgb += r * r * out * cfg.img_channels
        if r > 4:
            cin = channels[r // 2]
            conv += (r // 2) ** 2 * 9 * cin * out  # conv0, transposed
            affine += cfg.w_dim * cin
            fir += r * r * 16 * out + r * r * 16 * cfg.img_channels  # conv0 FIR and the skip image up-sampling
    embed = cfg.w_dim if cfg.c_dim else 0  # NVlabs embeds c to w_dim features and concatenates them to z
    mapping = cfg.c_dim * embed + (cfg.z_dim + embed) * cfg.w_dim + (cfg.mapping.num_layers - 1) * cfg.w_dim * cfg.w_dim
    total = conv + torgb + fir + affine + mapping
    return {"conv3x3": conv, "torgb": torgb, "fir_filters": fir, "affine": affine, "mapping": mapping, "total": total}


def bench_engine(
    artifact: Artifact,
    settings: Settings,
    requests: int,
    levels: list[int],
    batch_sizes: list[int],
    seconds: float,
    log: Callable[[str], None],
) -> dict:
    from ganserve.engines.onnxruntime import OnnxRuntimeEngine

    macs = generator_macs(artifact.config)["total"]
    started = time.perf_counter()
    engine = OnnxRuntimeEngine(artifact, settings)
    load_s = time.perf_counter() - started
    batches = [_engine_batch(engine, artifact.config, batch, seconds, macs) for batch in batch_sizes]
    for b in batches:
        log(f"  engine batch {b['batch_size']}: {b['images_per_s']} img/s, p50 {b['latency_ms']['p50']} ms")

    async def concurrent() -> list[dict]:
        pipeline = ModelPipeline(artifact, engine, settings, MemoryCache(settings.w_cache_entries))
        try:
            return [await _pipeline_run(pipeline, requests, level) for level in levels]
        finally:
            await pipeline.close()  # also closes the engine

    runs = asyncio.run(concurrent())
    for r in runs:
        log(f"  engine c={r['concurrency']}: {r['throughput_images_per_s']} img/s, p50 {r['latency_ms']['p50']} ms")
    return {
        "name": "onnxruntime",
        "threads_setting": settings.threads,
        "load_s": round(load_s, 4),
        "batches": batches,
        "concurrency": {
            "batch_max_size": settings.batch_max_size,
            "batch_max_delay_ms": settings.batch_max_delay_ms,
            "levels": runs,
        },
    }


def _engine_batch(engine: Engine, config: ModelConfig, batch: int, seconds: float, macs: int) -> dict:
    """map() then synthesize() on one fixed batch of distinct seeds: the engine's own ceiling."""
    z = latents.seeds_to_z([ENGINE_SEED_BASE + i for i in range(batch)], config.z_dim)
    c = np.repeat(latents.one_hot([0 if config.c_dim else None], config.c_dim), batch, axis=0)
    gain = np.ones([batch], np.float32)
    map_ms, synth_ms = [], []

    def step(_: int) -> None:
        t0 = time.perf_counter()
        ws = latents.broadcast_ws(engine.map(z, c), config.num_ws)
        t1 = time.perf_counter()
        engine.synthesize(ws, gain)
        map_ms.append((t1 - t0) * 1000)
        synth_ms.append((time.perf_counter() - t1) * 1000)

    step(0)  # warm-up: first run at a new shape
    map_ms.clear()
    synth_ms.clear()
    latencies, wall = timed_loop(seconds, 3, step)
    rate = len(latencies) * batch / wall
    return {
        "batch_size": batch,
        "iterations": len(latencies),
        "images_per_s": round(rate, 2),
        "latency_ms": latency_stats(latencies),
        "map_ms_mean": round(statistics.fmean(map_ms), 3),
        "synthesize_ms_mean": round(statistics.fmean(synth_ms), 3),
        "achieved_gflops": round(2 * macs * rate / 1e9, 2),
    }


async def _pipeline_run(pipeline: ModelPipeline, requests: int, concurrency: int) -> dict:
    """What the seeds route does, minus HTTP and encoding: w_from_seeds, truncate, synthesize."""

    async def generate(seed: int) -> str:
        try:
            w = await pipeline.w_from_seeds([seed], None)
            ws = pipeline.truncate(latents.broadcast_ws(w, pipeline.config.num_ws), 1.0, None)
            await pipeline.synthesize(ws, NoiseMode.const)
        except Exception as exc:  # counted and reported, like an HTTP error
            return type(exc).__name__
        return "ok"

    base = ENGINE_SEED_BASE + concurrency * 1_000_000
    await closed_loop([base + 500_000 + i for i in range(min(requests, 2 * concurrency))], concurrency, generate, ok="ok")  # warm-up
    pipeline.synthesis.batch_sizes.clear()
    latencies, outcomes, wall = await closed_loop([base + i for i in range(requests)], concurrency, generate, ok="ok")
    batches = pipeline.synthesis.batch_sizes
    return {
        **closed_loop_record(concurrency, requests, latencies, outcomes, wall),
        "synthesis_batches": len(batches),
        "mean_synthesis_batch": round(statistics.fmean(batches), 2) if batches else None,
    }


def bench_torch_baseline(artifact: Artifact, settings: Settings, seconds: float, log: Callable[[str], None]) -> dict:
    """Eager PyTorch on the same weights, one seed at a time, as a gen_images.py loop would run it."""
    try:
        import torch
    except ImportError as exc:
        return {"status": "skipped", "reason": f"torch is not importable: {exc}"}
    from ganserve.engines.torch import TorchEngine

    config = artifact.config
    engine = TorchEngine(artifact, settings.model_copy(update={"device": "cpu"}))
    c = latents.one_hot([0 if config.c_dim else None], config.c_dim)
    gain = np.ones([1], np.float32)

    def step(i: int) -> None:
        z = latents.seeds_to_z([ENGINE_SEED_BASE + i], config.z_dim)
        engine.synthesize(latents.broadcast_ws(engine.map(z, c), config.num_ws), gain)

    for i in range(2):  # warm-up
        step(i)
    latencies, wall = timed_loop(seconds, 3, step)
    engine.close()
    rate = len(latencies) / wall
    log(f"  torch eager batch 1: {rate:.2f} img/s")
    return {
        "status": "ok",
        "implementation": "ganserve.engines.torch.TorchEngine (eager, inference_mode), batch 1: seed -> z -> map -> synthesize -> uint8",
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "images": len(latencies),
        "images_per_s": round(rate, 2),
        "latency_ms": latency_stats(latencies),
    }
