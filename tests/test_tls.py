"""TLS for deployments without a proxy: with GANSERVE_TLS_CERT_FILE and GANSERVE_TLS_KEY_FILE, a
real gateway serves HTTPS and gRPC over TLS (a self-signed certificate made here with openssl), and
refuses plain connections on both."""

import shutil
import ssl
import subprocess
from pathlib import Path

import grpc
import httpx
import pytest

from conftest import served_env
from ganserve.settings import Settings
from ganserve_bench.processes import gateway
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command (Debian: openssl)")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_https_and_grpc_over_tls(settings, certificate, tmp_path):
    cert, key = certificate
    env = served_env(settings, tmp_path, tls_cert_file=cert, tls_key_file=key)
    with gateway(env, tmp_path, "demo64") as (server, _):
        assert server.base_url.startswith("https://")
        models = httpx.get(f"{server.base_url}/v1/models", verify=ssl.create_default_context(cafile=cert))
        with pytest.raises(httpx.TransportError):
            httpx.get(server.base_url.replace("https", "http") + "/v1/models")
        credentials = grpc.ssl_channel_credentials(root_certificates=Path(cert).read_bytes())
        with grpc.secure_channel(server.grpc_target, credentials) as channel:
            listed = ganserve_pb2_grpc.GeneratorStub(channel).ListModels(pb.ListModelsRequest(), timeout=30)
        with grpc.insecure_channel(server.grpc_target) as channel, pytest.raises(grpc.RpcError) as plain:
            ganserve_pb2_grpc.GeneratorStub(channel).ListModels(pb.ListModelsRequest(), timeout=10)
    assert models.status_code == 200 and "demo64" in {m["name"] for m in models.json()["models"]}
    assert "demo64" in {m.name for m in listed.models}
    assert plain.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_half_configured_pair_is_refused_at_startup(certificate):
    with pytest.raises(ValueError, match="set both or neither"):
        Settings(tls_cert_file=certificate[0])
    with pytest.raises(ValueError, match="does not exist"):
        Settings(tls_cert_file="/nonexistent/cert.pem", tls_key_file=certificate[1])
