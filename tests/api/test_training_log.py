"""GET /v1/models/{model}/training and its sample grids, from a run directory the test writes
(and appends to, as a live run does); GET /v1/limits."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from conftest import assert_error
from ganserve.api.app import create_app

URL = "/v1/models/demo64/training"
TICK = {"event": "tick", "loss_G": 1.5, "loss_D": 0.9, "D_real": 1.0, "D_fake": -1.0, "r1": 0.1, "augment_p": 0.0, "images_per_s": 20.0}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    directory = runs / "demo64"
    (directory / "samples").mkdir(parents=True)
    (directory / "samples" / "kimg-000002.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    lines = [{"event": "start", "kimg": 0.0, "time": 1.0, "threads": 2}, {**TICK, "kimg": 1.0}, {**TICK, "kimg": 2.0}]
    lines.append(
        {"event": "checkpoint", "kimg": 2.0, "snapshot": "snapshots/kimg-000002.safetensors", "samples": "samples/kimg-000002.png"}
    )
    (directory / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (directory / "evaluation.jsonl").write_text(json.dumps({"kimg": 2, "fd": 3.0, "fd_ratio": 30.0, "class_accuracy": 0.4}) + "\n")
    (directory / "options.json").write_text(json.dumps({"resolution": 32}))
    return runs


@pytest.fixture(scope="module")
def client(settings, run):
    with TestClient(create_app(settings.model_copy(update={"runs_dir": run}))) as client:
        yield client


def test_the_log_its_evaluations_and_sample_grids(client):
    body = client.get(URL).json()
    assert body["model"] == body["run"] == "demo64" and body["next"] == 4 and body["options"] == {"resolution": 32}
    assert [r["event"] for r in body["records"]] == ["start", "tick", "tick", "checkpoint"]
    assert body["records"][1]["loss_D"] == 0.9 and body["evaluation"][0]["fd_ratio"] == 30.0
    samples = body["records"][3]["samples_url"]
    assert samples == "/v1/models/demo64/training/samples/kimg-000002.png"
    image = client.get(samples)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")


def test_a_poll_gets_only_what_was_logged_since_and_never_half_a_line(client, run):
    log = run / "demo64" / "metrics.jsonl"
    assert client.get(URL, params={"after": 4}).json()["records"] == []
    with log.open("a") as f:
        f.write(json.dumps({**TICK, "kimg": 3.0}) + "\n" + "not json\n" + '{"event": "tick", "kimg": 4')  # a line being written
    body = client.get(URL, params={"after": 4}).json()
    assert [r["kimg"] for r in body["records"]] == [3.0] and body["next"] == 6  # the bad line is skipped, but counted
    with log.open("a") as f:
        f.write(".0}\n")
    assert [r["kimg"] for r in client.get(URL, params={"after": body["next"]}).json()["records"]] == [4.0]


def test_models_say_whether_they_have_a_log(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["demo64"]["training_log"] and not models["cond16"]["training_log"]


def test_no_log_unknown_samples_and_bad_cursors(client):
    assert_error(client.get("/v1/models/cond16/training"), 404, "model")
    assert_error(client.get("/v1/models/nope/training"), 404, "model")
    assert_error(client.get(f"{URL}/samples/kimg-000009.png"), 404, "filename")
    assert_error(client.get(f"{URL}/samples/..%2Fmetrics.jsonl"), 404)  # no route matches a path with a slash
    assert_error(client.get(f"{URL}/samples/options.json"), 404, "filename")
    assert_error(client.get(URL, params={"after": -1}), 422, "after")


def test_limits_are_published(client, settings):
    assert client.get("/v1/limits").json() == {
        "max_images": settings.max_images,
        "max_frames": settings.max_frames,
        "max_keyframes": settings.max_keyframes,
        "max_mix_side": settings.max_mix_side,
        "max_edits": settings.max_edits,
        "max_body_bytes": settings.max_body_bytes,
    }
