"""The server package serves without the client package: `ganserve serve` in a subprocess where
`ganserve_client` cannot be imported answers an HTTP seed image and a gRPC Generate."""

from __future__ import annotations

import subprocess
import sys

import grpc
import httpx
import pytest

from conftest import COND_MODEL, served_env
from ganserve_bench.processes import gateway
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

# Python imports sitecustomize at startup from the path: this one makes ganserve_client unimportable.
REFUSE_CLIENT = """
import sys


class RefuseClient:
    def find_spec(self, name, path=None, target=None):
        if name == "ganserve_client" or name.startswith("ganserve_client."):
            raise ModuleNotFoundError(f"No module named {name!r} (refused by this test)", name=name)
        return None


sys.meta_path.insert(0, RefuseClient())
"""


@pytest.fixture(scope="module")
def without_client(tmp_path_factory) -> dict[str, str]:
    """PYTHONPATH for a Python without ganserve_client, checked to be so."""
    directory = tmp_path_factory.mktemp("no-client")
    (directory / "sitecustomize.py").write_text(REFUSE_CLIENT)
    env = {"PYTHONPATH": str(directory)}
    probe = subprocess.run([sys.executable, "-c", "import ganserve_client"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "refused by this test" in probe.stderr, probe.stderr
    return env


def test_the_server_serves_http_and_grpc_without_the_client_package(settings, without_client, tmp_path):
    env = {**served_env(settings, tmp_path), **without_client}
    with gateway(env, tmp_path, COND_MODEL) as (server, _):
        image = httpx.get(f"{server.base_url}/v1/models/{COND_MODEL}/seeds/7.png", params={"class": "dog"}, timeout=30)
        with grpc.insecure_channel(server.grpc_target) as channel:
            request = pb.GenerateRequest(
                model=COND_MODEL, latents=[pb.Latent(seed=7)], options=pb.GenerationOptions(class_name="dog"), format=pb.IMAGE_FORMAT_PNG
            )
            generated = ganserve_pb2_grpc.GeneratorStub(channel).Generate(request, timeout=30)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert generated.images[0].data == image.content  # the same image through both transports
    assert "refused by this test" not in server.log_tail(200)
