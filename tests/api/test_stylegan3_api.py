"""StyleGAN3 models through the whole API, on both engines (ONNX Runtime and Triton): seed URLs with
translate/rotate equal NVlabs' gen_images.py images, and every route and gRPC take the same view."""

from __future__ import annotations

import base64
import io

import grpc
import numpy as np
import pytest
from PIL import Image

from conftest import SG3_MODELS, assert_error
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc
from nvlabs_reference import SG3_SETTINGS, assert_nvlabs_parity, load_case

SEEDS = [0, 1, 2, 3]


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def query(psi: float, cutoff: int | None, translate: tuple[float, float], rotate: float, class_index: int | None) -> str:
    params = {"psi": psi, "translate": f"{translate[0]},{translate[1]}", "rotate": rotate}
    if cutoff is not None:
        params["cutoff"] = cutoff
    if class_index is not None:
        params["class"] = class_index
    return "&".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize("model", list(SG3_MODELS))
def test_seed_urls_match_gen_images(client, model):
    """Every seed, psi/cutoff and view of the reference equals gen_images.py's uint8 image."""
    _, _, ref = load_case(SG3_MODELS[model])
    classes = [int(i) for i in ref["c"].argmax(axis=1)] if ref["c"].shape[1] else [None] * len(SEEDS)
    for setting, (psi, cutoff, translate, rotate) in SG3_SETTINGS.items():
        images = []
        for seed, class_index in zip(SEEDS, classes, strict=True):
            response = client.get(f"/v1/models/{model}/seeds/{seed}.png?{query(psi, cutoff, translate, rotate, class_index)}")
            assert response.status_code == 200, response.text
            images.append(decode(response.content))
        assert_nvlabs_parity(np.stack(images), ref[f"img_{setting}"], f"{model} {setting}")


def test_view_is_part_of_the_stable_url(client):
    url = "/v1/models/sg3t/seeds/5.png"
    plain, shifted, turned = (client.get(url + q) for q in ("", "?translate=0.2,0", "?rotate=15"))
    assert len({plain.headers["etag"], shifted.headers["etag"], turned.headers["etag"]}) == 3
    assert len({plain.content, shifted.content, turned.content}) == 3
    again = client.get(url + "?translate=0.2,0")
    assert (again.content, again.headers["etag"]) == (shifted.content, shifted.headers["etag"])
    assert client.get(url + "?translate=0.2,0", headers={"If-None-Match": shifted.headers["etag"]}).status_code == 304


def test_batch_mix_and_interpolation_take_the_view(client):
    """The same translate/rotate fields on the other routes give the seed URL's pixels."""
    view = {"translate": [0.1, -0.3], "rotate": 45.0}
    seed_url = {seed: decode(client.get(f"/v1/models/sg3t/seeds/{seed}.png?translate=0.1,-0.3&rotate=45").content) for seed in (4, 9)}

    batch = client.post("/v1/models/sg3t/images", json={"latents": [{"seed": 4}, {"seed": 9}], **view}).json()
    for image, seed in zip(batch["images"], (4, 9), strict=True):
        assert np.array_equal(decode(base64.b64decode(image["data"])), seed_url[seed])

    walk = {"keyframes": [{"seed": 4}, {"seed": 9}], "frames": 3, "output": "frames", "format": "png", **view}
    frames = client.post("/v1/models/sg3t/interpolations", json=walk).json()["frames"]
    assert np.array_equal(decode(base64.b64decode(frames[0]["data"])), seed_url[4])
    assert np.array_equal(decode(base64.b64decode(frames[-1]["data"])), seed_url[9])

    # Mixing every layer from the column gives the column's image.
    mix = {"rows": [{"seed": 9}], "columns": [{"seed": 4}], "layers": "0-15", "output": "cells", **view}
    cells = client.post("/v1/models/sg3t/mixes", json=mix).json()["cells"]
    assert np.array_equal(decode(base64.b64decode(cells[0]["data"])), seed_url[4])


def test_noise_is_ignored_as_nvlabs_does(client):
    const = client.get("/v1/models/sg3t/seeds/3.png").content
    assert decode(client.get("/v1/models/sg3t/seeds/3.png?noise=random&noise_seed=5").content).tobytes() == decode(const).tobytes()


def test_models_lists_stylegan3_with_its_layer_groups(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    for name in SG3_MODELS:
        assert models[name]["architecture"] == "stylegan3"
        assert models[name]["num_ws"] == 16
        assert sorted(i for group in models[name]["layer_groups"].values() for i in group) == list(range(16))


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/models/sg3t/seeds/1.png?translate=0.1", "translate"),
        ("/v1/models/sg3t/seeds/1.png?translate=0.1,x", "translate"),
        ("/v1/models/sg3t/seeds/1.png?translate=inf,0", "translate"),
        ("/v1/models/sg3t/seeds/1.png?rotate=abc", "rotate"),
        ("/v1/models/sg3t/seeds/1.png?rotate=-inf", "rotate"),
        ("/v1/models/sg3r/seeds/1.png?rotate=10", "class"),
    ],
)
def test_bad_view_is_422_naming_the_field(client, path, field):
    assert_error(client.get(path), 422, field)


def test_grpc_generate_with_view_equals_http(client):
    with grpc.insecure_channel(client.grpc_target) as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        options = pb.GenerationOptions(psi=0.7, translate=pb.Translation(x=0.25, y=0.1), rotate=30, class_index=2)
        request = pb.GenerateRequest(model="sg3r", latents=[pb.Latent(seed=11)], options=options, format=pb.IMAGE_FORMAT_RAW)
        image = stub.Generate(request, timeout=60).images[0]
    pixels = np.frombuffer(image.data, np.uint8).reshape(image.shape)
    http = decode(client.get("/v1/models/sg3r/seeds/11.png?psi=0.7&translate=0.25,0.1&rotate=30&class=2").content)
    assert np.array_equal(pixels, http)
