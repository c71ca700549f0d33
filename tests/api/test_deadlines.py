"""Deadlines over HTTP and gRPC: the engine's queue refuses at once, with 503 and the Retry-After the
queue implies, a request it would keep past its deadline (the default, X-Deadline-Ms, or gRPC's own),
and admits it when it fits; cached images never wait, so they are never refused; a bad header is a
422 naming it."""

import grpc
import pytest
from fastapi.testclient import TestClient

from conftest import assert_error
from ganserve.api.app import create_app
from ganserve.triton.local import free_port
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

SEED_URL = "/v1/models/demo64/seeds/{}.png"


@pytest.fixture(scope="module")
def gateway(settings):
    """(client, gRPC stub, the demo model's synthesis batcher) of a gateway of its own."""
    port = free_port()
    with TestClient(create_app(settings.model_copy(update={"grpc_port": port}))) as client:
        synthesis = client.app.state.ganserve.pipeline("demo64").synthesis
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield client, ganserve_pb2_grpc.GeneratorStub(channel), synthesis


@pytest.fixture
def slow_engine(gateway):
    """As if the engine had been measured at 2 s per image (the measuring: tests/test_batching.py)."""
    _, _, synthesis = gateway
    synthesis.seconds_per_image = 2.0
    yield
    synthesis.seconds_per_image = None


@pytest.mark.parametrize("header", ["abc", "0", "-5", "600001", "1.5"])
def test_a_bad_deadline_header_is_a_422_naming_it(gateway, header):
    client, _, _ = gateway
    assert_error(client.get(SEED_URL.format(1), headers={"X-Deadline-Ms": header}), 422, "X-Deadline-Ms")


def test_a_deadline_shorter_than_the_work_itself_is_a_504_at_once(gateway, slow_engine):
    """Nothing queued ahead: waiting would not help, so the answer is deadline_exceeded, not overloaded
    (tests/test_batching.py refuses a request the queue would keep past its deadline with 503)."""
    client, _, synthesis = gateway
    images_before = synthesis.images_run
    refused = client.get(SEED_URL.format(101), headers={"X-Deadline-Ms": "500"})  # 2 s of work, 0.5 s to do it
    error = assert_error(refused, 504)
    assert error["code"] == "deadline_exceeded" and "0.5 s left before the deadline" in error["message"]
    assert "retry-after" not in refused.headers
    assert synthesis.images_run == images_before  # refused before any work
    assert client.get(SEED_URL.format(101), headers={"X-Deadline-Ms": "3000"}).status_code == 200  # 2 s fits in 3
    assert client.get(SEED_URL.format(102)).status_code == 200  # the default deadline, 10 s


def test_a_cached_image_is_never_refused(gateway, slow_engine):
    client, _, _ = gateway
    assert client.get(SEED_URL.format(103), headers={"X-Deadline-Ms": "5000"}).status_code == 200
    assert client.get(SEED_URL.format(103), headers={"X-Deadline-Ms": "1"}).status_code == 200  # no engine work


def test_grpc_deadlines_are_the_calls_own(gateway, slow_engine):
    _, stub, _ = gateway
    request = pb.GenerateRequest(model="demo64", latents=[pb.Latent(seed=104)])
    with pytest.raises(grpc.RpcError) as raised:
        stub.Generate(request, timeout=0.5)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert dict(raised.value.trailing_metadata())["ganserve-code"] == "deadline_exceeded"
    assert len(stub.Generate(request, timeout=5).images) == 1
