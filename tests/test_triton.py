"""Triton: configs against Triton's own protobuf, the TensorRT target, and the gateway's Triton
engine against a real tritonserver (equal outputs, readiness, failure and recovery)."""

import shutil
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from google.protobuf import text_format
from safetensors.numpy import load_file, save_file
from tritonclient.grpc import model_config_pb2

from ganserve.api.app import create_app
from ganserve.artifacts import Artifact
from ganserve.repository import DIGEST_KEY, GRAPH_PARTS, Target, entry_dir, version_digest_key
from ganserve.settings import REPO_ROOT, Settings
from ganserve.triton import local, tensorrt
from ganserve.triton.config import BatchingOptions, tensor_specs, triton_config

DEMO = Artifact(REPO_ROOT / "models" / "demo64")
REQUESTS = [
    ("get", "/v1/models/demo64/seeds/3.png?psi=0.7", None),
    ("get", "/v1/models/demo64/seeds/4.webp?noise=random&noise_seed=9", None),
    ("get", "/v1/models/cond16/seeds/1.png?class=dog", None),
    ("post", "/v1/models/demo64/images", {"latents": [{"seed": s} for s in range(6)], "output": "grid"}),
    ("post", "/v1/models/demo64/interpolations", {"keyframes": [{"seed": 1}, {"seed": 2}], "frames": 5, "output": "frames"}),
    ("post", "/v1/models/demo64/mixes", {"rows": [{"seed": 1}, {"seed": 2}], "columns": [{"seed": 3}], "layers": "middle"}),
]


@pytest.mark.parametrize("target", list(Target))
def test_committed_configs_are_valid_triton_model_configs(target):
    for part in GRAPH_PARTS:
        path = entry_dir(REPO_ROOT / "model_repository", target, "demo64", part) / "config.pbtxt"
        config = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
        assert config.name == f"demo64_{part}" and config.max_batch_size == 32
        assert config.parameters[DIGEST_KEY].string_value == DEMO.digest, "recompile: ganserve compile models/demo64"
        assert list(config.dynamic_batching.preferred_batch_size) == [8, 16, 32]
        assert config.model_warmup[0].batch_size == 1
        inputs, outputs = tensor_specs(DEMO.config, part)
        assert [i.name for i in config.input] == [s.name for s in inputs]
        assert [o.name for o in config.output] == [s.name for s in outputs]
        assert list(config.version_policy.specific.versions) == [1]
        assert config.parameters[version_digest_key(1)].string_value == DEMO.digest
        if target == Target.python:
            onnx = (path.parent / config.parameters["onnx_model"].string_value / "1" / "model.onnx").resolve()
            assert onnx.is_file() and (path.parent / "1" / "model.py").is_file()


def test_batching_options_reach_the_config():
    options = BatchingOptions(max_batch_size=16, preferred_batch_sizes=(4, 8, 64), max_queue_delay_us=250, instances=2)
    text = triton_config(DEMO.config, "synthesis", Target.onnx, DEMO.digest, options)
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]  # none above max_batch_size
    assert config.dynamic_batching.max_queue_delay_microseconds == 250 and config.instance_group[0].count == 2


def test_tensorrt_build_script_covers_the_batch_range():
    script = (REPO_ROOT / "model_repository" / "tensorrt" / "build_demo64.sh").read_text()
    for part in GRAPH_PARTS:
        assert f"/onnx/demo64_{part}/1/model.onnx" in script and f"/tensorrt/demo64_{part}/1/model.plan" in script
    assert "--minShapes=ws:1x10x256,noise_gain:1 " in script
    assert "--optShapes=ws:32x10x256,noise_gain:32 " in script and "--maxShapes=ws:32x10x256,noise_gain:32" in script
    assert script.count("--fp16") == 3


@pytest.mark.skipif(not tensorrt.available(), reason=tensorrt.UNAVAILABLE_REASON)
def test_tensorrt_engine_builds(tmp_path):
    part = "mapping"
    onnx = entry_dir(REPO_ROOT / "model_repository", Target.onnx, "demo64", part) / "1" / "model.onnx"
    plan = tensorrt.build_engine(onnx, tmp_path / "model.plan", tensorrt.profile_shapes(DEMO.config, part, BatchingOptions()))
    assert plan.stat().st_size > 0


def _responses(client: TestClient) -> list[bytes]:
    return [getattr(client, method)(path, **({"json": body} if body else {})).content for method, path, body in REQUESTS]


def test_triton_gives_the_embedded_engines_bytes(settings, triton_server):
    with TestClient(create_app(settings)) as embedded:
        expected = _responses(embedded)
    with TestClient(create_app(settings.model_copy(update={"engine": "triton", "triton_url": triton_server.grpc_url}))) as triton:
        assert triton.get("/v1/models/demo64").json()["engine"] == "triton"
        assert _responses(triton) == expected


def test_triton_down_is_503_then_recovers(settings, model_dirs, tmp_path):
    env_dir = Settings().triton_env
    if not local.available(env_dir):
        pytest.skip(f"no local tritonserver: {local.INSTALL_HINT}")
    repository = tmp_path / "repo"  # demo64 only: quicker to restart
    for part in GRAPH_PARTS:
        for target in (Target.onnx, Target.python):
            shutil.copytree(entry_dir(model_dirs[1], target, "demo64", part), entry_dir(repository, target, "demo64", part))
    shutil.copytree(model_dirs[0] / "demo64", tmp_path / "models" / "demo64")
    server = local.LocalTriton(repository / Target.python, tmp_path / "triton", env_dir).start()
    app_settings = settings.model_copy(update={"engine": "triton", "triton_url": server.grpc_url, "models_dir": tmp_path / "models"})
    try:
        with TestClient(create_app(app_settings)) as client:
            assert client.get("/readyz").status_code == 200
            assert client.get("/v1/models/demo64/seeds/1.png").status_code == 200

            server.stop(kill=True)
            down = client.get("/v1/models/demo64/seeds/2.png")
            assert down.status_code == 503 and down.headers["retry-after"] == "1"
            assert down.json()["error"]["code"] == "engine_unavailable"
            not_ready = client.get("/readyz")
            assert not_ready.status_code == 503 and "demo64" in not_ready.json()["reason"]

            server = local.LocalTriton(server.repository, server.workdir, env_dir, server.http_port, server.grpc_port, server.metrics_port)
            server.start()
            restarted = time.monotonic()
            while client.get("/readyz").status_code != 200:  # the channel reconnects by itself
                assert time.monotonic() - restarted < 10, "no recovery within 10 s of Triton being ready"
                time.sleep(0.05)
            assert client.get("/v1/models/demo64/seeds/2.png").status_code == 200
            print(f"recovered {time.monotonic() - restarted:.2f} s after Triton was ready again")
    finally:
        server.stop()


def test_readyz_refuses_triton_models_compiled_from_other_weights(settings, triton_server, tmp_path):
    """/readyz is 200 while Triton serves graphs compiled from the gateway's weights, and 503 naming the
    graph once the gateway's demo64 has other weights under the same name (Triton serves the old ones)."""
    on_triton = settings.model_copy(update={"engine": "triton", "triton_url": triton_server.grpc_url})
    with TestClient(create_app(on_triton)) as client:
        assert client.get("/readyz").status_code == 200
    shutil.copytree(settings.models_dir / "demo64", tmp_path / "models" / "demo64")
    weights_path = Artifact(tmp_path / "models" / "demo64").weights_path
    weights = load_file(weights_path)
    weights["mapping.w_avg"] = weights["mapping.w_avg"] + np.float32(0.01)  # retrained, say: same name, other weights
    save_file(weights, weights_path)
    with TestClient(create_app(on_triton.model_copy(update={"models_dir": tmp_path / "models"}))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    reason = "demo64: Triton model demo64_mapping was compiled from other weights: recompile and reload it"
    assert response.json()["reason"] == reason


def test_gateway_starts_before_triton_and_says_not_ready(settings):
    unreachable = settings.model_copy(update={"engine": "triton", "triton_url": f"127.0.0.1:{local.free_port()}", "triton_timeout_s": 1})
    with TestClient(create_app(unreachable)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503 and "unreachable" in response.json()["reason"]
        assert client.get("/v1/models/demo64/seeds/1.png").status_code == 503


def test_committed_python_models_are_the_template():
    """Generated copies: `ganserve compile --target python` rewrites them; they must not drift."""
    template = (REPO_ROOT / "server" / "ganserve" / "triton" / "python_model.py").read_text()
    for part in GRAPH_PARTS:
        assert (entry_dir(REPO_ROOT / "model_repository", Target.python, "demo64", part) / "1" / "model.py").read_text() == template
