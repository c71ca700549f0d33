import base64
import io

import numpy as np
import pytest
from PIL import Image

from conftest import assert_error

URL = "/v1/models/demo64/interpolations"
KEYS = [{"seed": 1}, {"seed": 2}, {"seed": 3}]


def frames_of(client, **body) -> list[np.ndarray]:
    entries = client.post(URL, json={"keyframes": KEYS, "output": "frames", "format": "png", **body}).json()["frames"]
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(e["data"])))) for e in entries]


def seed_png(client, seed) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(client.get(f"/v1/models/demo64/seeds/{seed}.png").content)))


@pytest.mark.parametrize("space", ["w", "z"])
def test_frames_start_and_end_on_the_keyframes(client, space):
    frames = frames_of(client, frames=5, space=space)
    assert len(frames) == 5
    np.testing.assert_array_equal(frames[0], seed_png(client, 1))
    np.testing.assert_array_equal(frames[2], seed_png(client, 2))
    np.testing.assert_array_equal(frames[4], seed_png(client, 3))
    assert not np.array_equal(frames[1], frames[0]) and not np.array_equal(frames[1], frames[2])


def test_loop_returns_towards_the_start(client):
    frames = frames_of(client, frames=6, loop=True)
    np.testing.assert_array_equal(frames[0], seed_png(client, 1))
    np.testing.assert_array_equal(frames[4], seed_png(client, 3))


def test_latents_output_is_lerp_in_w(client):
    ws = np.array(client.post(URL, json={"keyframes": KEYS[:2], "frames": 3, "output": "latents"}).json()["ws"])
    assert ws.shape == (3, 10, 256)
    np.testing.assert_allclose(ws[1], (ws[0] + ws[2]) / 2, atol=1e-5)


@pytest.mark.parametrize(("fmt", "media_type"), [("webp", "image/webp"), ("gif", "image/gif")])
def test_animation(client, fmt, media_type):
    response = client.post(URL, json={"keyframes": KEYS, "frames": 4, "output": "animation", "format": fmt, "loop": True})
    assert response.headers["content-type"] == media_type
    assert Image.open(io.BytesIO(response.content)).n_frames == 4


def test_single_frame_matches_frames_output(client):
    frames = frames_of(client, frames=4)
    one = client.post(URL, json={"keyframes": KEYS, "frames": 4, "output": "frame", "frame": 1, "format": "png"})
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(one.content))), frames[1])


def test_random_noise_is_fixed_across_frames(client):
    frames = frames_of(client, frames=3, noise="random", noise_seed=3)
    keyframes = [{"seed": 1}, {"seed": 1}, {"seed": 1}]
    still = client.post(URL, json={"keyframes": keyframes, "frames": 3, "output": "frames", "noise": "random", "noise_seed": 3}).json()
    images = [np.asarray(Image.open(io.BytesIO(base64.b64decode(e["data"])))) for e in still["frames"]]
    np.testing.assert_array_equal(images[0], images[2])  # same latent, same noise: same image
    assert len(frames) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"keyframes": [{"seed": 1}]}, "keyframes"),
        ({"keyframes": KEYS, "frames": 17}, "frames"),
        ({"keyframes": KEYS, "frames": 1}, "frames"),
        ({"keyframes": [{"seed": i} for i in range(17)]}, "keyframes"),
        ({"keyframes": [{"seed": 1}, {"w": [0.0] * 256}], "space": "z"}, "keyframes[1]"),
        ({"keyframes": KEYS, "space": "x"}, "space"),
        ({"keyframes": KEYS, "output": "animation", "format": "png"}, "format"),
        ({"keyframes": KEYS, "output": "frames", "format": "gif"}, "format"),
        ({"keyframes": KEYS, "output": "frame"}, "frame"),
        ({"keyframes": KEYS, "output": "frame", "frame": 16}, "frame"),
        ({"keyframes": KEYS, "fps": 0}, "fps"),
        ({"keyframes": [{"seed": 1}, {"z": [1.0] * 3}]}, "keyframes[1].z"),
    ],
)
def test_bad_input(client, body, field):
    assert_error(client.post(URL, json=body), 422, field)
