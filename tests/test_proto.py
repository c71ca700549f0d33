"""The committed gRPC stubs, the server's and the client's, are what grpcio-tools makes of the
committed .proto (make proto), and both copies work side by side in one process."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from ganserve.settings import REPO_ROOT


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_stubs", REPO_ROOT / "proto" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("stubs")
    return {p.relative_to(out): p.read_bytes() for p in load_generator().generate(out)}


@pytest.mark.parametrize("package", load_generator().STUB_PACKAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_generated_stubs_are_up_to_date(fresh, package):
    committed = {p.relative_to(package): p.read_bytes() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert sorted(fresh) == sorted(committed)
    stale = [str(path) for path in fresh if fresh[path] != committed[path]]
    assert not stale, f"regenerate with `make proto`: {stale}"


def test_server_and_client_stubs_load_side_by_side():
    """The same messages in one descriptor pool, whichever copy is imported first."""
    for first, second in (("ganserve.rpc", "ganserve_client"), ("ganserve_client", "ganserve.rpc")):
        code = (
            f"from {first}.generated.ganserve.v1 import ganserve_pb2 as a, ganserve_pb2_grpc\n"
            f"from {second}.generated.ganserve.v1 import ganserve_pb2 as b, ganserve_pb2_grpc\n"
            "assert b.GenerateRequest.FromString(a.GenerateRequest(model='m').SerializeToString()).model == 'm'\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
