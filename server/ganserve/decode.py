"""Uploaded images -> the model's input: checked and decoded before any job is queued. Blocking: run
off the event loop.

Every refusal names the problem (InvalidInput on the field `image`): not an image, a format we do
not take, more pixels than GANSERVE_PROJECTION_MAX_IMAGE_PIXELS (read from the header, before
decoding: a decompression bomb never expands), the wrong channels, or a truncated file. An accepted
image is composited on white (the training images were), centre-cropped to a square, and resized
to the model's resolution with Lanczos.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganserve.errors import InvalidInput

FORMATS = ("PNG", "JPEG", "WEBP")
# Pillow modes we take, and what they hold; the rest are refused by their channel count.
COLOUR_MODES = {"RGB", "RGBA", "P", "RGBX", "RGBa", "PA"}
MODE_CHANNELS = {"1": 1, "L": 1, "I": 1, "F": 1, "I;16": 1, "LA": 2, "La": 2, "CMYK": 4, "YCbCr": 3, "LAB": 3, "HSV": 3}


def decode_upload(data: bytes, resolution: int, max_pixels: int) -> np.ndarray:
    """The uploaded file's bytes -> uint8 [resolution, resolution, 3]."""
    if not data:
        raise InvalidInput("image", "the body is empty: send the image file's bytes (PNG, JPEG or WebP)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise InvalidInput("image", f"not an image this server reads: send PNG, JPEG or WebP ({len(data)} bytes received)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput("image", f"the image has more pixels than {max_pixels:,}: send a smaller one") from None
    width, height = image.size
    if width * height > max_pixels:  # from the header: nothing is decoded yet
        raise InvalidInput(
            "image",
            f"a {width}x{height} image has more pixels than {max_pixels:,} (GANSERVE_PROJECTION_MAX_IMAGE_PIXELS): send a smaller one",
        )
    if image.mode not in COLOUR_MODES:
        channels = MODE_CHANNELS.get(image.mode, len(image.getbands()))
        raise InvalidInput("image", f"the image has {channels} channel(s) (mode {image.mode}): send RGB or RGBA")
    try:
        image.load()
    except (OSError, ValueError) as exc:
        raise InvalidInput("image", f"the {image.format} file is damaged or truncated: {exc}") from None
    return to_model_input(image, resolution)


def to_model_input(image: Image.Image, resolution: int) -> np.ndarray:
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((resolution, resolution), Image.Resampling.LANCZOS), dtype=np.uint8)


def to_png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG", compress_level=1)
    return out.getvalue()


def from_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
