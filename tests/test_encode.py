import io

import numpy as np
import pytest
from PIL import Image

from ganserve.encode import AnimationFormat, ImageFormat, encode_animation, encode_image, tile
from ganserve.settings import Settings

IMAGE = np.random.RandomState(0).randint(0, 256, (8, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize(("fmt", "pil_format"), [(ImageFormat.png, "PNG"), (ImageFormat.jpg, "JPEG"), (ImageFormat.webp, "WEBP")])
def test_encode_image(fmt, pil_format):
    data = encode_image(IMAGE, fmt, Settings())
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == pil_format and decoded.size == (8, 8)
    assert encode_image(IMAGE, fmt, Settings()) == data  # deterministic bytes
    if fmt == ImageFormat.png:
        np.testing.assert_array_equal(np.asarray(decoded), IMAGE)  # lossless


@pytest.mark.parametrize("fmt", list(AnimationFormat))
def test_animation_has_every_frame_and_loops(fmt):
    frames = np.stack([IMAGE, 255 - IMAGE, IMAGE // 2])
    decoded = Image.open(io.BytesIO(encode_animation(frames, fmt, fps=10, settings=Settings())))
    assert decoded.n_frames == 3 and decoded.info.get("loop") == 0


def test_tile_places_images_row_major():
    images = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (1, 2, 3)])
    grid = tile(images, columns=2)
    assert grid.shape == (4, 4, 3)
    assert grid[0, 0, 0] == 1 and grid[0, 2, 0] == 2 and grid[2, 0, 0] == 3 and grid[2, 2, 0] == 0


@pytest.mark.parametrize("fmt", list(AnimationFormat))
@pytest.mark.parametrize("fps", [5e-324, 1e-3, 0.09])
def test_a_very_slow_animation_is_encoded_at_the_slowest_frame_the_format_carries(fmt, fps):
    """The API takes any fps > 0: 1000 / 5e-324 ms is inf, and 64 identical GIF frames (which
    Pillow merges, adding their delays) of 11 s each overflow GIF's 16-bit delay. Found by
    tests/api/test_fuzz.py (a 500 for fps 5e-324)."""
    frames = np.stack([IMAGE] * 64)
    decoded = Image.open(io.BytesIO(encode_animation(frames, fmt, fps=fps, settings=Settings())))
    assert decoded.size == (8, 8)
    if fmt == AnimationFormat.gif:
        assert decoded.info["duration"] > 1000  # slow, as asked, as far as the format goes
