"""The README's three commands, for real: `ganserve import` an NVlabs-format StyleGAN3 snapshot, then
`ganserve serve` (embedded engine, and Triton) serves it by name over HTTP and gRPC, with gen_images.py's
pixels for seeds, classes, psi and views."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from PIL import Image

from ganserve.repository import Target
from ganserve.settings import Settings
from ganserve_bench.processes import gateway
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc
from importer_pickles import case_snapshot
from nvlabs_reference import SG3_SETTINGS, assert_nvlabs_parity, load_case

CASE, NAME = "sg3r_cond_16", "my-faces"
SEEDS = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, str]:
    """`ganserve import PKL --name NAME` (with its default compile) into fresh folders: the gateway's env."""
    root = tmp_path_factory.mktemp("byo")
    pkl = root / "network-snapshot-000800.pkl"
    case_snapshot(pkl, CASE)
    env = {"GANSERVE_MODELS_DIR": str(root / "models"), "GANSERVE_MODEL_REPOSITORY": str(root / "repo")}
    command = [str(Path(sys.executable).parent / "ganserve"), "import", str(pkl), "--name", NAME]
    result = subprocess.run(command, env={**_base_env(), **env}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "stylegan3" in result.stdout and "not executed" in result.stdout
    return {**env, "GANSERVE_LATENTS_PATH": str(root / "latents.sqlite3")}


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GANSERVE_")}


def _check_served(server) -> None:
    _, _, ref = load_case(CASE)
    classes = [int(i) for i in ref["c"].argmax(axis=1)]
    models = httpx.get(f"{server.base_url}/v1/models").json()["models"]
    (info,) = [m for m in models if m["name"] == NAME]
    assert info["architecture"] == "stylegan3" and info["source"]["kind"] == "nvlabs-pickle"

    psi, cutoff, (x, y), rotate = SG3_SETTINGS["psi05_cut4_rot30"]
    images = []
    for seed, cls in zip(SEEDS, classes, strict=True):
        url = f"{server.base_url}/v1/models/{NAME}/seeds/{seed}.png?class={cls}&psi={psi}&cutoff={cutoff}&translate={x},{y}&rotate={rotate}"
        response = httpx.get(url, timeout=60)
        assert response.status_code == 200, response.text
        images.append(np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")))
    assert_nvlabs_parity(np.stack(images), ref["img_psi05_cut4_rot30"], f"imported {CASE} over HTTP")

    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        (listed,) = [m for m in stub.ListModels(pb.ListModelsRequest(), timeout=30).models if m.name == NAME]
        assert listed.architecture == "stylegan3" and listed.source["details"]["family"] == "stylegan3"
        options = pb.GenerationOptions(psi=psi, cutoff=cutoff, class_index=classes[0], translate=pb.Translation(x=x, y=y), rotate=rotate)
        request = pb.GenerateRequest(model=NAME, latents=[pb.Latent(seed=SEEDS[0])], options=options, format=pb.IMAGE_FORMAT_RAW)
        image = stub.Generate(request, timeout=60).images[0]
    assert np.array_equal(np.frombuffer(image.data, np.uint8).reshape(image.shape), images[0])


def test_imported_snapshot_is_served_by_the_next_serve(imported, tmp_path):
    with gateway(imported, tmp_path, NAME) as (server, _):
        _check_served(server)


def test_imported_snapshot_is_served_through_triton(imported, tmp_path):
    from ganserve.triton import local

    env_dir = Settings().triton_env
    if not local.available(env_dir):
        pytest.skip(f"no local tritonserver: {local.INSTALL_HINT}")
    with local.LocalTriton(Path(imported["GANSERVE_MODEL_REPOSITORY"]) / Target.python, tmp_path, env_dir) as triton:
        env = {**imported, "GANSERVE_ENGINE": "triton", "GANSERVE_TRITON_URL": triton.grpc_url}
        with gateway(env, tmp_path, NAME) as (server, _):
            _check_served(server)
