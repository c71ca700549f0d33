import pytest
from fastapi.testclient import TestClient

from conftest import COND_MODEL, assert_error
from ganserve.api.app import create_app


def test_list_models(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    demo = models["demo64"]
    assert (demo["resolution"], demo["z_dim"], demo["w_dim"], demo["num_ws"], demo["c_dim"]) == (64, 256, 256, 10, 0)
    assert demo["layer_groups"] == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": [8, 9]}
    assert demo["engine"] in ("onnxruntime", "triton", "openvino") and len(demo["version"]) == 16
    # The precision the images are made in; Triton's target decides it, so the gateway does not say.
    assert demo["precision"] == (None if demo["engine"] == "triton" else "f32") and demo["precision_reason"]
    assert models[COND_MODEL]["class_names"] == ["cat", "dog", "bird", "fish", "frog"]


def test_get_model_and_unknown_model(client):
    assert client.get("/v1/models/demo64").json()["name"] == "demo64"
    error = assert_error(client.get("/v1/models/nope"), 404, "model")
    assert "demo64" in error["message"]  # lists what exists


def test_exactly_one_model_is_the_default(client):
    models = client.get("/v1/models").json()["models"]
    assert [m["name"] for m in models if m["default"]] == ["demo64"]  # GANSERVE_DEFAULT_MODEL's default
    assert client.get("/v1/models/demo64").json()["default"] is True
    assert client.get(f"/v1/models/{COND_MODEL}").json()["default"] is False


@pytest.mark.parametrize(("configured", "expected"), [(COND_MODEL, COND_MODEL), ("not-served", COND_MODEL)])
def test_the_default_follows_the_setting(settings, configured, expected):
    # A configured default that is not served falls back to the first served model by name (cond16 < demo64).
    with TestClient(create_app(settings.model_copy(update={"default_model": configured}))) as client:
        models = client.get("/v1/models").json()["models"]
    assert [m["name"] for m in models if m["default"]] == [expected]
