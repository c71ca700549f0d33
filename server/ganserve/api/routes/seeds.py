"""GET /v1/models/{model}/seeds/{seed}.{png|jpg|webp}: the product apps' stable image URL.

The same URL always gives the same bytes, so the ETag is computed from what decides the bytes
(model version, engine, encoder settings and the canonical parameters) and a matching
If-None-Match is answered 304 before any work. Encoded bytes of hot URLs are cached in memory.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State
from ganserve.api.schemas import ERROR_RESPONSES
from ganserve.cache import cache_key
from ganserve.encode import MEDIA_TYPES, ImageFormat, encode_image, encoder_signature
from ganserve.errors import InvalidInput
from ganserve.latents import SEED_MAX, broadcast_ws
from ganserve.pipeline import NoiseMode

router = APIRouter(prefix="/v1/models/{model}/seeds", tags=["images"])

FILENAME = re.compile(r"^(?P<seed>[^.]*)\.(?P<ext>[^.]*)$")
EXTENSIONS = {"png": ImageFormat.png, "jpg": ImageFormat.jpg, "jpeg": ImageFormat.jpg, "webp": ImageFormat.webp}
CACHE_CONTROL = "public, max-age=31536000, immutable"


def parse_filename(filename: str) -> tuple[int, ImageFormat]:
    match = FILENAME.match(filename)
    if not match:
        raise InvalidInput("format", "the path must end in {seed}.png, {seed}.jpg or {seed}.webp")
    seed_text, ext = match["seed"], match["ext"].lower()
    if not seed_text.isdigit() or int(seed_text) > SEED_MAX:
        raise InvalidInput("seed", f"seed must be an integer 0-{SEED_MAX}, got {seed_text!r}")
    if ext not in EXTENSIONS:
        raise InvalidInput("format", f"unknown image format {ext!r}; use png, jpg or webp")
    return int(seed_text), EXTENSIONS[ext]


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for If-None-Match."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/{filename}",
    response_class=Response,
    responses={200: IMAGE_RESPONSE, 304: {"description": "not modified"}, **ERROR_RESPONSES},
    summary="One image from a seed",
)
async def seed_image(
    request: Request,
    filename: str,
    pipeline: Pipeline,
    state: State,
    psi: Annotated[float, Query(allow_inf_nan=False, ge=-10, le=10, description="truncation psi")] = 1.0,
    cutoff: Annotated[int | None, Query(ge=0, description="truncate only ws[:cutoff]")] = None,
    noise: NoiseMode = NoiseMode.const,
    noise_seed: Annotated[int, Query(ge=0, le=SEED_MAX)] = 0,
    class_: Annotated[str | None, Query(alias="class", description="class index or name")] = None,
) -> Response:
    seed, fmt = parse_filename(filename)
    class_index = pipeline.class_index(class_)
    pipeline.check_cutoff(cutoff)

    noise_key = f"{noise}:{noise_seed}" if noise == NoiseMode.random else str(noise)
    params = f"{seed}|{psi!r}|{cutoff}|{noise_key}|{class_index}|{fmt}"
    key = f"{pipeline.digest}|{pipeline.engine.name}|{encoder_signature(state.settings)}|{params}"
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)

    image_key = cache_key(pipeline.config.name, pipeline.digest, "img", etag.strip('"'))
    (data,) = await state.image_cache.get_many([image_key])
    if data is None:
        w = await pipeline.w_from_seeds([seed], class_index)
        ws = pipeline.truncate(broadcast_ws(w, pipeline.config.num_ws), psi, cutoff)
        image = (await pipeline.synthesize(ws, noise, noise_seed))[0]
        state.metrics.images.labels(pipeline.config.name).inc()
        data = await state.run_blocking(encode_image, image, fmt, state.settings)
        await state.image_cache.set_many({image_key: data})
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)


# HEAD for CDNs and link checkers (same handler; the image is then cached for the GET that follows).
router.add_api_route("/{filename}", seed_image, methods=["HEAD"], include_in_schema=False)
