"""`python -m ganserve_bench triton`: the gateway on Triton against Triton alone, Triton's dynamic batching on
and off, and the embedded engine against Triton, on this machine in one run.

Triton here is the tritonserver that `make triton-env` installs, serving the python target (ONNX
Runtime in Triton's Python backend) on the CPU; nothing in the gateway is shared with the direct
client but the seeds. Three questions:

1. Gateway overhead: seed PNGs over HTTP through the gateway (GANSERVE_ENGINE=triton) against one
   bare tritonclient gRPC aio client doing the same engine work (z, mapping, ws, synthesis at batch
   1 per request), without and with PNG encoding (the gateway encodes; the fair comparison is the
   one with encoding).
2. Dynamic batching: the same direct client against a second tritonserver whose configs are the
   committed ones with the `dynamic_batching { ... }` line removed (config.py is left alone: the
   generated text is post-processed here), so Triton runs every request on its own.
3. Embedded vs Triton: the gateway with GANSERVE_ENGINE=onnxruntime against the gateway on Triton,
   same requests, with the memory of the gateway and of tritonserver plus its backend stubs.

The gateways' HTTP load comes from wrk (one thread, a fixed time per level) where it is installed,
else from the httpx client; the direct client is Python (tritonclient.grpc.aio) either way.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ganserve.artifacts import ModelConfig, find_artifact
from ganserve.repository import Target
from ganserve.settings import Settings
from ganserve.triton import local
from ganserve_bench import proc
from ganserve_bench import wrk as wrk_runs
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.processes import gateway
from ganserve_bench.report import header, write_results
from ganserve_bench.server import HTTP_SECONDS, HTTPX, WARMUP_SECONDS, load_generator
from ganserve_bench.triton_report import comparisons, summary
from ganserve_bench.triton_runs import direct_levels, http_levels, tree_memory

SCHEMA = "ganserve-bench-triton/1"
RECORDED_SETTINGS = {
    "threads",
    "batch_max_size",
    "batch_max_delay_ms",
    "queue_max_images",
    "encode_threads",
    "png_compress_level",
    "triton_batches_in_flight",
    "triton_timeout_s",
}
DYNAMIC_BATCHING_LINE = re.compile(r"^dynamic_batching \{.*\}\n", re.MULTILINE)


def model_repository(source: Path, model: str, dest: Path, dynamic_batching: bool) -> Path:
    """A copy of the model's onnx and python entries in the committed layout (the python entries
    reference ../../onnx/<entry>/1/model.onnx); without dynamic batching, that config line is cut."""
    entries = sorted((source / Target.python).glob(f"{model}_*"))
    if not entries:
        raise ValueError(f"no python-target entries for {model} in {source}: run `ganserve compile models/{model}`")
    for target in (Target.onnx, Target.python):
        for entry in (source / target).glob(f"{model}_*"):
            shutil.copytree(entry, dest / target / entry.name)
    if not dynamic_batching:
        for config in (dest / Target.python).glob("*/config.pbtxt"):
            text, removed = DYNAMIC_BATCHING_LINE.subn("", config.read_text())
            if removed != 1:
                raise RuntimeError(f"expected one dynamic_batching line in {config}")
            config.write_text(text)
    return dest / Target.python


def run_gateway(
    tmp: Path,
    name: str,
    env: dict[str, str],
    model: str,
    levels: list[int],
    requests: int,
    triton: local.LocalTriton | None = None,
    *,
    wrk: wrk_runs.Wrk | None = None,
    http_seconds: int = HTTP_SECONDS,
) -> dict:
    """Start `ganserve serve` with env, load it on each level (from wrk when given, else httpx), record
    its memory; always stopped."""
    with gateway(env, tmp / f"gateway-{name}", model) as (server, startup):
        pid = startup["pid"]
        watch = (triton.grpc_url, triton.process.pid) if triton else None
        levels_out = asyncio.run(http_levels(server.base_url, model, levels, requests, pid, watch, wrk=wrk, seconds=http_seconds))
        result = {
            "startup": startup,
            "load_generator": wrk.label if wrk else HTTPX,
            "levels": levels_out,
            "memory_after_load": proc.memory(pid),
            "libraries": proc.loaded_libraries(pid),
        }
        if triton:
            result["tritonserver_memory_after_load"] = tree_memory(triton.process.pid)
    result["exit_code"] = server.exit_code
    return result


def direct_run(triton: local.LocalTriton, config: ModelConfig, levels: list[int], requests: int, settings: Settings, encoder=None):
    """The direct client on each level against this tritonserver."""
    return asyncio.run(direct_levels(triton.grpc_url, config, levels, requests, triton.process.pid, settings, encoder))


@contextmanager
def running_triton(repository: Path, workdir: Path, env_dir: Path) -> Iterator[tuple[local.LocalTriton, dict]]:
    """A tritonserver on this repository; yields it and its startup record (time to ready, pid, gRPC
    URL, memory of it and its stubs after the load). Always stopped (killed if it failed to start)."""
    started = time.perf_counter()
    with local.LocalTriton(repository, workdir, env_dir) as server:
        pid = server.process.pid
        info = {"time_to_ready_s": round(time.perf_counter() - started, 3), "pid": pid, "grpc_url": server.grpc_url}
        info["memory_after_load"] = tree_memory(pid)
        yield server, info


def run_triton_benchmark(
    model: str,
    requests: int,
    concurrency: list[int],
    out: Path,
    *,
    http_seconds: int = HTTP_SECONDS,
    use_wrk: bool | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Run the three comparisons once and write `out/bench-triton-<model>-<UTC time>.json`; returns its path.

    concurrency: the levels of every run, HTTP and direct client alike; each comparison is made at
    every level (the brief's questions are about 1 and 32). The gateways' HTTP load comes from wrk
    for http_seconds per level where wrk is installed (use_wrk None), else (or with use_wrk False)
    from the httpx client for `requests` per level; the direct gRPC client always sends `requests`.
    Every tritonserver and gateway started is stopped, also when a step fails.
    """
    if requests < 1 or not concurrency or min(concurrency) < 1:
        raise ValueError("requests and every concurrency level must be at least 1")
    settings = Settings()
    if not local.available(settings.triton_env):
        raise RuntimeError(f"no local tritonserver in {settings.triton_env}: {local.INSTALL_HINT}")
    artifact = find_artifact(settings.models_dir, model)  # fail before anything starts
    wrk = load_generator(use_wrk)
    http_load = f"{wrk.label}, {http_seconds} s per level" if wrk else f"{HTTPX}, {requests} requests per level"
    created = datetime.now(UTC)
    log(f"ganserve_bench triton: {model}, concurrency {concurrency}; direct grpc {requests} requests per level, http {http_load}")
    started = time.perf_counter()
    cpu, machine = measure_machine(log)

    with tempfile.TemporaryDirectory(prefix="ganserve-bench-triton-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "models").mkdir()
        (tmp / "models" / model).symlink_to(artifact.directory.resolve())  # the gateways load this model only
        repo_on = model_repository(settings.model_repository, model, tmp / "repo-batching-on", dynamic_batching=True)
        repo_off = model_repository(settings.model_repository, model, tmp / "repo-batching-off", dynamic_batching=False)
        gateway = {"GANSERVE_MODELS_DIR": str(tmp / "models")}
        with running_triton(repo_on, tmp / "triton-on", settings.triton_env) as (triton, on):
            log(f"  tritonserver (dynamic batching on) ready in {on['time_to_ready_s']} s")
            direct = direct_run(triton, artifact.config, concurrency, requests, settings)
            _log_runs(log, "direct grpc", direct)
            with ThreadPoolExecutor(settings.encode_threads, thread_name_prefix="encode") as encoder:  # as the gateway encodes
                direct_png = direct_run(triton, artifact.config, concurrency, requests, settings, encoder)
            _log_runs(log, "direct grpc + png", direct_png)
            env = gateway | {"GANSERVE_ENGINE": "triton", "GANSERVE_TRITON_URL": triton.grpc_url}
            gateway_triton = run_gateway(tmp, "triton", env, model, concurrency, requests, triton, wrk=wrk, http_seconds=http_seconds)
            _log_runs(log, "gateway on triton", gateway_triton["levels"])
        with running_triton(repo_off, tmp / "triton-off", settings.triton_env) as (triton, off):
            log(f"  tritonserver (dynamic batching off) ready in {off['time_to_ready_s']} s")
            direct_off = direct_run(triton, artifact.config, concurrency, requests, settings)
            _log_runs(log, "direct grpc, batching off", direct_off)
        embedded_env = gateway | {"GANSERVE_ENGINE": "onnxruntime"}
        embedded = run_gateway(tmp, "embedded", embedded_env, model, concurrency, requests, wrk=wrk, http_seconds=http_seconds)
        _log_runs(log, "gateway embedded", embedded["levels"])
        batching_on_config = (repo_on / f"{model}_synthesis" / "config.pbtxt").read_text()
        dynamic_line = DYNAMIC_BATCHING_LINE.search(batching_on_config)[0].strip()

    finish_machine(cpu, machine)
    http_note = (
        f"the gateways' HTTP load comes from {wrk.label} for {http_seconds} s per level (requests: what completed in that "
        "time; requests_per_level applies to the direct runs only; latencies cover every completed response)."
        if wrk
        else "the gateways' HTTP load comes from an httpx client, in Python too."
    )
    result = {
        **header(SCHEMA, created, started),
        "parameters": {
            "model": model,
            "requests_per_level": requests,
            "concurrency": concurrency,
            "triton_target": "python (ONNX Runtime in Triton's Python backend, CPU), one instance per graph",
            "dynamic_batching_on": dynamic_line,
            "dynamic_batching_off": "the same configs with the dynamic_batching line removed (Triton's default scheduler)",
            "direct_client": "one tritonclient.grpc.aio client (Python, in this process); per request: mapping z [1, z_dim] "
            "then synthesis ws [1, num_ws, w_dim] (w broadcast), noise_gain [[1]]",
            "direct_png": f"the same, then encode_image(png) in a {settings.encode_threads}-thread pool, as the gateway encodes",
            "http": "GET /v1/models/<model>/seeds/<seed>.png, distinct seeds (level*1e6+i), one warm-up run per level",
            "http_load_generator": wrk.label if wrk else HTTPX,
            "http_seconds_per_level": http_seconds if wrk else None,
            "http_warmup_seconds": min(WARMUP_SECONDS, http_seconds) if wrk else None,
            "settings": settings.model_dump(mode="json", include=RECORDED_SETTINGS),
        },
        "machine": machine,
        "model": {"name": model, "digest": artifact.digest, "resolution": artifact.config.resolution},
        "tritonserver": {"batching_on": on, "batching_off": off},
        "runs": {
            "direct": direct,
            "direct_png": direct_png,
            "direct_batching_off": direct_off,
            "gateway_triton": gateway_triton,
            "gateway_embedded": embedded,
        },
        "notes": [
            "Clients, gateway and tritonserver share this machine's CPUs: see client_cpu_cores, server_cpu_cores, triton_cpu_cores.",
            "The direct runs use a Python client (tritonclient.grpc.aio), which spends CPU on these same cores; " + http_note,
            "direct and direct_png ran against the tritonserver with dynamic batching on, direct_batching_off against the other one.",
            "Triton statistics: request_ms_mean and queue_ms_mean are per request; compute_ms_per_execution per backend call.",
            "tritonserver memory: tritonserver plus its Python-backend stub processes; RSS counts shared pages in each, PSS splits them.",
        ],
    }
    result["comparisons"] = comparisons(result)
    return write_results(out, f"bench-triton-{model}", created, result, summary(result), log)


def _log_runs(log: Callable[[str], None], name: str, runs: list[dict]) -> None:
    for r in runs:
        log(f"  {name} c={r['concurrency']}: {r['throughput_images_per_s']} img/s, p50 {r['latency_ms']['p50']} ms, errors {r['errors']}")
