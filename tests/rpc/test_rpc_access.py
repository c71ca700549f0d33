"""API keys over gRPC, with keys required: every ganserve.v1 method enforces its scope (walked from
the service descriptor), health stays open, saved latents are private to their owner, and a rate
limit answers RESOURCE_EXHAUSTED with the retry delay in the trailing metadata."""

from __future__ import annotations

import grpc
import pytest
from fastapi.testclient import TestClient
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest import make_keys
from ganserve.access.keys import Scope
from ganserve.api.app import create_app
from ganserve.rpc.callers import METHOD_SCOPES
from ganserve.triton.local import free_port
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["Generator"]
# Written out here rather than read from the code under test.
EXPECTED = {
    "ListModels": Scope.generate,
    "Generate": Scope.generate,
    "Interpolate": Scope.generate,
    "Mix": Scope.generate,
    "ListDirections": Scope.generate,
    "Children": Scope.generate,
    "SaveLatent": Scope.latents_write,
    "DeleteLatent": Scope.latents_write,
    "GetLatent": Scope.latents_read,
    "ListLatents": Scope.latents_read,
    "Project": Scope.latents_write,  # its result is a saved latent
    "CancelProjection": Scope.latents_write,
    "GetProjection": Scope.latents_read,
}


def _gateway(settings, tmp_path, **update):
    path = tmp_path / "latents.sqlite3"
    keys = make_keys(
        path,
        alice=[Scope.generate, Scope.latents_read, Scope.latents_write],
        bob=[Scope.generate, Scope.latents_read, Scope.latents_write],
        scraper=[Scope.metrics],
        admin=[Scope.admin],
    )
    port = free_port()
    settings = settings.model_copy(update={"auth": "keys", "latents_path": path, "grpc_port": port, **update})
    return TestClient(create_app(settings)), f"127.0.0.1:{port}", keys


@pytest.fixture(scope="module")
def keyed(settings, tmp_path_factory):
    client, target, keys = _gateway(settings, tmp_path_factory.mktemp("rpc-keys"))
    with client, grpc.insecure_channel(target) as channel:
        yield ganserve_pb2_grpc.GeneratorStub(channel), channel, keys


def auth(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def _call(stub, method: str, metadata=None, request=None):
    """The method with an empty (or the given) request; a streaming call is read to its end."""
    descriptor = SERVICE.methods_by_name[method]
    request = request or getattr(pb, descriptor.input_type.name)()
    result = getattr(stub, method)(request, metadata=metadata, timeout=30)
    return list(result) if descriptor.server_streaming else result


def test_the_scope_table_covers_every_method():
    assert set(METHOD_SCOPES) == {method.name for method in SERVICE.methods} == set(EXPECTED)
    assert METHOD_SCOPES == EXPECTED


def test_every_method_needs_a_key_with_its_scope(keyed):
    stub, channel, keys = keyed
    for method in SERVICE.methods:
        with pytest.raises(grpc.RpcError) as missing:
            _call(stub, method.name)
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED, method.name
        assert dict(missing.value.trailing_metadata())["ganserve-scope"] == EXPECTED[method.name]
        with pytest.raises(grpc.RpcError) as wrong:
            _call(stub, method.name, auth(keys["scraper"]))
        assert wrong.value.code() == grpc.StatusCode.PERMISSION_DENIED, method.name
        assert EXPECTED[method.name] in wrong.value.details()
        try:
            _call(stub, method.name, auth(keys["admin"]))
        except grpc.RpcError as granted:  # an empty request is often invalid: anything but an access refusal
            assert granted.code() not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED), method.name
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(service="")).status == health_pb2.HealthCheckResponse.SERVING


def test_saved_latents_are_private_to_their_owner(keyed):
    stub, _, keys = keyed
    alice, bob, admin = auth(keys["alice"]), auth(keys["bob"]), auth(keys["admin"])
    saved = stub.SaveLatent(pb.SaveLatentRequest(model="demo64", latent=pb.Latent(seed=3)), metadata=alice)

    def listed(metadata) -> set[str]:
        return {entry.id for entry in stub.ListLatents(pb.ListLatentsRequest(), metadata=metadata).latents}

    assert saved.id in listed(alice) and saved.id not in listed(bob) and saved.id in listed(admin)
    assert stub.GetLatent(pb.GetLatentRequest(id=saved.id), metadata=bob).id == saved.id  # a share link
    with pytest.raises(grpc.RpcError) as refused:
        stub.DeleteLatent(pb.DeleteLatentRequest(id=saved.id), metadata=bob)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    stub.DeleteLatent(pb.DeleteLatentRequest(id=saved.id), metadata=alice)
    assert saved.id not in listed(alice)


def test_rate_limit_is_resource_exhausted_with_the_retry_delay(settings, tmp_path):
    client, target, keys = _gateway(settings, tmp_path, rate_limit_requests_per_s=1, rate_limit_burst_s=3, rate_limit_images_per_s=0)
    with client, grpc.insecure_channel(target) as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        for _ in range(3):
            stub.ListModels(pb.ListModelsRequest(), metadata=auth(keys["alice"]), timeout=30)
        with pytest.raises(grpc.RpcError) as limited:
            stub.ListModels(pb.ListModelsRequest(), metadata=auth(keys["alice"]), timeout=30)
        other = stub.ListModels(pb.ListModelsRequest(), metadata=auth(keys["bob"]), timeout=30)  # per key
    assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    metadata = dict(limited.value.trailing_metadata())
    assert 1 <= int(metadata["retry-after"]) <= 3 and metadata["ratelimit-limit"] == "3"
    assert "GANSERVE_RATE_LIMIT_REQUESTS_PER_S" in limited.value.details()
    assert other.models
