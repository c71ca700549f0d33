"""Projection from the client library and the CLI, over both transports, against `ganserve serve`
(the embedded default: its own worker subprocess, started on the first job)."""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import served_env
from ganserve.settings import REPO_ROOT
from ganserve_bench.processes import gateway
from ganserve_client import AsyncClient, Client, InvalidInput, Latent, ProjectionState
from ganserve_client.cli import app

MODEL = "emoji32"


@pytest.fixture(scope="module")
def server(settings, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("projection-server")
    shutil.copytree(REPO_ROOT / "models" / MODEL, workdir / "models" / MODEL)
    env = served_env(settings, workdir)
    env |= {"GANSERVE_MODELS_DIR": str(workdir / "models"), "GANSERVE_MODEL_REPOSITORY": str(REPO_ROOT / "model_repository")}
    env |= {"GANSERVE_DEFAULT_MODEL": MODEL}
    with gateway(env, workdir, MODEL) as (started, _):
        yield started


@pytest.fixture(scope="module", params=["http", "grpc"])
def url(request, server) -> str:
    return server.base_url if request.param == "http" else f"grpc://{server.grpc_target}"


@pytest.fixture(scope="module")
def target(server) -> bytes:
    with Client(server.base_url) as client:
        (image,) = client.generate(MODEL, [Latent.seed(31)], class_=3)
        return image.data


def test_project_follows_the_job_to_a_saved_latent(url, target):
    with Client(url) as client:
        events = list(client.project(MODEL, target, steps=20, preview_every=10))
        assert events[0].state == ProjectionState.queued and not events[0].done
        last = events[-1]
        assert last.done and last.state == ProjectionState.succeeded and last.latent_id and last.step == 20
        assert {e.step for e in events if e.preview is not None} == {10, 20}
        assert Image.open(io.BytesIO(events[-2].preview)).size == (32, 32)
        assert client.projection(last.id).latent_id == last.latent_id
        (again,) = client.generate(MODEL, [Latent.saved(last.latent_id)])  # the result is a latent like any other
        assert again.array().shape == (32, 32, 3)
        with pytest.raises(InvalidInput, match="image"):
            list(client.project(MODEL, b"not an image"))


async def test_the_async_client_projects_too(url, target):
    async with AsyncClient(url) as client:
        events = [event async for event in client.project(MODEL, target, steps=5, space="w+")]
        assert events[-1].state == ProjectionState.succeeded
        assert (await client.projection(events[-1].id)).state == ProjectionState.succeeded


def test_the_cli_shows_progress_and_prints_the_latent(url, target, tmp_path):
    upload, preview = tmp_path / "upload.png", tmp_path / "reconstruction.png"
    upload.write_bytes(target)
    result = CliRunner().invoke(app, ["--url", url, "project", str(upload), "--steps", "10", "--out", str(preview)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("latent ") and "dB after 10 steps" in result.stdout
    with Image.open(preview) as written:
        assert written.size == (32, 32)
