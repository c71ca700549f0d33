"""The gateway's gRPC server, started for real by `ganserve serve`: health, reflection (a generic
client that knows nothing but reflection finds and calls the service), error mapping, metrics,
and a graceful shutdown that finishes the calls in flight."""

from __future__ import annotations

import os
import signal
import time

import grpc
import httpx
import pytest
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from conftest import COND_MODEL, metric, served_env
from ganserve_bench.processes import gateway
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

SERVICE = "ganserve.v1.Generator"


def test_health_reports_serving(live_server):
    with grpc.insecure_channel(live_server.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE):
            assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as raised:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_reflection_only_client_discovers_and_calls_the_service(live_server):
    with grpc.insecure_channel(live_server.grpc_target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert SERVICE in database.get_services()
        assert "grpc.health.v1.Health" in database.get_services()
        pool = descriptor_pool.DescriptorPool(database)
        method = pool.FindServiceByName(SERVICE).FindMethodByName("Generate")
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        request = json_format.ParseDict(
            {"model": COND_MODEL, "latents": [{"seed": 5}], "options": {"classIndex": 2, "psi": 0.5}, "format": "IMAGE_FORMAT_RAW"},
            request_class(),
        )
        call = channel.unary_unary(
            f"/{SERVICE}/Generate", request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString
        )
        response = json_format.MessageToDict(call(request, timeout=30))
        generated = ganserve_pb2_grpc.GeneratorStub(channel).Generate(
            pb.GenerateRequest(
                model=COND_MODEL,
                latents=[pb.Latent(seed=5)],
                options=pb.GenerationOptions(class_index=2, psi=0.5),
                format=pb.IMAGE_FORMAT_RAW,
            )
        )
    assert response["images"][0]["shape"] == [16, 16, 3]
    assert json_format.ParseDict(response, pb.GenerateResponse()).images[0].data == generated.images[0].data


def test_calls_are_counted_in_metrics(live_server):
    """Each call is counted once, under its method and the status it ended with, and timed once."""
    counted = [("ListModels", "OK"), ("GetLatent", "NOT_FOUND"), ("GetLatent", "OK"), ("ListModels", "CANCELLED")]

    def values() -> list[float]:
        text = httpx.get(f"{live_server.base_url}/metrics").text
        calls = [metric(text, "ganserve_grpc_requests_total", method=method, code=code) for method, code in counted]
        return calls + [metric(text, "ganserve_grpc_request_seconds_count", method=method) for method in ("ListModels", "GetLatent")]

    before = values()
    with grpc.insecure_channel(live_server.grpc_target) as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        stub.ListModels(pb.ListModelsRequest())
        with pytest.raises(grpc.RpcError):
            stub.GetLatent(pb.GetLatentRequest(id="zzzz"))
    after = values()
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 0, 0, 1, 1]


def test_shutdown_finishes_calls_in_flight(settings, tmp_path):
    """SIGTERM while a stream is open: it still delivers every frame, new calls are refused, and the
    lifespan shuts down cleanly (uvicorn then re-raises the signal: exit status -15)."""
    env = served_env(settings, tmp_path, batch_max_size="1", max_frames="64")  # one engine call per frame: the walk still runs at SIGTERM
    with gateway(env, tmp_path, COND_MODEL) as (server, _):
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = ganserve_pb2_grpc.GeneratorStub(channel)
            request = pb.InterpolateRequest(model="demo64", keyframes=[pb.Latent(seed=1), pb.Latent(seed=2)], frames=64)
            stream = stub.Interpolate(request, timeout=60)
            first = next(stream)
            os.kill(server.proc.pid, signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(grpc.RpcError) as refused:
                stub.ListModels(pb.ListModelsRequest(), timeout=5)
            rest = list(stream)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert [first.index] + [frame.index for frame in rest] == list(range(64))
        assert server.proc.wait(30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in (tmp_path / "server.log").read_text()
