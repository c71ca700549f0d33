from conftest import COND_MODEL, assert_error


def test_list_models(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    demo = models["demo64"]
    assert (demo["resolution"], demo["z_dim"], demo["w_dim"], demo["num_ws"], demo["c_dim"]) == (64, 256, 256, 10, 0)
    assert demo["layer_groups"] == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": [8, 9]}
    assert demo["engine"] in ("onnxruntime", "triton") and len(demo["version"]) == 16
    assert models[COND_MODEL]["class_names"] == ["cat", "dog", "bird", "fish", "frog"]


def test_get_model_and_unknown_model(client):
    assert client.get("/v1/models/demo64").json()["name"] == "demo64"
    error = assert_error(client.get("/v1/models/nope"), 404, "model")
    assert "demo64" in error["message"]  # lists what exists
