"""Image encoding (PNG, JPEG, WebP, animated WebP/GIF) and grids. Blocking: run off the event loop."""

from __future__ import annotations

import io
import math

import numpy as np
import PIL
from PIL import Image

from ganserve.protocol import AnimationFormat, ImageFormat
from ganserve.settings import Settings

MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
IMAGE_MEDIA_TYPES = sorted(set(MEDIA_TYPES.values()))
GIF_MAX_MS = 65535 * 10  # a GIF frame's delay: 16 bits of centiseconds


def encoder_signature(settings: Settings) -> str:
    """Everything besides the pixels that decides the encoded bytes: part of every ETag."""
    return (
        f"pillow{PIL.__version__}-png{settings.png_compress_level}-jpg{settings.jpeg_quality}"
        f"-webp{settings.webp_quality}m{settings.webp_method}"
    )


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def encode_image(image: np.ndarray, fmt: ImageFormat, settings: Settings) -> bytes:
    """image: uint8 [H, W, C]."""
    out = io.BytesIO()
    pil = _pil(image)
    if fmt == ImageFormat.png:
        pil.save(out, "PNG", compress_level=settings.png_compress_level)
    elif fmt == ImageFormat.jpg:
        pil.save(out, "JPEG", quality=settings.jpeg_quality)
    else:
        pil.save(out, "WEBP", quality=settings.webp_quality, method=settings.webp_method)
    return out.getvalue()


def encode_animation(frames: np.ndarray, fmt: AnimationFormat, fps: float, settings: Settings) -> bytes:
    """frames: uint8 [T, H, W, C]; loops forever."""
    out = io.BytesIO()
    images = [_pil(frame) for frame in frames]
    # The slowest frame each format can carry (a tiny fps makes 1000 / fps huge, even inf): GIF
    # stores centiseconds in 16 bits, and Pillow merges identical frames, adding their durations;
    # WebP stores 24-bit milliseconds and 32-bit timestamps.
    longest = min(2**24 - 1, (2**31 - 1) // len(images)) if fmt == AnimationFormat.webp else GIF_MAX_MS // len(images)
    duration = round(min(max(1000 / fps, 20), longest))
    if fmt == AnimationFormat.webp:
        images[0].save(out, "WEBP", save_all=True, append_images=images[1:], duration=duration, loop=0, quality=settings.webp_quality)
    else:
        images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return out.getvalue()


def tile(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """[N, H, W, C] -> one [rows*H, columns*W, C] grid, row-major, black where empty."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.zeros((rows * h, columns * w, c), dtype=np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = image
    return grid
