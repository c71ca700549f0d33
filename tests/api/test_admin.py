"""POST /v1/admin/reload in one gateway (the embedded engine): new weights compiled into the
repository are served after the call and not before, with a new ETag; weights that fail to load
leave the old ones serving; a model taken out of the folder is no longer served; admin scope only."""

import shutil

import pytest
from fastapi.testclient import TestClient

from conftest import COND_MODEL, make_keys, retrain
from ganserve.access.keys import Scope
from ganserve.api.app import create_app
from ganserve.compile import compile_model
from ganserve.repository import Target
from ganserve.triton.config import BatchingOptions

URL = f"/v1/models/{COND_MODEL}/seeds/5.png?class=dog"


@pytest.fixture
def own_models(settings, tmp_path):
    """(settings, keys): a gateway on its own copy of cond16 and its graphs, with keys required."""
    models, repository = tmp_path / "models", tmp_path / "repo"
    shutil.copytree(settings.models_dir / COND_MODEL, models / COND_MODEL)
    for entry in (settings.model_repository / Target.onnx).glob(f"{COND_MODEL}_*"):
        shutil.copytree(entry, repository / Target.onnx / entry.name)
    keys = make_keys(tmp_path / "latents.sqlite3", admin=[Scope.admin], app=[Scope.generate])
    update = {"models_dir": models, "model_repository": repository, "latents_path": tmp_path / "latents.sqlite3", "auth": "keys"}
    return settings.model_copy(update=update), {name: {"Authorization": f"Bearer {key}"} for name, key in keys.items()}


def reload(client, headers) -> dict:
    response = client.post("/v1/admin/reload", headers=headers)
    assert response.status_code == 200, response.text
    return {m["model"]: m for m in response.json()["models"]}


def test_reload_serves_new_weights_only_once_compiled_and_asked(own_models):
    settings, headers = own_models
    with TestClient(create_app(settings)) as client:
        before = client.get(URL, headers=headers["app"])
        assert reload(client, headers["admin"])[COND_MODEL]["outcome"] == "unchanged"
        assert client.post("/v1/admin/reload", headers=headers["app"]).status_code == 403  # admin only
        assert client.post("/v1/admin/reload").status_code == 401

        artifact = retrain(settings.models_dir / COND_MODEL, 1.5)
        compile_model(artifact, settings.model_repository, [Target.onnx], BatchingOptions())
        still = client.get(URL, headers=headers["app"])  # compiled, not yet reloaded: the old weights
        assert still.headers["etag"] == before.headers["etag"] and still.content == before.content

        changed = reload(client, headers["admin"])[COND_MODEL]
        assert changed == {"model": COND_MODEL, "outcome": "loaded", "version": artifact.digest[:16], "error": ""}
        after = client.get(URL, headers=headers["app"])
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"] and after.content != before.content
        assert client.get(URL, headers={**headers["app"], "If-None-Match": before.headers["etag"]}).status_code == 200
        listed = client.get(f"/v1/models/{COND_MODEL}", headers=headers["app"]).json()
        assert listed["version"] == artifact.digest[:16]


def test_weights_that_fail_to_load_leave_the_old_ones_serving(own_models):
    settings, headers = own_models
    with TestClient(create_app(settings)) as client:
        before = client.get(URL, headers=headers["app"])
        retrain(settings.models_dir / COND_MODEL, 0.5)  # not compiled: no graph has these weights
        failed = reload(client, headers["admin"])[COND_MODEL]
        assert failed["outcome"] == "failed" and "compiled from other weights" in failed["error"]
        again = client.get(URL, headers=headers["app"])
        assert again.headers["etag"] == before.headers["etag"] and again.content == before.content
        assert client.get("/readyz").status_code == 200


def test_a_model_taken_out_of_the_folder_is_no_longer_served_and_comes_back(own_models, tmp_path):
    settings, headers = own_models
    with TestClient(create_app(settings)) as client:
        shutil.move(settings.models_dir / COND_MODEL, tmp_path / "aside")
        assert reload(client, headers["admin"])[COND_MODEL]["outcome"] == "removed"
        assert client.get(URL, headers=headers["app"]).status_code == 404
        shutil.move(tmp_path / "aside", settings.models_dir / COND_MODEL)
        assert reload(client, headers["admin"])[COND_MODEL]["outcome"] == "loaded"
        assert client.get(URL, headers=headers["app"]).status_code == 200
