"""`python -m ganserve_bench openvino`: the CPU fast mode. ONNX Runtime against the OpenVINO engine in
exact mode (f32) and fast mode (bf16 synthesis where the CPU has native bf16), in this process,
on two networks:

- `official64`: an official-size StyleGAN2 at 64² (channel_base 16384, channel_max 256, 8-layer
  mapping, z and w of 512), random weights made by our own code (ganserve_bench.overload);
- `demo64`: the committed demo model (channel_max 64, z and w of 256).

For each engine: images/s at batch 1 and 8 (map then synthesize on a fixed batch, as `make bench`
times the bare engine), in interleaved rounds so that load from other processes falls on every
engine alike; also the exact engine compiled with OpenVINO's THROUGHPUT hint instead, which is
why the engine uses LATENCY and one stream. Then the quality of fast against exact over fixed seeds: max and mean absolute
uint8 difference and PSNR, and exact against ONNX Runtime (the parity the tests assert). The
results describe the machine, its CPU flags and whether bf16 was available.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ganserve import latents
from ganserve.artifacts import Artifact
from ganserve.engines import load_engine
from ganserve.settings import REPO_ROOT, EngineKind, Settings
from ganserve_bench.engine import _engine_batch, generator_macs
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.overload import MODEL as OFFICIAL
from ganserve_bench.overload import make_official
from ganserve_bench.report import contention, header, ratio, write_results

SCHEMA = "ganserve-bench-openvino/1"
NETWORKS = (OFFICIAL, "demo64")
ENGINES = {  # name in the results -> the settings that make it
    "onnxruntime": {"engine": EngineKind.onnxruntime},
    "openvino_exact": {"engine": EngineKind.openvino, "openvino_precision": "exact"},
    "openvino_fast": {"engine": EngineKind.openvino, "openvino_precision": "fast"},
}
# Not a setting: the exact engine compiled with OpenVINO's THROUGHPUT hint instead of LATENCY and one
# stream, to show why the engine does not use it (streams that one infer request at a time cannot fill).
THROUGHPUT_VARIANT = "openvino_exact_throughput_hint"
QUALITY_ENGINES = tuple(ENGINES)
QUALITY_SEED_BASE = 1_000  # seeds QUALITY_SEED_BASE .. + quality_seeds - 1
QUALITY_BATCH = 8


def openvino_facts() -> dict:
    """What OpenVINO and the CPU say about bf16 (ganserve.engines.openvino.detect_bf16)."""
    import openvino as ov

    from ganserve.engines.openvino import BF16_CPU_FLAGS, cpu_flags, detect_bf16

    core = ov.Core()
    support = detect_bf16(core)
    flags = cpu_flags()
    return {
        "openvino_version": ov.__version__,
        "optimization_capabilities": list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
        "cpu_bf16_flags": None if flags is None else [f for f in BF16_CPU_FLAGS if f in flags],
        "default_inference_precision": str(core.get_property("CPU", "INFERENCE_PRECISION_HINT")),
        "bf16_available": support.available,
        "bf16_reason": support.reason,
    }


def _images(engine, artifact: Artifact, seeds: list[int]) -> np.ndarray:
    """uint8 images of the seeds (psi 1, noise const, the first class), QUALITY_BATCH at a time, w from
    the engine's own mapping (float32 in every engine and mode)."""
    cfg = artifact.config
    out = []
    for start in range(0, len(seeds), QUALITY_BATCH):
        chunk = seeds[start : start + QUALITY_BATCH]
        c = latents.one_hot([0 if cfg.c_dim else None] * len(chunk), cfg.c_dim)
        ws = latents.broadcast_ws(engine.map(latents.seeds_to_z(chunk, cfg.z_dim), c), cfg.num_ws)
        out.append(engine.synthesize(ws, np.ones(len(chunk), np.float32)))
    return np.concatenate(out)


def _streams(engine) -> int | None:
    """NUM_STREAMS of an OpenVINO engine's synthesis graph as compiled (None for other engines)."""
    graphs = getattr(engine, "graphs", None)
    return int(graphs["synthesis"].compiled.get_property("NUM_STREAMS")) if graphs else None


def compare_images(actual: np.ndarray, reference: np.ndarray) -> dict:
    """Max and mean absolute uint8 difference, the fraction of values that differ, and PSNR (peak
    255) over all images and for the worst image."""
    difference = np.abs(actual.astype(np.float64) - reference.astype(np.float64))
    per_image = (difference**2).reshape(len(difference), -1).mean(axis=1)

    def psnr(mse: float) -> float | None:
        return None if mse == 0 else round(float(10 * np.log10(255**2 / mse)), 2)

    return {
        "images": len(actual),
        "max_abs_difference": int(difference.max()),
        "mean_abs_difference": round(float(difference.mean()), 4),
        "fraction_of_values_differing": round(float((difference > 0).mean()), 6),
        "psnr_db": psnr(float(per_image.mean())),
        "worst_image_psnr_db": psnr(float(per_image.max())),
    }


@contextmanager
def throughput_hint() -> Iterator[None]:
    """OpenVINO engines made meanwhile compile with the THROUGHPUT hint (its own stream count) in f32."""
    import openvino as ov
    import openvino.properties.hint as hints

    from ganserve.engines import openvino as module

    original = module.compile_config
    module.compile_config = lambda threads, precision: {  # type: ignore[assignment]
        hints.performance_mode: hints.PerformanceMode.THROUGHPUT,
        hints.inference_precision: ov.Type.f32,
    }
    try:
        yield
    finally:
        module.compile_config = original


def bench_network(artifact: Artifact, root: Path, batches: list[int], seconds: float, rounds: int, seeds: int, log) -> dict:
    cfg = artifact.config
    macs = generator_macs(cfg)["total"]
    engines, loaded = {}, {}
    for name, update in [*ENGINES.items(), (THROUGHPUT_VARIANT, ENGINES["openvino_exact"])]:
        settings = Settings(models_dir=artifact.directory.parent, model_repository=root, **update)
        started = time.perf_counter()
        if name == THROUGHPUT_VARIANT:
            with throughput_hint():
                engines[name] = load_engine(artifact, settings)
        else:
            engines[name] = load_engine(artifact, settings)
        loaded[name] = round(time.perf_counter() - started, 3)
    runs: dict[str, dict[int, list[dict]]] = {name: {b: [] for b in batches} for name in engines}
    for round_ in range(rounds):  # interleaved: other processes' load falls on every engine alike
        for batch in batches:
            for name, engine in engines.items():
                runs[name][batch].append(_engine_batch(engine, cfg, batch, seconds / rounds, macs))
        log(
            f"  {cfg.name} round {round_ + 1}/{rounds}: "
            + ", ".join(f"{n} b{b} {runs[n][b][-1]['images_per_s']}" for n in engines for b in batches)
        )
    results = {}
    for name, engine in engines.items():
        per_batch = []
        for batch in batches:
            rates = [r["images_per_s"] for r in runs[name][batch]]
            best = max(runs[name][batch], key=lambda r: r["images_per_s"])
            per_batch.append(
                {
                    "batch_size": batch,
                    "images_per_s_median": round(statistics.median(rates), 2),
                    "images_per_s_best": best["images_per_s"],
                    "images_per_s_rounds": rates,
                    "latency_ms_p50_best_round": best["latency_ms"]["p50"],
                    "synthesize_ms_mean_best_round": best["synthesize_ms_mean"],
                    "achieved_gflops_best_round": best["achieved_gflops"],
                }
            )
        results[name] = {
            "precision": engine.precision,
            "precision_reason": engine.precision_reason,
            "load_s": loaded[name],
            "threads": getattr(engine, "threads", None),
            "openvino_streams": _streams(engine),
            "batches": per_batch,
        }
    quality_seeds = [QUALITY_SEED_BASE + i for i in range(seeds)]
    images = {name: _images(engines[name], artifact, quality_seeds) for name in QUALITY_ENGINES}
    quality = {
        "seeds": f"{quality_seeds[0]}..{quality_seeds[-1]}, psi 1, noise const, batches of {QUALITY_BATCH}",
        "fast_vs_exact": compare_images(images["openvino_fast"], images["openvino_exact"]),
        "exact_vs_onnxruntime": compare_images(images["openvino_exact"], images["onnxruntime"]),
        "fast_vs_onnxruntime": compare_images(images["openvino_fast"], images["onnxruntime"]),
    }
    for engine in engines.values():
        engine.close()
    speedups = {}
    for batch_index, batch in enumerate(batches):
        rate = {name: results[name]["batches"][batch_index]["images_per_s_median"] for name in engines}
        speedups[f"batch_{batch}"] = {
            "openvino_exact_over_onnxruntime": ratio(rate["openvino_exact"], rate["onnxruntime"]),
            "openvino_fast_over_onnxruntime": ratio(rate["openvino_fast"], rate["onnxruntime"]),
            "openvino_fast_over_openvino_exact": ratio(rate["openvino_fast"], rate["openvino_exact"]),
            "throughput_hint_over_openvino_exact": ratio(rate[THROUGHPUT_VARIANT], rate["openvino_exact"]),
        }
    return {
        "network": cfg.model_dump(include={"name", "resolution", "z_dim", "w_dim", "mapping", "synthesis"})
        | {"gmac_per_image": round(macs / 1e9, 3), "source": cfg.source.kind},
        "engines": results,
        "speedups_of_medians": speedups,
        "quality": quality,
    }


def run_openvino_benchmark(
    out: Path,
    networks: tuple[str, ...] = NETWORKS,
    batches: tuple[int, ...] = (1, 8),
    seconds: float = 6.0,
    rounds: int = 3,
    quality_seeds: int = 64,
    log: Callable[[str], None] = print,
) -> Path:
    """seconds: timed per engine and batch size, split over `rounds` interleaved rounds."""
    created, started = datetime.now(UTC), time.perf_counter()
    cpu, machine = measure_machine(log)
    facts = openvino_facts()
    machine["versions"]["openvino"] = facts["openvino_version"]
    machine["openvino"] = facts
    log(f"  bf16: {facts['bf16_available']} ({facts['bf16_reason']})")
    measured = {}
    with tempfile.TemporaryDirectory(prefix="ganserve-bench-") as tmp:
        for name in networks:
            if name == OFFICIAL:
                log("  making and compiling the official-size 64x64 network")
                models, root = Path(tmp) / "models", Path(tmp) / "repo"
                artifact = make_official(models, root)
            else:
                artifact, root = Artifact(REPO_ROOT / "models" / name), REPO_ROOT / "model_repository"
            measured[name] = bench_network(artifact, root, list(batches), seconds, rounds, quality_seeds, log)
    finish_machine(cpu, machine)
    result = header(SCHEMA, created, started) | {
        "machine": machine,
        "parameters": {
            "networks": list(networks),
            "batches": list(batches),
            "seconds_per_engine_and_batch": seconds,
            "rounds": rounds,
            "quality_seeds": quality_seeds,
            "threads": "all usable cores (GANSERVE_THREADS=0) for every engine",
            "what_is_timed": "map then synthesize on one fixed batch of distinct seeds (ganserve_bench.engine._engine_batch)",
        },
        "networks": measured,
    }
    return write_results(out, "bench-openvino", created, result, summary(result), log)


def summary(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"ganserve_bench openvino on {m['cpu_model']}, {m['usable_cpus']} cpus, flags {' '.join(m['cpu_vector_flags'] or [])}",
        f"bf16 available: {m['openvino']['bf16_available']} ({m['openvino']['bf16_reason']})",
        "",
        f"{'network':<12}{'engine':<32}{'precision':<10}{'streams':>8}"
        + "".join(f"{'b' + str(b['batch_size']) + ' img/s':>14}" for b in _first(result)),
    ]
    for name, network in result["networks"].items():
        for engine, run in network["engines"].items():
            cells = "".join(f"{b['images_per_s_median']:>14}" for b in run["batches"])
            lines.append(f"{name:<12}{engine:<32}{run['precision']:<10}{run['openvino_streams'] or '-':>8}{cells}")
    lines.append("")
    for name, network in result["networks"].items():
        q = network["quality"]
        fast, exact = q["fast_vs_exact"], q["exact_vs_onnxruntime"]
        lines.append(
            f"{name}: fast vs exact over {fast['images']} seeds: max {fast['max_abs_difference']},"
            f" mean {fast['mean_abs_difference']} levels,"
            f" PSNR {fast['psnr_db']} dB (worst image {fast['worst_image_psnr_db']}); exact vs ONNX Runtime: max"
            f" {exact['max_abs_difference']}, {exact['fraction_of_values_differing']:.4%} of values differ"
        )
    lines += contention(m)
    return "\n".join(lines)


def _first(result: dict) -> list[dict]:
    network = next(iter(result["networks"].values()))
    return next(iter(network["engines"].values()))["batches"]
