"""The deployment, started for real with podman: the gateway image run with its own CMD, and the
compose CPU profile under podman-compose, on images built here from the checkout
(docker-compose.test.yml swaps in the images that cannot be pulled on this machine). Everything is
checked from outside the containers, through the ports they publish on the host.

The base image (debootstrap, minutes) is made once and kept in podman's store; the other images are
rebuilt each run on podman's cached layers, so a code change costs seconds. Skipped only where
podman cannot start a container at all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from fastapi.testclient import TestClient
from grpc_health.v1 import health_pb2, health_pb2_grpc

from containers import GATEWAY_IMAGE, REDIS_IMAGE, RUN_OPTIONS, TRITON_IMAGE, build, cannot_run_containers, healthy, podman, run, wait_for
from ganserve.api.app import create_app
from ganserve.settings import REPO_ROOT, Settings
from ganserve.triton.local import free_port
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

pytestmark = pytest.mark.slow

SEED_PNG = "/v1/models/demo64/seeds/42.png"
COMPOSE_FILES = ["-f", str(REPO_ROOT / "docker-compose.yml"), "-f", str(REPO_ROOT / "docker-compose.test.yml")]
PODMAN_COMPOSE = Path(sys.executable).parent / "podman-compose"  # the dev extra installs it beside this interpreter


@pytest.fixture(scope="module")
def images() -> None:
    reason = cannot_run_containers()
    if reason:
        pytest.skip(reason)
    for image in (GATEWAY_IMAGE, TRITON_IMAGE, REDIS_IMAGE):
        build(image)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> TestClient:
    """The checkout's own server as `make serve` runs it: the embedded engine, the committed models."""
    settings = Settings(grpc_port=0, latents_path=tmp_path_factory.mktemp("embedded") / "latents.sqlite3")
    with TestClient(create_app(settings)) as client:
        yield client


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def assert_grpc_serving(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "ganserve.v1.Generator"):
            response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert response.status == health_pb2.HealthCheckResponse.SERVING, service


def test_gateway_image_serves_with_its_own_cmd(images, embedded):
    name = f"ganserve-test-gateway-{uuid.uuid4().hex[:8]}"
    http_port, grpc_port = free_port(), free_port()
    url, grpc_target = f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"
    try:
        published = ["-p", f"127.0.0.1:{http_port}:8000", "-p", f"127.0.0.1:{grpc_port}:50051"]
        podman("run", "-d", "--name", name, *RUN_OPTIONS, *published, GATEWAY_IMAGE)  # no command, no environment: its own
        wait_for(lambda: ready(url), "GET /readyz 200", [name])
        image = httpx.get(f"{url}{SEED_PNG}", timeout=30)
        assert image.status_code == 200, image.text
        assert image.content == embedded.get(SEED_PNG).content
        assert_grpc_serving(grpc_target)
        # It runs as its own user, who can write where it writes: its home, /tmp, the saved latents' folder.
        assert podman("exec", name, "id", "-u").stdout.strip() != "0"
        writable = 'test -w "$HOME" && test -w /tmp && test -w "$(dirname "$GANSERVE_LATENTS_PATH")"'
        assert podman("exec", name, "sh", "-c", writable, check=False).returncode == 0, "a path it writes is not writable"
        saved = httpx.post(f"{url}/v1/latents", json={"model": "demo64", "latent": {"seed": 42}}, timeout=30)
        assert saved.status_code == 201, saved.text
        assert healthy(name), "the image's HEALTHCHECK fails"
    finally:
        podman("rm", "--force", "--time", "2", name, check=False)


@dataclass
class Stack:
    """The compose CPU profile under one project name, on free host ports."""

    project: str = field(default_factory=lambda: f"ganserve-test-{uuid.uuid4().hex[:8]}")
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)

    services = ("triton-cpu", "redis-cache", "redis-store", "gateway")
    headers: dict[str, str] = field(default_factory=dict)  # an admin key's, once the stack is up
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"  # podman-compose's naming

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        ports = {"GATEWAY_HTTP_PORT": self.http_port, "GATEWAY_GRPC_PORT": self.grpc_port, "TRITON_METRICS_PORT": self.metrics_port}
        command = [str(PODMAN_COMPOSE), "-p", self.project, *COMPOSE_FILES, "--profile", "cpu", *args]
        env = {**os.environ, **{name: str(port) for name, port in ports.items()}}  # read by docker-compose.yml's ports
        return run(command, timeout=600, check=check, env=env)

    def wait_ready(self) -> None:
        """Every service's own health check passes, and the gateway is ready (its models answer through Triton)."""
        containers = [self.container(service) for service in self.services]
        for container in containers:
            wait_for(lambda container=container: healthy(container), f"a passing health check of {container}", containers)
        wait_for(lambda: ready(self.url), "GET /readyz 200 from the gateway", containers)


@pytest.fixture(scope="module")
def stack(images) -> Stack:
    stack = Stack()
    try:
        stack.compose("up", "-d")
        stack.wait_ready()
        # Keys are required in the stack: one made inside the gateway's container, in the durable Redis.
        created = podman("exec", stack.container("gateway"), "ganserve", "keys", "create", "--scope", "admin", "--json").stdout
        stack.headers = {"Authorization": f"Bearer {json.loads(created)['key']}"}
        stack.metadata = (("authorization", stack.headers["Authorization"]),)
        yield stack
    finally:
        stack.compose("down", "-v", check=False)


def triton_inferences(stack: Stack, model: str) -> int:
    metrics = httpx.get(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=10).text
    counts = re.findall(rf'^nv_inference_count{{model="{model}",version="1"}} (\d+)', metrics, re.MULTILINE)
    assert counts, f"Triton reports no {model}"
    return int(counts[0])


def test_stack_generates_through_triton(stack, embedded):
    assert httpx.get(f"{stack.url}/v1/models", timeout=10).status_code == 401  # keys required: compose's default
    models = httpx.get(f"{stack.url}/v1/models", headers=stack.headers, timeout=10).json()["models"]
    assert {model["name"]: model["engine"] for model in models} == {"demo64": "triton", "emoji32": "triton"}
    assert [model["name"] for model in models if model["default"]] == ["emoji32"]
    before = triton_inferences(stack, "demo64_synthesis")
    image = httpx.get(f"{stack.url}{SEED_PNG}", headers=stack.headers, timeout=30)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png", image.text
    assert triton_inferences(stack, "demo64_synthesis") > before
    # Triton runs the same ONNX graphs with ONNX Runtime: the same bytes as the embedded engine.
    assert image.content == embedded.get(SEED_PNG).content
    # The image carries the model's directions: an edit gives the embedded engine's bytes too.
    edited = httpx.get(f"{stack.url}{SEED_PNG}?edit=ganspace-0:2@coarse", headers=stack.headers, timeout=30)
    assert edited.status_code == 200 and edited.content != image.content, edited.text
    assert edited.content == embedded.get(f"{SEED_PNG}?edit=ganspace-0:2@coarse").content


def test_grpc_api_reachable_from_the_host(stack):
    assert_grpc_serving(stack.grpc_target)
    with grpc.insecure_channel(stack.grpc_target) as channel:
        models = ganserve_pb2_grpc.GeneratorStub(channel).ListModels(pb.ListModelsRequest(), metadata=stack.metadata, timeout=10).models
    assert [(model.name, model.engine) for model in models] == [("demo64", "triton"), ("emoji32", "triton")]


def test_saved_latent_survives_a_gateway_restart(stack):
    """A save lives in the durable Redis store (not in the gateway's container, whose files a restart
    keeps): it is there after the gateway and that Redis restart."""
    body = {"model": "demo64", "latent": {"seed": 7}, "kind": "w"}
    response = httpx.post(f"{stack.url}/v1/latents", json=body, headers=stack.headers, timeout=30)
    assert response.status_code == 201, response.text
    saved = response.json()
    in_redis = podman("exec", stack.container("redis-store"), "redis-cli", "exists", f"ganserve:latent:{saved['id']}").stdout
    assert in_redis.strip() == "1", "the save is not in redis-store"
    stack.compose("restart", "redis-store", "gateway")
    containers = [stack.container("redis-store"), stack.container("gateway")]
    wait_for(lambda: ready(stack.url) and healthy(containers[0]), "the gateway and redis-store back after the restart", containers)
    assert httpx.get(f"{stack.url}/v1/latents/{saved['id']}", headers=stack.headers, timeout=10).json() == saved
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        over_grpc = stub.GetLatent(pb.GetLatentRequest(id=saved["id"]), metadata=stack.metadata, timeout=10)
    assert over_grpc.model == "demo64" and len(over_grpc.values.values) == len(saved["values"])
