"""What the fuzz tests (tests/api/test_fuzz.py over HTTP, tests/rpc/test_rpc_fuzz.py over gRPC)
share: a real gateway with saved latents and a training run to find, the real values generated
requests should mostly use, the example budget, and a sampler of the server's memory.

`make test` runs a bounded number of examples; `make fuzz` sets GANSERVE_FUZZ_EXAMPLES for a long run."""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import psutil

from conftest import served_env
from ganserve.settings import Settings
from ganserve_bench.processes import GatewayProcess, gateway

# Every fuzz request carries these: where an API key goes once the server asks for one
# (e.g. {"Authorization": "Bearer <key>"}); the gRPC test sends the same pairs as metadata.
HEADERS: dict[str, str] = {}
METADATA: tuple[tuple[str, str], ...] = tuple((name.lower(), value) for name, value in HEADERS.items())

SAVED_PER_MODEL = 3  # ids the other operations find
DELETABLE_PER_MODEL = 3  # ids of their own for the delete operations, so that the others keep theirs
TRAINED_MODEL = "demo64"  # given a small training run of its own, so that the training routes are reached
SAMPLE_GRIDS = ["kimg-000000.png", "kimg-000004.png"]
# The largest request the limits allow (served_env: 8 images, 16 frames, a 3x3 mix) is made once
# before memory is measured: its buffers (onnxruntime's arena, the encoders') stay allocated after.
WARM_UP_IMAGES, WARM_UP_FRAMES, WARM_UP_MIX_SIDE = 8, 16, 3
# No single request may grow the server by more than this over its warmed-up size. The largest
# answer the limits allow is a few MB (8 RGB images of 64x64 with their ws, 16 frames); 300 MB is
# two orders of magnitude above that, and below what an unbounded allocation (an array sized from
# an unchecked count, a cache without a bound) reaches within one request.
RSS_HEADROOM = 300 * 2**20


LONG_RUN = bool(os.environ.get("GANSERVE_FUZZ_EXAMPLES"))  # make fuzz


def examples(default: int) -> int:
    """Examples per operation: the bounded default, or GANSERVE_FUZZ_EXAMPLES (make fuzz)."""
    return int(os.environ.get("GANSERVE_FUZZ_EXAMPLES") or default)


def png(width: int = 4, height: int = 4, rgb: bool = False) -> bytes:
    """A small valid grey PNG (a sample grid to serve), or an RGB one (an image to project)."""
    channels = 3 if rgb else 1
    raw = b"".join(b"\x00" + bytes([128] * width * channels) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if rgb else 0, 0, 0, 0)  # colour type 2: RGB, 0: grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_training_run(runs: Path) -> None:
    """A short `ganserve train` log for TRAINED_MODEL: start, ticks, checkpoints with sample grids."""
    run = runs / TRAINED_MODEL
    (run / "samples").mkdir(parents=True)
    records = [{"event": "start", "kimg": 0}]
    for index, name in enumerate(SAMPLE_GRIDS):
        (run / "samples" / name).write_bytes(png())
        records += [
            {"event": "tick", "kimg": index * 4, "loss_g": 1.0},
            {"event": "checkpoint", "kimg": index * 4, "samples": f"samples/{name}"},
        ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (run / "evaluation.jsonl").write_text(json.dumps({"kimg": 0, "fid": 300.0}) + "\n")


def warm_up(client: httpx.Client, info: dict[str, Any]) -> None:
    """The largest requests the limits allow, once: see WARM_UP_IMAGES."""
    seeds = [{"seed": seed} for seed in range(WARM_UP_IMAGES)]
    common = {"class": 0} if info["c_dim"] else {}  # conditional models need a class
    requests = [
        ("images", {"latents": seeds, "include_ws": True}),
        ("interpolations", {"keyframes": seeds[:2], "frames": WARM_UP_FRAMES, "output": "frames", "format": "png"}),
        ("mixes", {"rows": seeds[:WARM_UP_MIX_SIDE], "columns": seeds[:WARM_UP_MIX_SIDE]}),
        ("children", {"parent": seeds[0], "count": WARM_UP_IMAGES - 1}),
    ]
    for route, body in requests:
        response = client.post(f"/v1/models/{info['name']}/{route}", json={**body, **common})
        assert response.status_code == 200, (route, response.text)


def collect_values(client: httpx.Client, log: Path) -> dict[str, Any]:
    """The server's models, saved ids (some for the deletes only), projection ids, sample grids,
    class names and direction ids: what hooks and strategies put into generated requests."""
    infos = client.get("/v1/models").json()["models"]
    models = [info["name"] for info in infos]
    values: dict[str, Any] = {"log": str(log), "models": models, "ids": {}, "deletable_ids": {}, "samples": {}, "directions": {}}
    values["projection_ids"] = []
    values["class_names"] = {info["name"]: info["class_names"] for info in infos}
    values["c_dim"] = {info["name"]: info["c_dim"] for info in infos}
    for info in infos:
        model = info["name"]
        warm_up(client, info)
        for pool, count in (("ids", SAVED_PER_MODEL), ("deletable_ids", DELETABLE_PER_MODEL)):
            for seed in range(count):
                kind = ["z", "w", "ws"][seed % 3]
                common = {"class": 0} if info["c_dim"] and kind != "z" else {}  # a class maps z to w (conditional models)
                body = {"model": model, "latent": {"seed": seed}, "kind": kind, "name": f"fuzz {seed}", **common}
                response = client.post("/v1/latents", json=body)
                assert response.status_code == 201, response.text
                values[pool].setdefault(model, []).append(response.json()["id"])
        # A projection job per model, cancelled at once: readable (and cancellable again) by id, and
        # not held against the per-caller limit, which the fuzzed submissions then have to themselves.
        params = {"class": 0} if info["c_dim"] else {}
        job = client.post(f"/v1/models/{model}/projections", content=png(8, 8, rgb=True), params={"steps": 1, **params})
        assert job.status_code == 202, job.text
        assert client.delete(f"/v1/projections/{job.json()['id']}").status_code == 200
        values["projection_ids"].append(job.json()["id"])
        directions = client.get(f"/v1/models/{model}/directions").json()["directions"]
        values["directions"][model] = [direction["id"] for direction in directions]
        training = client.get(f"/v1/models/{model}/training")
        if training.status_code == 200:
            records = training.json()["records"]
            values["samples"][model] = [Path(record["samples_url"]).name for record in records if "samples_url" in record]
    assert values["samples"].get(TRAINED_MODEL) == SAMPLE_GRIDS, values["samples"]
    return values


@contextmanager
def fuzz_gateway(settings: Settings, workdir: Path) -> Iterator[tuple[GatewayProcess, dict[str, Any]]]:
    """A gateway serving the test models (with the tests' limits, so that the largest request is
    cheap on this machine), warmed up, with saved latents; yields it and collect_values()."""
    runs = workdir / "runs"
    write_training_run(runs)
    # The gateway is what is fuzzed: projections it accepts are queued, not run, so that a worker's
    # torch (a few hundred MiB in a child process) does not count as the gateway's memory.
    env = served_env(settings, workdir, runs_dir=str(runs), projection_local_workers="0")
    with gateway(env, workdir, "demo64") as (server, _):
        with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=120) as client:
            values = collect_values(client, workdir / "calls.jsonl")
        yield server, values


class RssSampler:
    """Samples a process's resident memory (its children's too) every interval_s on a thread,
    from start() until stop(): the first sample is the baseline, `peak` the largest."""

    def __init__(self, pid: int, interval_s: float = 0.02):
        self.process, self.interval_s = psutil.Process(pid), interval_s
        self.baseline = self.peak = self.rss()
        self.samples = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with suppress(psutil.NoSuchProcess):  # a child that just exited
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.peak = max(self.peak, self.rss())
                self.samples += 1
            except psutil.NoSuchProcess:
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    def report(self) -> str:
        mib = 2**20
        return (
            f"server RSS: {self.baseline / mib:.0f} MiB after warm-up, peak {self.peak / mib:.0f} MiB"
            f" (+{(self.peak - self.baseline) / mib:.0f} MiB, bound +{RSS_HEADROOM / mib:.0f} MiB) over {self.samples} samples"
        )

    def check(self) -> None:
        assert self.peak - self.baseline < RSS_HEADROOM, self.report()
