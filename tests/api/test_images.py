"""POST /v1/models/{model}/images: batches from seeds and explicit latents."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from conftest import COND_MODEL, assert_error
from ganserve import latents

URL = "/v1/models/demo64/images"


def decode_b64(entry) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(entry["data"]))).convert("RGB"))


def seed_png(client, seed, query="") -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(client.get(f"/v1/models/demo64/seeds/{seed}.png{query}").content)).convert("RGB"))


def test_batch_of_seeds_equals_the_seed_urls(client):
    body = client.post(URL, json={"latents": [{"seed": 3}, {"seed": 4}], "psi": 0.7}).json()
    assert body["model"] == "demo64" and [e["index"] for e in body["images"]] == [0, 1]
    assert body["images"][0]["media_type"] == "image/png"
    np.testing.assert_array_equal(decode_b64(body["images"][1]), seed_png(client, 4, "?psi=0.7"))


def test_z_w_and_ws_round_trip_to_the_same_image(client):
    z = latents.seeds_to_z([11], 256)[0].tolist()
    by_z = client.post(URL, json={"latents": [{"z": z}], "include_ws": True}).json()["images"][0]
    ws = by_z["ws"]
    assert len(ws) == 10 and len(ws[0]) == 256
    by_w = client.post(URL, json={"latents": [{"w": ws[0]}]}).json()["images"][0]
    by_ws = client.post(URL, json={"latents": [{"ws": ws}]}).json()["images"][0]
    expected = seed_png(client, 11)
    for entry in (by_z, by_w, by_ws):
        np.testing.assert_array_equal(decode_b64(entry), expected)


def test_mixed_latent_kinds_in_one_batch(client):
    z = latents.seeds_to_z([2], 256)[0].tolist()
    body = client.post(URL, json={"latents": [{"seed": 1}, {"z": z}, {"seed": 2}]}).json()
    images = [decode_b64(e) for e in body["images"]]
    np.testing.assert_array_equal(images[1], images[2])
    np.testing.assert_array_equal(images[0], seed_png(client, 1))


def test_grid_output(client):
    response = client.post(URL, json={"latents": [{"seed": s} for s in range(5)], "output": "grid", "columns": 3, "format": "jpg"})
    assert response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (3 * 64, 2 * 64)


def test_random_noise_per_image_from_noise_seed(client):
    body = {"latents": [{"seed": 1}, {"seed": 1}], "noise": "random", "noise_seed": 10}
    a, b = (decode_b64(e) for e in client.post(URL, json=body).json()["images"])
    assert not np.array_equal(a, b)  # image i uses noise_seed + i
    np.testing.assert_array_equal(b, seed_png(client, 1, "?noise=random&noise_seed=11"))


def test_conditional_batch_by_class_name(client):
    response = client.post(f"/v1/models/{COND_MODEL}/images", json={"latents": [{"seed": 0}], "class": "dog"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "latents"),
        ({"latents": []}, "latents"),
        ({"latents": [{"seed": 1}] * 9}, "latents"),
        ({"latents": [{"seed": 1, "z": [0.0]}]}, "latents[0]"),
        ({"latents": [{}]}, "latents[0]"),
        ({"latents": [{"seed": -1}]}, "latents[0].seed"),
        ({"latents": [{"seed": 2**32}]}, "latents[0].seed"),
        ({"latents": [{"z": [0.5] * 255}]}, "latents[0].z"),
        ({"latents": [{"w": [0.5] * 257}]}, "latents[0].w"),
        ({"latents": [{"ws": [[0.5] * 256] * 9}]}, "latents[0].ws"),
        ({"latents": [{"ws": [[0.5] * 256] * 9 + [[0.5] * 3]}]}, "latents[0].ws[9]"),
        ({"latents": [{"seed": 1}], "psi": "nan"}, "psi"),
        ({"latents": [{"seed": 1}], "cutoff": 11}, "cutoff"),
        ({"latents": [{"seed": 1}], "format": "bmp"}, "format"),
        ({"latents": [{"seed": 1}], "output": "zip"}, "output"),
        ({"latents": [{"seed": 1}], "class": 0}, "class"),
        ({"latents": [{"seed": 1}], "surprise": True}, "surprise"),
        ({"latents": [{"seed": 1, "color": "red"}]}, "latents[0].color"),
        ({"latents": [{"seed": 1}], "translate": [0.1, 0]}, "translate"),  # demo64 is StyleGAN2
        ({"latents": [{"seed": 1}], "rotate": 5}, "rotate"),
        ({"latents": [{"seed": 1}], "translate": [1]}, "translate[1]"),
        ({"latents": [{"seed": 1}], "translate": ["a", 0]}, "translate[0]"),
        ({"latents": [{"seed": 1}], "rotate": 1e9}, "rotate"),
    ],
)
def test_bad_input(client, body, field):
    assert_error(client.post(URL, json=body), 422, field)


def test_non_finite_latent_values(client):
    body = '{"latents": [{"w": [NaN' + ", 0.0" * 255 + "]}]}"
    assert_error(client.post(URL, content=body, headers={"content-type": "application/json"}), 422, "latents[0].w")


def test_malformed_json(client):
    assert_error(client.post(URL, content=b"{not json", headers={"content-type": "application/json"}), 422)


def test_body_too_large_is_413_before_parsing(client, settings):
    big = b'{"latents": [' + b" " * settings.max_body_bytes + b"]}"
    assert_error(client.post(URL, content=big, headers={"content-type": "application/json"}), 413, "body")

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(settings.max_body_bytes // 4096 + 2):
            yield b" " * 4096

    assert_error(client.post(URL, content=chunks(), headers={"content-type": "application/json"}), 413, "body")
