"""Every per-request limit at its documented default (docs/api.md, GET /v1/limits), just under and
just over, on a gateway with the shipped settings (the other tests use smaller ones): the largest
allowed request is served, one more is refused naming its field, before any work."""

import asyncio

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import assert_error
from ganserve.api.app import create_app
from ganserve.batching import MicroBatcher, Overloaded
from ganserve.settings import Settings
from ganserve.triton.local import free_port
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

DEFAULTS = Settings()
M = "/v1/models/demo64"


@pytest.fixture(scope="module")
def shipped(settings, tmp_path_factory):
    """The test models under the default limits (no rate limits: this module sends many images)."""
    port = free_port()
    limits = {name: getattr(DEFAULTS, name) for name in ("max_images", "max_frames", "max_keyframes", "max_mix_side", "max_edits")}
    update = {**limits, "grpc_port": port, "latents_path": tmp_path_factory.mktemp("limits") / "latents.sqlite3"}
    with TestClient(create_app(settings.model_copy(update=update))) as client:
        client.grpc_target = f"127.0.0.1:{port}"
        yield client


def seeds(n: int) -> list[dict]:
    return [{"seed": i} for i in range(n)]


def test_the_documented_defaults(shipped):
    assert shipped.get("/v1/limits").json() == {
        "max_images": 16,
        "max_frames": 64,
        "max_keyframes": 16,
        "max_mix_side": 8,
        "max_edits": 16,
        "max_body_bytes": 256 * 1024,
    }
    assert (DEFAULTS.queue_max_images, DEFAULTS.max_saved_latents_page, DEFAULTS.grpc_max_receive_bytes) == (256, 100, 4 * 1024 * 1024)


def test_images_per_batch(shipped):
    assert len(shipped.post(f"{M}/images", json={"latents": seeds(16)}).json()["images"]) == 16
    assert_error(shipped.post(f"{M}/images", json={"latents": seeds(17)}), 422, "latents")


def test_frames_and_keyframes(shipped):
    walk = shipped.post(f"{M}/interpolations", json={"keyframes": seeds(16), "frames": 64, "output": "latents"})
    assert len(walk.json()["ws"]) == 64
    assert_error(shipped.post(f"{M}/interpolations", json={"keyframes": seeds(2), "frames": 65, "output": "latents"}), 422, "frames")
    assert_error(shipped.post(f"{M}/interpolations", json={"keyframes": seeds(17), "frames": 64, "output": "latents"}), 422, "keyframes")
    assert shipped.post(f"{M}/interpolations", json={"keyframes": seeds(2), "frames": 64}).status_code == 200  # 64 frames made


def test_mix_side(shipped):
    cells = shipped.post(f"{M}/mixes", json={"rows": seeds(8), "columns": seeds(8), "output": "cells"})
    assert len(cells.json()["cells"]) == 64
    assert_error(shipped.post(f"{M}/mixes", json={"rows": seeds(9), "columns": seeds(1)}), 422, "rows")
    assert_error(shipped.post(f"{M}/mixes", json={"rows": seeds(1), "columns": seeds(9)}), 422, "columns")


def test_edits_per_latent(shipped):
    edits = [{"direction": "ganspace-0", "strength": 0.1}] * 16
    assert shipped.post(f"{M}/images", json={"latents": [{"seed": 1, "edits": edits}]}).status_code == 200
    assert_error(shipped.post(f"{M}/images", json={"latents": [{"seed": 1, "edits": [*edits, edits[0]]}]}), 422, "latents[0].edits")


def test_body_bytes(shipped):
    limit = DEFAULTS.max_body_bytes
    padded = b'{"latents": [{"seed": 1}]}'
    at_limit = padded + b" " * (limit - len(padded))
    assert shipped.post(f"{M}/images", content=at_limit, headers={"content-type": "application/json"}).status_code == 200
    assert_error(shipped.post(f"{M}/images", content=at_limit + b" ", headers={"content-type": "application/json"}), 413, "body")


def test_saved_latents_page(shipped):
    assert shipped.get("/v1/latents", params={"limit": 100}).status_code == 200
    assert_error(shipped.get("/v1/latents", params={"limit": 101}), 422, "limit")


def test_grpc_message_size(shipped):
    """4 MiB per message: a ws of 4 MiB less a little is read (and refused for its shape), 4 MiB more is not read."""
    floats = DEFAULTS.grpc_max_receive_bytes // 4
    with grpc.insecure_channel(shipped.grpc_target) as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        for count, expected in ((floats - 64, grpc.StatusCode.INVALID_ARGUMENT), (floats + 64, grpc.StatusCode.RESOURCE_EXHAUSTED)):
            latent = pb.Latent(ws=pb.FloatTensor(shape=[count], values=np.zeros(count, np.float32).tolist()))
            with pytest.raises(grpc.RpcError) as raised:
                stub.Generate(pb.GenerateRequest(model="demo64", latents=[latent]), timeout=60)
            assert raised.value.code() == expected, raised.value.details()


async def test_engine_queue_images():
    """256 images may wait for the engine; the 257th is refused at once."""
    release = asyncio.Event()

    async def engine(rows: np.ndarray) -> np.ndarray:
        await release.wait()
        return rows

    batcher = MicroBatcher(engine, max_size=16, max_delay_s=0, max_queue=DEFAULTS.queue_max_images)
    waiting = [asyncio.create_task(batcher.submit(np.zeros((16, 1), np.float32))) for _ in range(16)]
    await asyncio.sleep(0.05)
    assert batcher.queued_images + batcher.running_images == 256
    with pytest.raises(Overloaded):
        await batcher.submit(np.zeros((1, 1), np.float32))
    release.set()
    assert sum(len(done) for done in await asyncio.gather(*waiting)) == 256
    await batcher.close()
