"""`ganserve bench`: measure the real server, the bare engine and the eager-torch baseline in one run.

Everything is measured on the same machine in the same run, so the ratios between the parts mean
something even on a noisy shared machine. Results go to a JSON file that also describes the machine.

1. The server as users start it, in a subprocess: time to /readyz, whether it loaded torch (read
   from /proc/<pid>/maps, so nothing in the server has to cooperate), RSS after the load.
2. HTTP load with distinct seeds per concurrency level (no cache hits), then one hot run on a
   single seed (cache hits).
3. The ONNX Runtime engine in this process: fixed batches, then concurrent requests through the
   same pipeline and micro-batchers that the server uses, without HTTP or encoding.
4. The baseline a user would run instead: the same weights in eager PyTorch, one image at a time.
5. The machine: CPU, memory, versions, commit and its measured fp32 matmul GFLOP/s, against which
   the generator's achieved GFLOP/s is reported.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import httpx
import numpy as np

from ganserve import latents
from ganserve.artifacts import Artifact, ModelConfig, discover
from ganserve.cache import LRUCache
from ganserve.pipeline import ModelPipeline, NoiseMode
from ganserve.settings import REPO_ROOT, Settings

SCHEMA = "ganserve-bench/1"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
READY_POLL_S = 0.01
READY_TIMEOUT_S = 120.0
# Seed ranges: each measured set is disjoint from every other, so neither the w cache nor the image
# cache can answer a request that is meant to miss.
WARMUP_SEED_BASE = 900_000_000
HOT_SEED = 999_999_999
ENGINE_SEED_BASE = 2_000_000_000
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


# -- small helpers ---------------------------------------------------------------------------------
def _latency_stats(latencies_ms: list[float]) -> dict:
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory(pid: int) -> dict[str, int | None]:
    """RSS and peak RSS (VmRSS, VmHWM) in bytes, from /proc/<pid>/status."""
    fields = {"VmRSS": "rss_bytes", "VmHWM": "peak_rss_bytes"}
    values: dict[str, int | None] = dict.fromkeys(fields.values())
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in fields:
                values[fields[key]] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return values


def _loaded_libraries(pid: int) -> dict[str, bool | None]:
    """Which native runtimes are mapped into the process: the server must map onnxruntime and never torch."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return {"torch": None, "onnxruntime": None}
    return {"torch": "libtorch" in maps, "onnxruntime": "onnxruntime" in maps}


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


class CpuAccount:
    """How much CPU other processes used while the benchmark ran: all busy time in /proc/stat less
    this process's and its children's (the server, once reaped). On a shared machine this says
    whether the figures can be trusted; steal is time the hypervisor gave to other machines."""

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float, float] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        except (OSError, ValueError, IndexError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        tick = os.sysconf("SC_CLK_TCK")
        own = sum(
            resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        return (user + nice + system + irq + softirq) / tick, steal / tick, own, time.perf_counter()

    def report(self) -> dict:
        end = self._read()
        if self.start is None or end is None:
            return {"foreign_cpu_cores": None, "steal_cpu_cores": None}
        (busy0, steal0, own0, t0), (busy1, steal1, own1, t1) = self.start, end
        wall = t1 - t0
        return {
            "foreign_cpu_cores": round(max(0.0, (busy1 - busy0) - (own1 - own0)) / wall, 3),
            "steal_cpu_cores": round((steal1 - steal0) / wall, 3),
            "own_cpu_cores": round((own1 - own0) / wall, 3),
        }


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# -- the machine ------------------------------------------------------------------------------------
def matmul_gflops(n: int = 2048, repeats: int = 5) -> dict:
    """fp32 numpy matmul, the machine's practical dense-compute ceiling on this BLAS."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: thread pool start, page faults
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
    return {"n": n, "repeats": repeats, "best_gflops": round(max(rates), 2), "median_gflops": round(statistics.median(rates), 2)}


def describe_machine() -> dict:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_total = int(line.split()[1]) * 1024
    except OSError:
        pass
    status = _git("status", "--porcelain")
    return {
        "cpu_model": cpu_model or platform.processor() or None,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_total_bytes": memory_total,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name) for name in ("ganserve", "numpy", "onnxruntime", "torch", "fastapi", "uvicorn", "httpx", "pillow")
        },
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "load_average_at_start": _load_average(),  # other work on a shared machine skews every figure
        "matmul_fp32": matmul_gflops(),
    }


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


# -- the server -------------------------------------------------------------------------------------
class ServerProcess:
    """`ganserve serve` in a subprocess on a free loopback port; always terminated by stop()."""

    def __init__(self, log_path: Path):
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> dict:
        env = {**os.environ, "GANSERVE_HOST": "127.0.0.1", "GANSERVE_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-c", "from ganserve.cli import app; app()", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            started = time.perf_counter()
            self.proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        polls = 0
        with httpx.Client(base_url=self.base_url, timeout=1.0) as client:
            while True:
                polls += 1
                try:
                    response = client.get("/readyz")
                    if response.status_code == 200:
                        ready_s = time.perf_counter() - started
                        body = response.json()
                        break
                except httpx.TransportError:
                    pass
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with code {self.proc.returncode} before it was ready:\n{self.log_tail()}")
                if time.perf_counter() - started > READY_TIMEOUT_S:
                    raise RuntimeError(f"the server was not ready after {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")
                time.sleep(READY_POLL_S)
        reported = re.search(r"ready in ([0-9.]+) s", self.log_path.read_text(errors="replace"))
        return {
            "pid": self.proc.pid,
            "port": self.port,
            "time_to_ready_s": round(ready_s, 4),
            "lifespan_reported_ready_s": float(reported[1]) if reported else None,
            "readyz_polls": polls,
            "readyz_body": body,
        }

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _parse_metrics(text: str) -> dict:
    """The server's own counters worth keeping: cache lookups and requests by route and status."""
    out: dict[str, dict[str, float]] = {"cache_lookups": {}, "requests": {}}
    for line in text.splitlines():
        match = re.match(r"^(ganserve_cache_lookups|ganserve_requests_total)\{(.*)\} ([0-9.e+-]+)$", line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match[2]))
        if match[1] == "ganserve_cache_lookups":
            out["cache_lookups"][f"{labels['cache']}_{labels['result']}"] = float(match[3])
        else:
            out["requests"][f"{labels['route']} {labels['status']}"] = float(match[3])
    return out


async def _http_run(client: httpx.AsyncClient, model: str, seeds: list[int], concurrency: int, pid: int) -> dict:
    """GET one PNG per seed with `concurrency` requests in flight; latency per request, errors by kind."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    pending = iter(seeds)

    async def worker() -> None:
        for seed in pending:
            start = time.perf_counter()
            try:
                response = await client.get(f"/v1/models/{model}/seeds/{seed}.png")
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
                continue
            elapsed_ms = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                outcomes[str(response.status_code)] += 1
            elif not response.content.startswith(PNG_MAGIC):
                outcomes["200 not a PNG"] += 1
            else:
                outcomes["200"] += 1
                latencies.append(elapsed_ms)

    server_cpu, client_cpu = _cpu_seconds(pid), time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    server_cpu_end = _cpu_seconds(pid)
    ok = outcomes["200"]
    return {
        "concurrency": concurrency,
        "requests": len(seeds),
        "ok": ok,
        "errors": len(seeds) - ok,
        "outcomes": dict(outcomes),
        "wall_s": round(wall, 4),
        "throughput_images_per_s": round(ok / wall, 2),
        "latency_ms": _latency_stats(latencies),
        # The client shares the machine: how many cores each side kept busy during the run.
        "server_cpu_cores": None if server_cpu is None or server_cpu_end is None else round((server_cpu_end - server_cpu) / wall, 3),
        "client_cpu_cores": round((time.process_time() - client_cpu) / wall, 3),
    }


async def _http_load(base_url: str, model: str, requests: int, levels: list[int], hot_concurrency: int, pid: int, log) -> dict:
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
    return {"format": "png", "levels": runs, "hot": hot, "server_metrics": metrics}


def bench_server(model: str, requests: int, levels: list[int], hot_concurrency: int, log) -> dict:
    with tempfile.TemporaryDirectory(prefix="ganserve-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "server.log")
        try:
            result = {"startup": server.start()}
            pid = server.proc.pid
            result["memory_at_ready"] = _memory(pid)
            result["libraries_at_ready"] = _loaded_libraries(pid)
            log(f"  server ready in {result['startup']['time_to_ready_s']:.3f} s (pid {pid}, port {server.port})")
            if model not in result["startup"]["readyz_body"].get("models", []):
                raise RuntimeError(f"the server did not load model {model!r}: {result['startup']['readyz_body']}")
            result["http"] = asyncio.run(_http_load(server.base_url, model, requests, levels, hot_concurrency, pid, log))
            result["memory_after_load"] = _memory(pid)
            result["libraries_after_load"] = _loaded_libraries(pid)
            result["torch_loaded"] = result["libraries_after_load"]["torch"]
        finally:
            result_code = server.stop()
        result["exit_code"] = result_code
        return result


# -- the engine in this process ---------------------------------------------------------------------
def _timed_loop(seconds: float, min_iterations: int, step: Callable[[int], None]) -> tuple[list[float], float]:
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


def bench_engine_batches(engine, config: ModelConfig, batch_sizes: list[int], seconds: float, macs: int) -> list[dict]:
    """map() then synthesize() on fixed batches of distinct seeds: the engine's own ceiling."""
    results = []
    c = latents.one_hot([0 if config.c_dim else None], config.c_dim)
    for batch in batch_sizes:
        z = latents.seeds_to_z([ENGINE_SEED_BASE + i for i in range(batch)], config.z_dim)
        cb, gain = np.repeat(c, batch, axis=0), np.ones([batch], np.float32)
        map_ms, synth_ms = [], []

        def step(_: int, z=z, cb=cb, gain=gain, map_ms=map_ms, synth_ms=synth_ms) -> None:
            t0 = time.perf_counter()
            ws = latents.broadcast_ws(engine.map(z, cb), config.num_ws)
            t1 = time.perf_counter()
            engine.synthesize(ws, gain)
            map_ms.append((t1 - t0) * 1000)
            synth_ms.append((time.perf_counter() - t1) * 1000)

        step(0)  # warm-up: first run at a new shape
        map_ms.clear()
        synth_ms.clear()
        latencies, wall = _timed_loop(seconds, 3, step)
        rate = len(latencies) * batch / wall
        results.append(
            {
                "batch_size": batch,
                "iterations": len(latencies),
                "images_per_s": round(rate, 2),
                "latency_ms": _latency_stats(latencies),
                "map_ms_mean": round(statistics.fmean(map_ms), 3),
                "synthesize_ms_mean": round(statistics.fmean(synth_ms), 3),
                "achieved_gflops": round(2 * macs * rate / 1e9, 2),
            }
        )
    return results


async def _pipeline_runs(pipeline: ModelPipeline, requests: int, levels: list[int]) -> list[dict]:
    """What the seeds route does, minus HTTP and encoding: w_from_seeds, truncate, synthesize."""
    num_ws = pipeline.config.num_ws

    async def one(seed: int) -> None:
        w = await pipeline.w_from_seeds([seed], None)
        ws = pipeline.truncate(latents.broadcast_ws(w, num_ws), 1.0, None)
        await pipeline.synthesize(ws, NoiseMode.const)

    async def run(seeds: list[int], concurrency: int) -> tuple[list[float], Counter, float]:
        latencies: list[float] = []
        outcomes: Counter[str] = Counter()
        pending = iter(seeds)

        async def worker() -> None:
            for seed in pending:
                t0 = time.perf_counter()
                try:
                    await one(seed)
                except Exception as exc:  # counted and reported, like an HTTP error
                    outcomes[type(exc).__name__] += 1
                    continue
                outcomes["ok"] += 1
                latencies.append((time.perf_counter() - t0) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, outcomes, time.perf_counter() - start

    results = []
    for level in levels:
        base = ENGINE_SEED_BASE + level * 1_000_000
        await run([base + 500_000 + i for i in range(min(requests, 2 * level))], level)  # warm-up
        pipeline.synthesis.batch_sizes.clear()
        latencies, outcomes, wall = await run([base + i for i in range(requests)], level)
        batches = pipeline.synthesis.batch_sizes
        results.append(
            {
                "concurrency": level,
                "requests": requests,
                "errors": requests - outcomes["ok"],
                "outcomes": dict(outcomes),
                "wall_s": round(wall, 4),
                "throughput_images_per_s": round(outcomes["ok"] / wall, 2),
                "latency_ms": _latency_stats(latencies),
                "synthesis_batches": len(batches),
                "mean_synthesis_batch": round(statistics.fmean(batches), 2) if batches else None,
            }
        )
    return results


def bench_engine(artifact: Artifact, settings: Settings, requests: int, levels: list[int], batch_sizes: list[int], seconds: float, log):
    from ganserve.engines.onnxruntime import OnnxRuntimeEngine

    macs = generator_macs(artifact.config)["total"]
    started = time.perf_counter()
    engine = OnnxRuntimeEngine(artifact, settings)
    load_s = time.perf_counter() - started
    batches = bench_engine_batches(engine, artifact.config, batch_sizes, seconds, macs)
    for b in batches:
        log(f"  engine batch {b['batch_size']}: {b['images_per_s']} img/s, p50 {b['latency_ms']['p50']} ms")

    async def concurrent() -> list[dict]:
        pipeline = ModelPipeline(artifact, engine, settings, LRUCache(settings.w_cache_entries))
        try:
            return await _pipeline_runs(pipeline, requests, levels)
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


def bench_torch_baseline(artifact: Artifact, settings: Settings, seconds: float, log) -> dict:
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
    latencies, wall = _timed_loop(seconds, 3, step)
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
        "latency_ms": _latency_stats(latencies),
    }


# -- the whole run ----------------------------------------------------------------------------------
def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def _summary(result: dict) -> str:
    m, s = result["machine"], result["server"]
    mib = 1024 * 1024
    lines = [
        f"ganserve bench {result['model']['name']} ({result['model']['resolution']}px) on {m['cpu_model']}, "
        f"{m['usable_cpus']} cpus, commit {(m['git_commit'] or 'unknown')[:12]}{' (dirty)' if m['git_dirty'] else ''}",
        f"server: ready in {s['startup']['time_to_ready_s']:.3f} s, torch loaded: {s['torch_loaded']}, "
        f"RSS after load {s['memory_after_load']['rss_bytes'] / mib:.0f} MiB "
        f"(peak {s['memory_after_load']['peak_rss_bytes'] / mib:.0f} MiB, at ready {s['memory_at_ready']['rss_bytes'] / mib:.0f} MiB)",
        "",
        f"{'run':<26}{'conc':>5}{'n':>6}{'err':>5}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'img/s':>9}",
    ]

    def row(name: str, r: dict, conc: int | str, n: int) -> str:
        lat = r["latency_ms"]

        def f(v):
            return "-" if v is None else f"{v:.2f}"

        return (
            f"{name:<26}{conc:>5}{n:>6}{r.get('errors', 0):>5}{f(lat['p50']):>9}{f(lat['p90']):>9}{f(lat['p99']):>9}"
            f"{f(lat['mean']):>9}{r.get('throughput_images_per_s', r.get('images_per_s')):>9}"
        )

    for r in s["http"]["levels"]:
        lines.append(row("http png, distinct seeds", r, r["concurrency"], r["requests"]))
    hot = s["http"]["hot"]
    lines.append(row("http png, hot (cached)", hot, hot["concurrency"], hot["requests"]))
    for r in result["engine"]["concurrency"]["levels"]:
        lines.append(row("engine via micro-batcher", r, r["concurrency"], r["requests"]))
    for b in result["engine"]["batches"]:
        lines.append(row(f"engine batch {b['batch_size']}", b, "-", b["iterations"] * b["batch_size"]))
    base = result["baseline_torch_eager"]
    if base["status"] == "ok":
        lines.append(row("torch eager batch 1", base, "-", base["images"]))
    else:
        lines.append(f"torch eager baseline: {base['status']} ({base['reason']})")
    r, flops = result["ratios"], result["model"]
    lines += [
        "",
        f"matmul fp32 {m['matmul_fp32']['best_gflops']} GFLOP/s; generator {flops['gflop_per_image']} GFLOP/image, "
        f"best engine batch {r['best_engine_batch']} at {r['best_engine_gflops']} GFLOP/s "
        f"({r['best_engine_fraction_of_matmul']} of matmul)",
        f"vs torch eager: engine best batch x{r['best_engine_vs_torch_eager']}, "
        f"engine via batcher x{r['best_engine_concurrency_vs_torch_eager']}, http x{r['best_http_vs_torch_eager']}; "
        f"http / engine via batcher {r['best_http_vs_best_engine_concurrency']}",
    ]
    busy = m.get("contention", {})
    lines.append(
        f"other processes used {busy.get('foreign_cpu_cores')} cores (steal {busy.get('steal_cpu_cores')}) "
        f"of {m['usable_cpus']} during the run; load average {m['load_average_at_start']} -> {m.get('load_average_at_end')}"
    )
    if (busy.get("foreign_cpu_cores") or 0) > 0.2:
        lines.append("WARNING: the machine was not idle: these figures are skewed, run again when it is")
    return "\n".join(lines)


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
    log: Callable[[str], None] = print,
) -> Path:
    """Run every part once and write `out/bench-<model>-<UTC time>.json`; returns its path.

    engine_seconds bounds each fixed-batch engine loop; baseline_seconds (default: the same) the
    eager-torch loop. The server is always stopped, also when a step fails.
    """
    if requests < 1 or not concurrency or min(concurrency) < 1:
        raise ValueError("requests and every concurrency level must be at least 1")
    settings = Settings()
    known = {a.config.name: a for a in discover(settings.models_dir)}
    if model not in known:  # fail before anything starts
        raise ValueError(f"unknown model {model!r} in {settings.models_dir}; models: {', '.join(known) or 'none'}")
    artifact = known[model]
    created = datetime.now(UTC)
    macs = generator_macs(artifact.config)
    baseline_seconds = engine_seconds if baseline_seconds is None else baseline_seconds

    log(f"ganserve bench: {model}, {requests} requests per level, concurrency {concurrency}")
    started = time.perf_counter()
    cpu = CpuAccount()
    machine = describe_machine()  # first: the matmul needs an idle machine and no engine threads spinning in this process
    log(f"  matmul fp32: {machine['matmul_fp32']['best_gflops']} GFLOP/s")
    server = bench_server(model, requests, concurrency, hot_concurrency, log)
    engine = bench_engine(artifact, settings, requests, concurrency, list(engine_batch_sizes), engine_seconds, log)
    torch_baseline = (
        bench_torch_baseline(artifact, settings, baseline_seconds, log) if baseline else {"status": "skipped", "reason": "disabled"}
    )

    best_batch = max(engine["batches"], key=lambda b: b["images_per_s"])
    best_http = max(r["throughput_images_per_s"] for r in server["http"]["levels"])
    best_concurrent = max(r["throughput_images_per_s"] for r in engine["concurrency"]["levels"])
    torch_rate = torch_baseline.get("images_per_s")
    result = {
        "schema": SCHEMA,
        "created_utc": created.isoformat(timespec="seconds"),
        "duration_s": None,
        "parameters": {
            "model": model,
            "requests_per_level": requests,
            "concurrency": concurrency,
            "hot_concurrency": hot_concurrency,
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
        "baseline_torch_eager": torch_baseline,
        "ratios": {
            "best_engine_batch": best_batch["batch_size"],
            "best_engine_gflops": best_batch["achieved_gflops"],
            "best_engine_fraction_of_matmul": _ratio(best_batch["achieved_gflops"], machine["matmul_fp32"]["best_gflops"]),
            "best_engine_vs_torch_eager": _ratio(best_batch["images_per_s"], torch_rate),
            "best_engine_concurrency_vs_torch_eager": _ratio(best_concurrent, torch_rate),
            "best_http_vs_torch_eager": _ratio(best_http, torch_rate),
            "best_http_vs_best_engine_concurrency": _ratio(best_http, best_concurrent),
        },
        "notes": [
            "The HTTP client runs on the same machine as the server and competes with it for CPU (see client_cpu_cores).",
            "Engine and baseline timings exclude PNG encoding; HTTP timings include it.",
        ],
    }
    result["duration_s"] = round(time.perf_counter() - started, 2)
    machine["load_average_at_end"] = _load_average()
    machine["contention"] = cpu.report()

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{model}-{created.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    log("")
    log(_summary(result))
    return path
