"""`python -m ganserve_bench overload`: bounded latency under overload, against what users assemble.

The network: an official-size StyleGAN2 at 64² (channel_base 16384, channel_max 256, 8-layer
mapping, z and w of 512: about 8 GFLOP per image), random weights made by our own code. Three
servers of it, one after the other, each under the same closed loop of `concurrency` virtual
clients asking for distinct seeds (no cache can help) for `seconds`:

1. the alternative: the generator called eagerly per request (torch, one request at a time, as a
   model object shared by a threaded web server is) behind Python's standard-library HTTP server,
   encoding PNG with Pillow; our torch generator has NVlabs parity (tests/test_generator.py);
2. ganserve as before this benchmark's goal: the embedded engine with no deadline that matters
   (X-Deadline-Ms 600000): every request waits its turn;
3. ganserve with a deadline (X-Deadline-Ms): a request the queue cannot serve in time is refused at
   once with 503 and Retry-After, and that client waits Retry-After before its next request, as the
   ganserve client does.

Reported per server: goodput (successful images per second), p50/p99 of the successful responses'
latency, and the refusal rate; then the goal's two ratios, all within this one run.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ganserve.artifacts import Artifact, MappingConfig, ModelConfig, Source, SynthesisConfig, save_artifact
from ganserve_bench.engine import generator_macs
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.processes import gateway, stop_process
from ganserve_bench.report import contention, header, ratio, write_results
from ganserve_bench.server import PNG_MAGIC
from ganserve_bench.timing import latency_stats

SCHEMA = "ganserve-bench-overload/1"
MODEL = "official64"
WARM_UP_S = 5.0
NO_DEADLINE_MS = 600_000


def official_config(small: bool = False) -> ModelConfig:
    """small: the demo model's sizes (channel_base 4096, channel_max 64, z and w of 256), for a smoke run."""
    return ModelConfig(
        name=MODEL,
        resolution=64,
        z_dim=256 if small else 512,
        w_dim=256 if small else 512,
        num_ws=10,
        mapping=MappingConfig(num_layers=8),
        synthesis=SynthesisConfig(channel_base=4096, channel_max=64) if small else SynthesisConfig(channel_base=16384, channel_max=256),
        source=Source(kind="random-init", detail="ganserve_bench overload: official StyleGAN2 sizes at 64x64, torch seed 0"),
    )


def make_official(models_dir: Path, repository: Path, small: bool = False) -> Artifact:
    """The network, with NVlabs-style random weights, compiled for the embedded engine."""
    import torch

    from ganserve.compile import compile_model
    from ganserve.generator.demo import randomize_zero_initialised
    from ganserve.generator.networks import Generator
    from ganserve.repository import Target
    from ganserve.triton.config import BatchingOptions

    torch.manual_seed(0)
    config = official_config(small)
    generator = Generator(config)
    randomize_zero_initialised(generator, 0)
    state = {k: v.detach().numpy() for k, v in generator.state_dict().items()}
    artifact = save_artifact(models_dir / MODEL, config, state)
    compile_model(artifact, repository, [Target.onnx], BatchingOptions(), keep_versions=1)
    return artifact


# The alternative, run as `python -c ALTERNATIVE model_dir port threads`.
ALTERNATIVE = """
import io, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import numpy as np, torch
from PIL import Image
from ganserve import latents
from ganserve.artifacts import Artifact
from ganserve.engines.torch import TorchEngine
from ganserve.settings import Settings

artifact, port, threads = Artifact(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
engine = TorchEngine(artifact, Settings(device="cpu"))
config, model_lock = artifact.config, threading.Lock()
c, gain = latents.one_hot([None], config.c_dim), np.ones([1], np.float32)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        seed = int(self.path.rsplit("/", 1)[-1].split(".")[0])
        with model_lock:  # one model object: one request at a time
            z = latents.seeds_to_z([seed], config.z_dim)
            image = engine.synthesize(latents.broadcast_ws(engine.map(z, c), config.num_ws), gain)[0]
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", compress_level=6)
        body = buffer.getvalue()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


class Alternative:
    def __init__(self, model_dir: Path, threads: int):
        from ganserve.triton.local import free_port

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-c", ALTERNATIVE, str(model_dir), str(self.port), str(threads)]

    def __enter__(self) -> Alternative:
        import subprocess

        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base_url}/seeds/0.png", timeout=30).raise_for_status()
                return self
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the alternative server exited with {self.process.returncode}") from None
                time.sleep(0.2)
        stop_process(self.process)
        raise TimeoutError("the alternative server did not answer in 120 s")

    def __exit__(self, *exc_info: object) -> None:
        stop_process(self.process)


async def closed_loop(url_of, headers: dict[str, str], concurrency: int, seconds: float) -> dict:
    """`concurrency` clients, each asking for the next distinct seed as soon as its last answer came
    (after Retry-After when refused); the first WARM_UP_S seconds are not counted."""
    seeds = iter(range(1_000_000, 10_000_000))
    ok: list[float] = []
    refused = failed = 0
    started = time.monotonic()
    counted_from, end = started + WARM_UP_S, started + WARM_UP_S + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal refused, failed
        while (sent := time.monotonic()) < end:
            try:
                response = await http.get(url_of(next(seeds)), headers=headers)
            except httpx.HTTPError:
                failed += sent >= counted_from
                continue
            done = time.monotonic()
            if sent < counted_from or done > end:
                continue
            if response.status_code == 200 and response.content.startswith(PNG_MAGIC):
                ok.append((done - sent) * 1000)
            elif response.status_code == 503 and "retry-after" in response.headers:
                refused += 1
                await asyncio.sleep(float(response.headers["retry-after"]))
            else:
                failed += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    answered = len(ok) + refused + failed
    return {
        "seconds": seconds,
        "images_ok": len(ok),
        "goodput_images_per_s": round(len(ok) / seconds, 2),
        "latency_ok_ms": latency_stats(ok),
        "refused": refused,
        "refusal_rate": round(refused / answered, 3) if answered else None,
        "failed": failed,
    }


def run_overload_benchmark(concurrency: int, seconds: float, deadline_ms: int, out: Path, small: bool = False, log=print) -> Path:
    created, started = datetime.now(UTC), time.perf_counter()
    cpu, machine = measure_machine(log)
    with tempfile.TemporaryDirectory(prefix="ganserve-bench-") as tmp:
        models, repository = Path(tmp) / "models", Path(tmp) / "repo"
        log("  making and compiling the official-size 64x64 network")
        artifact = make_official(models, repository, small)
        threads = machine["usable_cpus"]
        runs = {}
        with Alternative(models / MODEL, threads) as alternative:
            log(f"  the alternative, c={concurrency}, {seconds} s")
            runs["alternative"] = asyncio.run(closed_loop(lambda s: f"{alternative.base_url}/seeds/{s}.png", {}, concurrency, seconds))
        env = {"GANSERVE_MODELS_DIR": str(models), "GANSERVE_MODEL_REPOSITORY": str(repository), "GANSERVE_DEFAULT_MODEL": MODEL}
        with gateway(env, Path(tmp) / "gateway", MODEL) as (server, _):
            url_of = lambda s: f"{server.base_url}/v1/models/{MODEL}/seeds/{s}.png"  # noqa: E731
            for name, ms in (("ganserve_no_deadline", NO_DEADLINE_MS), ("ganserve_deadline", deadline_ms)):
                log(f"  {name}, c={concurrency}, {seconds} s")
                runs[name] = asyncio.run(closed_loop(url_of, {"X-Deadline-Ms": str(ms)}, concurrency, seconds))
    finish_machine(cpu, machine)
    alt, bounded = runs["alternative"], runs["ganserve_deadline"]
    p99_ratio = ratio(bounded["latency_ok_ms"]["p99"], alt["latency_ok_ms"]["p99"])
    goodput_ratio = ratio(bounded["goodput_images_per_s"], alt["goodput_images_per_s"])
    goal = {
        "p99_ok_over_alternative_p99": p99_ratio,
        "p99_goal": "<= 0.333",
        "goodput_over_alternative_throughput": goodput_ratio,
        "goodput_goal": ">= 1.3",
        "met": p99_ratio is not None and goodput_ratio is not None and p99_ratio <= 1 / 3 and goodput_ratio >= 1.3,
    }
    result = header(SCHEMA, created, started) | {
        "machine": machine,
        "network": official_config(small).model_dump(include={"resolution", "z_dim", "w_dim", "mapping", "synthesis"})
        | {"gmac_per_image": round(generator_macs(artifact.config)["total"] / 1e9, 2)},
        "concurrency": concurrency,
        "deadline_ms": deadline_ms,
        "alternative": "torch eager per request, one at a time, http.server + Pillow PNG (level 6)",
        "runs": runs,
        "goal": goal,
    }
    lines = [f"ganserve_bench overload on {machine['cpu_model']}, {machine['usable_cpus']} cpus, c={concurrency}", *contention(machine)]
    for name, run in runs.items():
        latency = run["latency_ok_ms"]
        lines.append(
            f"  {name:22} {run['goodput_images_per_s']:5} img/s ok, p50 {latency['p50']} ms, p99 {latency['p99']} ms,"
            f" refused {run['refusal_rate']}, failed {run['failed']}"
        )
    lines.append(f"  goal: p99 x{p99_ratio} of the alternative's (<= 0.333), goodput x{goodput_ratio} (>= 1.3): met {goal['met']}")
    return write_results(out, "bench-overload", created, result, "\n".join(lines), log)
