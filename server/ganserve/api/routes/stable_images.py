"""Stable image URLs, what product apps embed:

    GET /v1/models/{model}/seeds/{seed}.{png|jpg|webp}
    GET /v1/models/{model}/latents/{id}.{png|jpg|webp}     (a saved latent, POST /v1/latents)

with edits as query parameters: ?edit=ganspace-3:2.5@coarse (repeatable), part of the ETag.

The same URL always gives the same bytes, under an ETag (ganserve.operations.stable_image); a
matching If-None-Match is answered 304 before any work. Here: the URL and its query, and the
HTTP caching headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ganserve.access.gate import Caller
from ganserve.access.keys import Scope
from ganserve.api.access import GenerateCaller, requires
from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State
from ganserve.api.schemas import ERROR_RESPONSES
from ganserve.errors import InvalidInput, NotFound
from ganserve.latents import SEED_MAX
from ganserve.operations import cost
from ganserve.operations.stable_image import stable_image
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import EDITS_PER_LATENT_CAP, Edit, ImageFormat, Latent, NoiseMode, StableImageRequest, View
from ganserve.state import AppState

router = APIRouter(prefix="/v1/models/{model}", tags=["images"], dependencies=requires(Scope.generate))

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


def parse_view(translate: str | None, rotate: float) -> View:
    """From the query: translate as "X,Y"."""
    if translate is None:
        return View(rotate=rotate)
    parts = translate.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput("translate", f"expected two numbers X,Y, got {translate!r}") from None
    try:
        return View(translate=(x, y), rotate=rotate)
    except ValidationError:
        raise InvalidInput("translate", f"X and Y must be finite numbers within ±10000, got {translate!r}") from None


EDIT_PARAMETER = re.compile(r"^(?P<direction>[^:@]+):(?P<strength>[^:@]+)(?:@(?P<layers>.+))?$")


def parse_edit(text: str, index: int) -> Edit:
    """'ganspace-3:2.5' or 'sefa-coarse-0:-1@coarse' (layers as mixing names them: a group, 0-3, 0,2)."""
    field = f"edit[{index}]"
    match = EDIT_PARAMETER.match(text)
    if not match:
        raise InvalidInput(field, f"expected DIRECTION:STRENGTH or DIRECTION:STRENGTH@LAYERS, got {text!r}")
    try:
        strength = float(match["strength"])
    except ValueError:
        raise InvalidInput(f"{field}.strength", f"not a number: {match['strength']!r}") from None
    try:
        return Edit(direction=match["direction"], strength=strength, layers=match["layers"])
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InvalidInput(f"{field}.{error['loc'][0]}", error["msg"]) from None


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
    edit: Annotated[
        list[str] | None,
        Query(
            description="repeatable, applied in order: DIRECTION:STRENGTH[@LAYERS], e.g. ganspace-3:2.5@coarse"
            " (GET /v1/models/{model}/directions; strength in σ)",
            max_length=200,
        ),
    ] = None

    def request(self, latent: Latent, fmt: ImageFormat) -> StableImageRequest:
        view = parse_view(self.translate, self.rotate)
        if self.edit:
            if len(self.edit) > EDITS_PER_LATENT_CAP:
                raise InvalidInput("edit", f"at most {EDITS_PER_LATENT_CAP} edits")
            latent = latent.model_copy(update={"edits": [parse_edit(text, i) for i, text in enumerate(self.edit)]})
        options = {"psi": self.psi, "cutoff": self.cutoff, "noise": self.noise, "noise_seed": self.noise_seed, "class": self.class_}
        return StableImageRequest(latent=latent, format=fmt, translate=view.translate, rotate=view.rotate, **options)


Options = Annotated[ImageOptions, Depends()]


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for If-None-Match."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


async def respond(request: Request, state: AppState, caller: Caller, pipeline: ModelPipeline, body: StableImageRequest) -> Response:
    res = pipeline.config.resolution
    await cost.admit(state, caller, cost.Cost(1, 1, res, res, body.format, "filename"))
    if_none_match = request.headers.get("if-none-match")
    image = await stable_image(state, pipeline, body, lambda tag: etag_matches(if_none_match, f'"{tag}"'))
    headers = {"ETag": f'"{image.tag}"', "Cache-Control": CACHE_CONTROL}
    if image.data is None:
        return Response(status_code=304, headers=headers)
    return Response(image.data, media_type=image.media_type, headers=headers)


ROUTE: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: IMAGE_RESPONSE, 304: {"description": "not modified"}, **ERROR_RESPONSES},
}


@router.get("/seeds/{filename}", summary="One image from a seed", **ROUTE)
async def seed_image(
    request: Request, caller: GenerateCaller, filename: str, pipeline: Pipeline, state: State, options: Options
) -> Response:
    seed_text, fmt = parse_filename(filename, "seed")
    if not seed_text.isdigit() or int(seed_text) > SEED_MAX:
        raise InvalidInput("seed", f"seed must be an integer 0-{SEED_MAX}, got {seed_text!r}")
    return await respond(request, state, caller, pipeline, options.request(Latent(seed=int(seed_text)), fmt))


@router.get("/latents/{filename}", summary="One image from a saved latent", **ROUTE)
async def saved_latent_image(
    request: Request, caller: GenerateCaller, filename: str, pipeline: Pipeline, state: State, options: Options
) -> Response:
    latent_id, fmt = parse_filename(filename, "id")
    if not SAVED_ID.fullmatch(latent_id):
        raise NotFound("latent.id", f"no saved latent {latent_id!r}")
    return await respond(request, state, caller, pipeline, options.request(Latent(id=latent_id), fmt))


# HEAD for CDNs and link checkers (same handlers; the image is then cached for the GET that follows).
router.add_api_route("/seeds/{filename}", seed_image, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/latents/{filename}", saved_latent_image, methods=["HEAD"], include_in_schema=False)
