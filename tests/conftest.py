"""Shared fixtures: a models folder with the demo model and a conditional model built from the
NVlabs reference weights (compiled to ONNX once per session), and an app serving both."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from safetensors.numpy import load_file, save_file

sys.path.insert(0, str(Path(__file__).parent))

from ganserve.access.key_stores import SQLiteKeyStore  # noqa: E402
from ganserve.access.keys import Scope, new_key  # noqa: E402
from ganserve.api.app import create_app  # noqa: E402
from ganserve.artifacts import Artifact, save_artifact  # noqa: E402
from ganserve.repository import Target  # noqa: E402
from ganserve.settings import REPO_ROOT, Settings  # noqa: E402
from ganserve.triton.config import BatchingOptions  # noqa: E402
from ganserve.triton.local import free_port  # noqa: E402
from ganserve_bench.processes import gateway  # noqa: E402
from nvlabs_reference import load_case  # noqa: E402

COND_MODEL = "cond16"
# StyleGAN3 models (configs T and R) built from the NVlabs reference weights: model name -> case.
SG3_MODELS = {"sg3t": "sg3t_uncond_32", "sg3r": "sg3r_cond_16"}
# GANSERVE_TEST_ENGINE=openvino (`make test-openvino`): the API suite on that in-process engine alone
# (its default, exact mode), instead of on the embedded engine and Triton.
TEST_ENGINE = os.environ.get("GANSERVE_TEST_ENGINE", "")


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """(models_dir, model_repository): demo64 as committed, plus `cond16` and the StyleGAN3 models
    compiled here."""
    from ganserve.compile import compile_model

    root = tmp_path_factory.mktemp("served")
    models, repository = root / "models", root / "model_repository"
    shutil.copytree(REPO_ROOT / "models" / "demo64", models / "demo64")
    for target in (Target.onnx, Target.python):
        for entry in (REPO_ROOT / "model_repository" / target).glob("demo64_*"):
            shutil.copytree(entry, repository / target / entry.name)
    config, state, _ = load_case("sg2_cond_16_map2")
    config = config.model_copy(update={"name": COND_MODEL, "class_names": ["cat", "dog", "bird", "fish", "frog"]})
    compile_model(save_artifact(models / COND_MODEL, config, state), repository, [Target.onnx, Target.python], BatchingOptions())
    for name, case in SG3_MODELS.items():
        config, state, _ = load_case(case)
        config = config.model_copy(update={"name": name})
        compile_model(save_artifact(models / name, config, state), repository, [Target.onnx, Target.python], BatchingOptions())
    return models, repository


@pytest.fixture(scope="session")
def settings(model_dirs) -> Settings:
    models, repository = model_dirs
    latents_path, jobs_path = models.parent / "latents.sqlite3", models.parent / "jobs.sqlite3"
    limits = {"max_images": 8, "max_frames": 16, "max_mix_side": 3}
    # No rate limits: the tests call far faster than a product app; tests/api/test_access.py tests them at their defaults.
    limits |= {"rate_limit_requests_per_s": 0, "rate_limit_images_per_s": 0}
    # The tests' default: demo64 (the shipped default, emoji32, is tested as shipped in tests/training/test_demo_model.py).
    # No gRPC by default: apps started side by side would share a port; `client` gives each its own.
    return Settings(
        models_dir=models,
        model_repository=repository,
        latents_path=latents_path,
        jobs_path=jobs_path,
        grpc_port=0,
        default_model="demo64",
        **({"engine": TEST_ENGINE} if TEST_ENGINE else {}),
        **limits,
    )


@pytest.fixture(scope="session")
def triton_server(model_dirs, tmp_path_factory):
    """A real tritonserver (python target) serving the same models, on free ports."""
    from ganserve.triton import local

    env_dir = Settings().triton_env
    if not local.available(env_dir):
        pytest.skip(f"no local tritonserver: {local.INSTALL_HINT}")
    with local.LocalTriton(model_dirs[1] / Target.python, tmp_path_factory.mktemp("triton"), env_dir) as server:
        yield server


@pytest.fixture(scope="session", params=[TEST_ENGINE] if TEST_ENGINE else ["onnxruntime", "triton"])
def client(request, settings) -> TestClient:
    """The API through the embedded engine, and through Triton: every API test runs on both (on
    GANSERVE_TEST_ENGINE alone where set). The app's gRPC server listens on `client.grpc_target`."""
    port = free_port()
    settings = settings.model_copy(update={"grpc_port": port})
    if request.param == "triton":
        server = request.getfixturevalue("triton_server")
        settings = settings.model_copy(update={"engine": "triton", "triton_url": server.grpc_url})
    with TestClient(create_app(settings)) as test_client:
        test_client.grpc_target = f"127.0.0.1:{port}"
        yield test_client


@pytest.fixture(scope="session")
def live_server(settings, tmp_path_factory):
    """`ganserve serve` in a subprocess on free HTTP and gRPC ports, serving the test models."""
    workdir = tmp_path_factory.mktemp("live")
    with gateway(served_env(settings, workdir), workdir, COND_MODEL) as (server, _):
        yield server


def served_env(settings: Settings, workdir: Path, **extra: str) -> dict[str, str]:
    """GANSERVE_* for a `ganserve serve` subprocess serving the test models, with its own latent store."""
    env = {
        "GANSERVE_MODELS_DIR": str(settings.models_dir),
        "GANSERVE_MODEL_REPOSITORY": str(settings.model_repository),
        "GANSERVE_LATENTS_PATH": str(workdir / "latents.sqlite3"),
        "GANSERVE_JOBS_PATH": str(workdir / "jobs.sqlite3"),
        "GANSERVE_MAX_IMAGES": str(settings.max_images),
        "GANSERVE_MAX_FRAMES": str(settings.max_frames),
        "GANSERVE_MAX_MIX_SIDE": str(settings.max_mix_side),
        "GANSERVE_DEFAULT_MODEL": settings.default_model,
        "GANSERVE_RATE_LIMIT_REQUESTS_PER_S": str(settings.rate_limit_requests_per_s),
        "GANSERVE_RATE_LIMIT_IMAGES_PER_S": str(settings.rate_limit_images_per_s),
    }
    if TEST_ENGINE:
        env["GANSERVE_ENGINE"] = TEST_ENGINE
    return {**env, **{f"GANSERVE_{key.upper()}": value for key, value in extra.items()}}


def make_keys(path: Path, **scopes: list[Scope]) -> dict[str, str]:
    """{name: key text}, stored where the gateway will look."""

    async def add() -> dict[str, str]:
        store, made = SQLiteKeyStore(path), {}
        for name, granted in scopes.items():
            made[name], key = new_key(granted, name)
            await store.add(key)
        await store.close()
        return made

    return asyncio.run(add())


def retrain(model_dir: Path, scale: float) -> Artifact:
    """New weights under the same name, as another training run gives: the constant input scaled, so that
    every image changes. Written beside, then renamed over the old file (as a deployment should)."""
    # The 4x4 input, not a conv weight: weight demodulation would cancel the scale of those.
    artifact = Artifact(model_dir)
    weights = load_file(artifact.weights_path)
    weights["synthesis.b4.const"] = weights["synthesis.b4.const"] * np.float32(scale)
    written = artifact.weights_path.with_suffix(".new")
    save_file(weights, written)
    written.replace(artifact.weights_path)
    return Artifact(model_dir)


def hold_request(port: int) -> socket.socket:
    """A request in flight on a gateway until the socket closes: its headers sent, its body not yet."""
    connection = socket.create_connection(("127.0.0.1", port))
    head = "POST /v1/models/demo64/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{"
    connection.sendall(head.encode())
    return connection


def assert_error(response, status: int, field: str | None = None) -> dict:
    """A JSON error with the expected status that names the offending field."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if field is not None:
        assert error["field"] == field, error
    return error


# A walk long enough that its call ends (deadline, cancellation) while the server is still synthesising it.
LONG_WALK = 1024


@pytest.fixture(scope="session")
def frame_by_frame_server(settings, tmp_path_factory):
    """`ganserve serve` that synthesises a walk one engine call per frame, up to LONG_WALK frames: a
    stream whose work can be seen to stop (ganserve_images_total) when its call ends early."""
    workdir = tmp_path_factory.mktemp("frame_by_frame")
    env = served_env(settings, workdir, batch_max_size="1", max_frames=str(LONG_WALK))
    with gateway(env, workdir, COND_MODEL) as (server, _):
        yield server


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of a /metrics page, by its full name and exact labels; 0 when absent (a labelled
    counter appears at its first increment)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def await_metric(base_url: str, name: str, value: float, timeout_s: float = 10.0, **labels: str) -> str:
    """The gateway's /metrics once the sample has reached value (or timeout_s passed): a call cut short
    is recorded when the server's side of it ends, after the client has given up."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = httpx.get(f"{base_url}/metrics").text
        if metric(text, name, **labels) >= value or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


# Figures that process tests measure (the replica and rollout tests): shown at the end of every run,
# so that `make test`'s output carries them. Assertions still decide pass or fail.
MEASURED: list[tuple[str, dict]] = []


@pytest.fixture
def figures(request):
    """A dict the test fills with what it measured; printed in the run's summary under "figures"."""
    measured: dict = {}
    yield measured
    if measured:
        MEASURED.append((request.node.nodeid, measured))


def pytest_terminal_summary(terminalreporter):
    if not MEASURED:
        return
    terminalreporter.section("figures")
    for nodeid, measured in MEASURED:
        terminalreporter.write_line(f"{nodeid}: " + ", ".join(f"{key} {value}" for key, value in measured.items()))


# -- tests/projection: the trained emoji32 model with a discriminator, built in a temporary folder from
# what is committed (the generator of models/emoji32, the D of runs/emoji32's resume checkpoint). Here
# and not in a tests/projection/conftest.py: a second module named conftest would shadow this one for
# every `from conftest import ...` collected after it.
def _copy_emoji_generator(directory: Path) -> None:
    from ganserve.artifacts import CONFIG_FILE, WEIGHTS_FILE

    directory.mkdir(parents=True)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        shutil.copy(REPO_ROOT / "models" / "emoji32" / name, directory / name)


@pytest.fixture(scope="session")
def emoji_with_d(tmp_path_factory) -> Artifact:
    from ganserve.training.export import export_discriminator
    from ganserve.training.loop import OPTIONS_FILE
    from ganserve.training.options import TrainingOptions

    run_dir = REPO_ROOT / "runs" / "emoji32"
    directory = tmp_path_factory.mktemp("projection") / "emoji32"
    _copy_emoji_generator(directory)
    options = TrainingOptions.model_validate_json((run_dir / OPTIONS_FILE).read_text())
    export_discriminator(run_dir, directory, options, c_dim=Artifact(directory).config.c_dim)
    return Artifact(directory)


@pytest.fixture(scope="session")
def emoji_without_d(tmp_path_factory) -> Artifact:
    directory = tmp_path_factory.mktemp("projection-no-d") / "emoji32"
    _copy_emoji_generator(directory)
    return Artifact(directory)


@pytest.fixture
def one_thread():
    """One torch thread (the fastest and steadiest on a shared 2-core machine), then torch's setting
    as it was, for the tests that follow."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def projector(emoji_with_d):
    from ganserve.projection import Projector

    return Projector(emoji_with_d)
