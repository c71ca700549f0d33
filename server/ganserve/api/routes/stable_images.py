"""Stable image URLs, what product apps embed:

    GET /v1/models/{model}/seeds/{seed}.{png|jpg|webp}
    GET /v1/models/{model}/latents/{id}.{png|jpg|webp}     (a saved latent, POST /v1/latents)

The same URL always gives the same bytes (saved latents never change), so the ETag is computed
from what decides the bytes (model version, engine, encoder settings and the canonical
parameters) and a matching If-None-Match is answered 304 before any work. Encoded bytes of hot
URLs are cached (in process, or in Redis).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State
from ganserve.api.schemas import ERROR_RESPONSES
from ganserve.cache import cache_key
from ganserve.encode import MEDIA_TYPES, ImageFormat, encode_image, encoder_signature
from ganserve.errors import InvalidInput, NotFound
from ganserve.latents import SEED_MAX, broadcast_ws
from ganserve.pipeline import Latent, ModelPipeline, NoiseMode, View

router = APIRouter(prefix="/v1/models/{model}", tags=["images"])

SAVED_ID = re.compile(r"[0-9A-Za-z]{1,64}")
FILENAME = re.compile(r"^(?P<seed>[^.]*)\.(?P<ext>[^.]*)$")
EXTENSIONS = {"png": ImageFormat.png, "jpg": ImageFormat.jpg, "jpeg": ImageFormat.jpg, "webp": ImageFormat.webp}
CACHE_CONTROL = "public, max-age=31536000, immutable"


def parse_filename(filename: str, what: str) -> tuple[str, ImageFormat]:
    """'42.png' -> ('42', png); `what` names the part before the dot in errors."""
    match = FILENAME.match(filename)
    if not match:
        raise InvalidInput("format", f"the path must end in {{{what}}}.png, {{{what}}}.jpg or {{{what}}}.webp")
    ext = match["ext"].lower()
    if ext not in EXTENSIONS:
        raise InvalidInput("format", f"unknown image format {ext!r}; use png, jpg or webp")
    return match["seed"], EXTENSIONS[ext]


@dataclass
class ImageOptions:
    """The query parameters of a stable image URL."""

    psi: Annotated[float, Query(allow_inf_nan=False, ge=-10, le=10, description="truncation psi")] = 1.0
    cutoff: Annotated[int | None, Query(ge=0, description="truncate only ws[:cutoff]")] = None
    noise: NoiseMode = NoiseMode.const
    noise_seed: Annotated[int, Query(ge=0, le=SEED_MAX)] = 0
    class_: Annotated[str | None, Query(alias="class", description="class index or name")] = None
    translate: Annotated[str | None, Query(description="StyleGAN3: move the view, X,Y (gen_images.py --translate)")] = None
    rotate: Annotated[float, Query(allow_inf_nan=False, ge=-1e4, le=1e4, description="StyleGAN3: rotate the view, degrees")] = 0.0


Options = Annotated[ImageOptions, Depends()]


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for If-None-Match."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


async def stable_image(
    request: Request,
    state,
    pipeline: ModelPipeline,
    source: str,  # what identifies the latent: "seed=42", "id=Aw5dBiEku0"
    fmt: ImageFormat,
    options: ImageOptions,
    ws_of: Callable[[int | None], Awaitable[np.ndarray]],  # class index -> ws [1, num_ws, w_dim], untruncated
) -> Response:
    class_index = pipeline.class_index(options.class_)
    pipeline.check_cutoff(options.cutoff)
    view = View.parse(options.translate, options.rotate)
    pipeline.check_view(view)
    noise_key = f"{options.noise}:{options.noise_seed}" if options.noise == NoiseMode.random else str(options.noise)
    view_key = "" if view.is_identity else f"|{view.translate[0]!r},{view.translate[1]!r}|{view.rotate!r}"
    params = f"{source}|{options.psi!r}|{options.cutoff}|{noise_key}|{class_index}|{fmt}{view_key}"
    key = f"{pipeline.digest}|{pipeline.engine.name}|{encoder_signature(state.settings)}|{params}"
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)

    image_key = cache_key(pipeline.config.name, pipeline.digest, "img", etag.strip('"'))
    (data,) = await state.image_cache.get_many([image_key])
    if data is None:
        ws = pipeline.truncate(await ws_of(class_index), options.psi, options.cutoff)
        image = (await pipeline.synthesize(ws, options.noise, options.noise_seed, view=view))[0]
        state.metrics.images.labels(pipeline.config.name).inc()
        data = await state.run_blocking(encode_image, image, fmt, state.settings)
        await state.image_cache.set_many({image_key: data})
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)


ROUTE = {"response_class": Response, "responses": {200: IMAGE_RESPONSE, 304: {"description": "not modified"}, **ERROR_RESPONSES}}


@router.get("/seeds/{filename}", summary="One image from a seed", **ROUTE)
async def seed_image(request: Request, filename: str, pipeline: Pipeline, state: State, options: Options) -> Response:
    seed_text, fmt = parse_filename(filename, "seed")
    if not seed_text.isdigit() or int(seed_text) > SEED_MAX:
        raise InvalidInput("seed", f"seed must be an integer 0-{SEED_MAX}, got {seed_text!r}")
    seed = int(seed_text)

    async def ws_of(class_index: int | None) -> np.ndarray:
        return broadcast_ws(await pipeline.w_from_seeds([seed], class_index), pipeline.config.num_ws)

    return await stable_image(request, state, pipeline, f"seed={seed}", fmt, options, ws_of)


@router.get("/latents/{filename}", summary="One image from a saved latent", **ROUTE)
async def saved_latent_image(request: Request, filename: str, pipeline: Pipeline, state: State, options: Options) -> Response:
    latent_id, fmt = parse_filename(filename, "id")
    if not SAVED_ID.fullmatch(latent_id):  # looked up before the ETag: a deleted latent is a 404, not a 304
        raise NotFound("latent.id", f"no saved latent {latent_id!r}")
    latent = await pipeline.resolve_saved(Latent(id=latent_id), "latent")

    async def ws_of(class_index: int | None) -> np.ndarray:
        return await pipeline.to_ws([latent], class_index)

    return await stable_image(request, state, pipeline, f"id={latent_id}", fmt, options, ws_of)


# HEAD for CDNs and link checkers (same handlers; the image is then cached for the GET that follows).
router.add_api_route("/seeds/{filename}", seed_image, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/latents/{filename}", saved_latent_image, methods=["HEAD"], include_in_schema=False)
