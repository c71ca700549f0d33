"""Projection over HTTP and gRPC on the embedded default: the gateway decodes and queues, the worker
subprocess it starts runs the job; progress as Server-Sent Events; the result a saved latent.
Every bad upload is refused, naming the problem, before a job is queued."""

import io
import json
import shutil
import struct
import time
import zlib

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import assert_error, make_keys
from ganserve.access.keys import Scope
from ganserve.api.app import create_app
from ganserve.jobs.sqlite import SQLiteJobQueue
from ganserve.rpc.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve.rpc.generated.ganserve.v1 import ganserve_pb2_grpc
from ganserve.settings import REPO_ROOT
from ganserve.triton.local import free_port

MODEL = "emoji32"  # a trained model: projections of its own images converge in a few dozen steps
URL = f"/v1/models/{MODEL}/projections"
MAX_UPLOAD = 64 * 1024
MAX_STEPS = 200


@pytest.fixture(scope="module")
def projection_settings(settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("projections")
    shutil.copytree(REPO_ROOT / "models" / MODEL, root / "models" / MODEL)
    return settings.model_copy(
        update={
            "models_dir": root / "models",
            "model_repository": REPO_ROOT / "model_repository",
            "default_model": MODEL,
            "latents_path": root / "latents.sqlite3",
            "jobs_path": root / "jobs.sqlite3",
            "projection_max_steps": MAX_STEPS,
            "projection_max_upload_bytes": MAX_UPLOAD,
            "projection_max_image_pixels": 1024 * 1024,
            "projection_max_jobs_per_key": 2,
            "projection_local_workers": 1,
        }
    )


@pytest.fixture(scope="module")
def api(projection_settings):
    port = free_port()
    with TestClient(create_app(projection_settings.model_copy(update={"grpc_port": port}))) as client:
        client.grpc_target = f"127.0.0.1:{port}"
        yield client


def png(image: np.ndarray | Image.Image) -> bytes:
    out = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height and holds almost nothing: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def emoji(api, seed: int = 1234, cls: int = 0) -> bytes:
    response = api.get(f"/v1/models/{MODEL}/seeds/{seed}.png", params={"class": cls})
    assert response.status_code == 200
    return response.content


def events(api, id: str, headers: dict | None = None) -> list[tuple[int, str, dict]]:
    """(id, event, data) of every event until the stream ends."""
    found, pending = [], {}
    with api.stream("GET", f"/v1/projections/{id}/events", headers=headers or {}) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if not line:
                if "data" in pending:
                    found.append((int(pending["id"]), pending["event"], json.loads(pending["data"])))
                pending = {}
                continue
            name, _, value = line.partition(":")
            pending[name] = value.strip()
    return found


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _cmyk_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("CMYK", (32, 32), (0, 50, 100, 0)).save(out, "JPEG")
    return out.getvalue()


BAD_UPLOADS = {
    "empty": (b"", {}, 422, "image", "empty"),
    "not an image": (b"GIF89a? no, plain text" * 4, {}, 422, "image", "not an image"),
    "decompression bomb": (png_header_only(50_000, 50_000), {}, 422, "image", "more pixels than"),
    "grey": (png(np.zeros((32, 32), np.uint8)), {}, 422, "image", "1 channel(s) (mode L)"),
    "cmyk": (_cmyk_jpeg(), {}, 422, "image", "4 channel(s) (mode CMYK)"),
    "truncated": (png(np.full((64, 64, 3), 7, np.uint8) + np.arange(64, dtype=np.uint8)[:, None, None])[:-40], {}, 422, "image", ""),
    "oversized": (b"\x89PNG" + b"\0" * (MAX_UPLOAD + 1), {}, 413, "image", "larger than 65536 bytes"),
    "too many steps": (png(np.zeros((32, 32, 3), np.uint8)), {"steps": MAX_STEPS + 1}, 422, "steps", "GANSERVE_PROJECTION_MAX_STEPS"),
    "bad space": (png(np.zeros((32, 32, 3), np.uint8)), {"space": "z"}, 422, "space", ""),
    "unknown class": (png(np.zeros((32, 32, 3), np.uint8)), {"class": "dragons"}, 422, "class", "unknown class"),
}


@pytest.fixture(scope="module")
def idle_api(projection_settings, tmp_path_factory):
    """No workers: what is queued stays queued."""
    jobs = tmp_path_factory.mktemp("idle") / "jobs.sqlite3"
    settings = projection_settings.model_copy(update={"projection_local_workers": 0, "jobs_path": jobs})
    with TestClient(create_app(settings)) as client:
        client.jobs_path = jobs
        yield client


def queued_jobs(path) -> int:
    queue = SQLiteJobQueue(path)
    count = queue._executor.submit(lambda: queue._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]).result()
    queue._executor.submit(queue._close).result()
    return count


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_a_bad_upload_is_refused_naming_the_problem_before_a_job_is_queued(idle_api, case):
    body, params, status, field, says = BAD_UPLOADS[case]
    error = assert_error(idle_api.post(URL, content=body, params=params), status, field)
    assert says in error["message"]
    assert queued_jobs(idle_api.jobs_path) == 0


def test_an_unknown_model_is_404(idle_api):
    assert_error(idle_api.post("/v1/models/nope/projections", content=png(np.zeros((8, 8, 3), np.uint8))), 404, "model")


def test_a_caller_has_at_most_its_jobs_at_once_and_a_queued_job_is_cancelled_at_once(idle_api):
    image = png(np.full((40, 60, 3), 200, np.uint8))  # not square, not the model's size: cropped and resized
    first, second = (idle_api.post(URL, content=image, params={"steps": 10}) for _ in range(2))
    assert first.status_code == second.status_code == 202
    assert first.headers["location"] == f"/v1/projections/{first.json()['id']}"
    assert first.json()["state"] == "queued" and first.json()["steps"] == 10
    refused = assert_error(idle_api.post(URL, content=image), 429)
    assert refused["code"] == "too_many_projections" and "GANSERVE_PROJECTION_MAX_JOBS_PER_KEY" in refused["message"]
    cancelled = idle_api.delete(f"/v1/projections/{first.json()['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert idle_api.post(URL, content=image).status_code == 202  # room again
    assert_error(idle_api.get("/v1/projections/0000000000"), 404, "id")
    assert_error(idle_api.get("/v1/projections/not-an-id"), 404, "id")


def test_only_the_submitter_cancels_a_job(projection_settings, tmp_path):
    latents = tmp_path / "latents.sqlite3"
    keys = make_keys(latents, alice=[Scope.latents_write, Scope.latents_read], bob=[Scope.latents_write, Scope.latents_read])
    update = {"auth": "keys", "latents_path": latents, "jobs_path": tmp_path / "jobs.sqlite3", "projection_local_workers": 0}
    with TestClient(create_app(projection_settings.model_copy(update=update))) as client:
        alice, bob = ({"Authorization": f"Bearer {keys[name]}"} for name in ("alice", "bob"))
        submitted = client.post(URL, content=png(np.zeros((32, 32, 3), np.uint8)), headers=alice)
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()
        assert client.get(f"/v1/projections/{job['id']}", headers=bob).status_code == 200  # the id is a share link
        assert_error(client.delete(f"/v1/projections/{job['id']}", headers=bob), 403, "authorization")
        assert client.delete(f"/v1/projections/{job['id']}", headers=alice).json()["state"] == "cancelled"
        assert_error(client.post(URL, content=b"x"), 401, "authorization")


def test_a_projection_runs_with_progress_events_and_makes_a_saved_latent(api):
    target = emoji(api)
    submitted = api.post(URL, content=target, params={"steps": 40, "preview_every": 20, "name": "mine", "class": 0})
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    stream = events(api, job["id"])
    seqs = [seq for seq, _, _ in stream]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [name for _, name, _ in stream[:-1]] == ["progress"] * (len(stream) - 1)
    _, last_name, last = stream[-1]
    assert last_name == "succeeded" and last["step"] == 40 and last["latent_id"]
    previews = {data["step"] for _, _, data in stream if "preview" in data}
    assert previews == {20, 40}
    steps = [data["step"] for _, _, data in stream]
    assert steps == sorted(steps)
    done = api.get(f"/v1/projections/{job['id']}").json()
    assert done["state"] == "succeeded" and done["latent_id"] == last["latent_id"] and done["elapsed_s"] > 0
    latent = api.get(f"/v1/latents/{done['latent_id']}").json()
    assert latent["kind"] == "w" and latent["name"] == "mine" and latent["source"]["projection"] == job["id"]
    assert len(latent["values"]) == 128  # emoji32's w_dim
    # The reconstruction served at image_url is what the job reported, and it resembles the upload.
    served = decoded(api.get(done["image_url"]).content)
    assert abs(psnr(served, decoded(target)) - done["psnr"]) < 0.05
    assert done["psnr"] > 20.0
    # A follower that reconnects resumes after the last event it saw.
    resumed = events(api, job["id"], headers={"Last-Event-ID": str(seqs[-3])})
    assert [seq for seq, _, _ in resumed] == seqs[-2:]


def test_a_running_projection_is_cancelled_and_stops(api):
    job = api.post(URL, content=emoji(api, 77), params={"steps": MAX_STEPS, "space": "w+"}).json()
    deadline = time.monotonic() + 60
    while api.get(f"/v1/projections/{job['id']}").json()["step"] < 2:
        assert time.monotonic() < deadline, "the projection never started"
        time.sleep(0.1)
    assert api.delete(f"/v1/projections/{job['id']}").status_code == 200
    _, name, last = events(api, job["id"])[-1]
    assert name == "cancelled" and last["step"] < MAX_STEPS
    assert api.get(f"/v1/projections/{job['id']}").json()["latent_id"] is None


def test_projection_over_grpc_streams_progress_to_a_saved_latent(api):
    with grpc.insecure_channel(api.grpc_target) as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        request = pb.ProjectRequest(model=MODEL, image=emoji(api, 5), steps=20, space=pb.PROJECTION_SPACE_W_PLUS, preview_every=10)
        stream = list(stub.Project(request, timeout=120))
        assert stream[0].state == pb.PROJECTION_STATE_QUEUED
        assert stream[-1].state == pb.PROJECTION_STATE_SUCCEEDED and stream[-1].latent_id
        assert {m.step for m in stream if m.preview_png} == {10, 20}
        saved = stub.GetLatent(pb.GetLatentRequest(id=stream[-1].latent_id))
        assert saved.kind == pb.LATENT_KIND_WS and list(saved.shape) == [8, 128]  # w+: one w per layer
        followed = list(stub.Project(pb.ProjectRequest(follow_id=stream[0].id), timeout=30))
        assert followed[-1].latent_id == stream[-1].latent_id
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.Project(pb.ProjectRequest(model=MODEL, image=b"not an image"), timeout=30))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "image" in refused.value.details()
