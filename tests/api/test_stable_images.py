"""The stable seed URL: determinism, ETags, parameters and every bad input."""

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import COND_MODEL, assert_error
from ganserve.encode import encoder_signature
from nvlabs_reference import load_case

URL = "/v1/models/demo64/seeds"


def decode(response) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("", "seed=42|1.0|None|const|None|png"),
        ("?psi=0.7&cutoff=4&noise=random&noise_seed=3", "seed=42|0.7|4|random:3|None|png"),
        ("?noise=none&translate=0,0&rotate=0", "seed=42|1.0|None|none|None|png"),
    ],
)
def test_etags_keep_their_published_formula(client, query, params):
    """CDNs and browsers hold these ETags: the same URL must keep the same one from release to release."""
    pipeline = client.app.state.ganserve.pipeline("demo64")
    key = f"{pipeline.digest}|{pipeline.engine.name}|{encoder_signature(client.app.state.ganserve.settings)}|{params}"
    assert client.get(f"{URL}/42.png{query}").headers["etag"] == '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def test_same_url_same_bytes_and_strong_etag(client):
    first, second = client.get(f"{URL}/42.png"), client.get(f"{URL}/42.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content == second.content
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/") and etag == second.headers["etag"]
    assert "immutable" in first.headers["cache-control"]
    assert decode(first).shape == (64, 64, 3)


def test_if_none_match_gives_304_without_body(client):
    etag = client.get(f"{URL}/43.png").headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get(f"{URL}/43.png", headers={"If-None-Match": header})
        assert response.status_code == 304 and response.content == b"" and response.headers["etag"] == etag
    assert client.get(f"{URL}/43.png", headers={"If-None-Match": '"other"'}).status_code == 200


def test_parameters_change_image_and_etag(client):
    base = client.get(f"{URL}/7.png")
    variants = ["psi=0.5", "psi=0.5&cutoff=4", "noise=none", "noise=random&noise_seed=1", "noise=random&noise_seed=2"]
    responses = [client.get(f"{URL}/7.png?{query}") for query in variants]
    etags = {base.headers["etag"]} | {r.headers["etag"] for r in responses}
    assert len(etags) == len(variants) + 1
    images = [decode(base)] + [decode(r) for r in responses]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j]), (i, j)
    again = client.get(f"{URL}/7.png?noise=random&noise_seed=1")
    assert again.content == responses[3].content  # random noise is reproducible from its seed
    assert client.get(f"{URL}/7.png?psi=1").content == base.content  # psi=1 is no truncation


def test_identity_view_keeps_the_url_stable(client):
    """translate=0,0 and rotate=0 are the identity every model takes: same bytes, same ETag."""
    plain = client.get(f"{URL}/3.png")
    explicit = client.get(f"{URL}/3.png?translate=0,0&rotate=0")
    assert explicit.status_code == 200
    assert (explicit.content, explicit.headers["etag"]) == (plain.content, plain.headers["etag"])


def test_psi_zero_gives_the_average_image_for_every_seed(client):
    assert decode(client.get(f"{URL}/1.png?psi=0")).tolist() == decode(client.get(f"{URL}/2.png?psi=0")).tolist()


@pytest.mark.parametrize(
    ("ext", "media_type", "pil_format"), [("png", "image/png", "PNG"), ("jpg", "image/jpeg", "JPEG"), ("webp", "image/webp", "WEBP")]
)
def test_formats(client, ext, media_type, pil_format):
    response = client.get(f"{URL}/5.{ext}")
    assert response.headers["content-type"] == media_type
    assert Image.open(io.BytesIO(response.content)).format == pil_format


def test_seed_bounds(client):
    assert client.get(f"{URL}/0.png").status_code == 200
    assert client.get(f"{URL}/4294967295.png").status_code == 200


def test_conditional_model_matches_nvlabs(client):
    """Served through ONNX Runtime: seed + class + psi equal NVlabs' generate.py within 1/255."""
    _, _, ref = load_case("sg2_cond_16_map2")
    for row, (seed, cls) in enumerate(zip([0, 1, 2, 3], [0, 1, 2, 4], strict=True)):
        by_index = client.get(f"/v1/models/{COND_MODEL}/seeds/{seed}.png?class={cls}&psi=0.7")
        image = decode(by_index).astype(int)
        assert np.abs(image - ref["img_psi07_const"][row]).max() <= 1
    by_name = client.get(f"/v1/models/{COND_MODEL}/seeds/0.png?class=cat&psi=0.7")
    assert by_name.content == client.get(f"/v1/models/{COND_MODEL}/seeds/0.png?class=0&psi=0.7").content


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/models/nope/seeds/1.png", "model"),
        (f"{URL}/1.bmp", "format"),
        (f"{URL}/1", "format"),
        (f"{URL}/abc.png", "seed"),
        (f"{URL}/-1.png", "seed"),
        (f"{URL}/4294967296.png", "seed"),
        (f"{URL}/1.png?psi=nan", "psi"),
        (f"{URL}/1.png?psi=inf", "psi"),
        (f"{URL}/1.png?psi=abc", "psi"),
        (f"{URL}/1.png?psi=100", "psi"),
        (f"{URL}/1.png?cutoff=11", "cutoff"),
        (f"{URL}/1.png?cutoff=-1", "cutoff"),
        (f"{URL}/1.png?noise=loud", "noise"),
        (f"{URL}/1.png?noise=random&noise_seed=-5", "noise_seed"),
        (f"{URL}/1.png?class=1", "class"),
        (f"/v1/models/{COND_MODEL}/seeds/1.png", "class"),
        (f"/v1/models/{COND_MODEL}/seeds/1.png?class=5", "class"),
        (f"/v1/models/{COND_MODEL}/seeds/1.png?class=horse", "class"),
        (f"{URL}/1.png?translate=0.1,0", "translate"),  # demo64 is StyleGAN2: no view transform
        (f"{URL}/1.png?rotate=10", "rotate"),
        (f"{URL}/1.png?translate=1", "translate"),
        (f"{URL}/1.png?translate=a,b", "translate"),
        (f"{URL}/1.png?translate=nan,0", "translate"),
        (f"{URL}/1.png?translate=1e9,0", "translate"),
        (f"{URL}/1.png?rotate=nan", "rotate"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(client, path, field):
    response = client.get(path)
    assert_error(response, 404 if field == "model" else 422, field)


GOLDEN = {"seed42": "42.png", "seed7-psi0.7-cutoff4": "7.png?psi=0.7&cutoff=4", "seed7-noise-random-3": "7.png?noise=random&noise_seed=3"}


def test_golden_images(client):
    """Images recorded when the demo model was made: seed -> z -> w -> image must not drift."""
    golden_dir = Path(__file__).parent.parent / "data" / "golden"
    for name, path in GOLDEN.items():
        expected = np.asarray(Image.open(golden_dir / f"demo64-{name}.png")).astype(int)
        assert np.abs(decode(client.get(f"{URL}/{path}")).astype(int) - expected).max() <= 1, name


def test_head_gives_the_headers_of_get(client):
    get = client.get(f"{URL}/44.webp")
    head = client.head(f"{URL}/44.webp")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"] and head.headers["content-length"] == str(len(get.content))


def test_saved_latent_url_is_stable_and_equals_the_seed_url(client):
    saved = client.post("/v1/latents", json={"model": "demo64", "latent": {"seed": 42}, "kind": "w", "psi": 0.7}).json()
    url = f"/v1/models/demo64/latents/{saved['id']}.png"
    first, second = client.get(url), client.get(url)
    assert first.status_code == 200 and first.content == second.content
    assert decode(first).tolist() == decode(client.get(f"{URL}/42.png?psi=0.7")).tolist()  # psi was applied when saving
    assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert first.headers["etag"] != client.get(f"{URL}/42.png?psi=0.7").headers["etag"]
    saved_z = client.post("/v1/latents", json={"model": "demo64", "latent": {"seed": 42}}).json()
    by_z = client.get(f"/v1/models/demo64/latents/{saved_z['id']}.png?psi=0.7")
    assert decode(by_z).tolist() == decode(client.get(f"{URL}/42.png?psi=0.7")).tolist()
    assert client.delete(f"/v1/latents/{saved['id']}").status_code == 204
    assert_error(client.get(url, headers={"If-None-Match": first.headers["etag"]}), 404, "latent.id")


@pytest.mark.parametrize("name", ["nope123.png", "bad-id.png", "%C3%A9t%C3%A9.png", "x" * 80 + ".png"])
def test_unknown_or_malformed_saved_latent_is_404(client, name):
    assert_error(client.get(f"/v1/models/demo64/latents/{name}"), 404, "latent.id")


def test_saved_latent_of_another_model_is_422(client):
    saved = client.post("/v1/latents", json={"model": "cond16", "latent": {"seed": 1}}).json()
    assert_error(client.get(f"/v1/models/demo64/latents/{saved['id']}.png"), 422, "latent.id")


def test_a_saved_w_of_a_conditional_model_needs_no_class(client):
    """The class conditions the mapping only: a saved w (a projection's result, say) is served without one."""
    saved = client.post("/v1/latents", json={"model": COND_MODEL, "latent": {"seed": 3}, "kind": "w", "class": 1})
    assert saved.status_code == 201, saved.text
    image = client.get(f"/v1/models/{COND_MODEL}/latents/{saved.json()['id']}.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert_error(client.get(f"/v1/models/{COND_MODEL}/seeds/3.png"), 422, "class")  # a seed still needs its class
