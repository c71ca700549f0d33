"""Request and response bodies of the HTTP API (pydantic). Limits are checked in the routes,
against the settings, before any work reaches an engine."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from ganserve.encode import ImageFormat
from ganserve.latents import SEED_MAX
from ganserve.pipeline import Coordinate, Latent, NoiseMode, View

Psi = Annotated[float, Field(allow_inf_nan=False, ge=-10, le=10, description="truncation psi: 1 = none, 0 = w_avg")]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]


class ModelInfo(BaseModel):
    name: str
    architecture: str
    resolution: int
    img_channels: int
    z_dim: int
    w_dim: int
    num_ws: int
    c_dim: int
    class_names: list[str]
    layer_groups: dict[str, list[int]]
    version: str = Field(description="sha256 of the model's config and weights (first 16 hex digits)")
    engine: str
    source: dict


class ModelList(BaseModel):
    models: list[ModelInfo]


class Generation(BaseModel):
    """Options shared by every generation route."""

    model_config = {"extra": "forbid", "populate_by_name": True}

    psi: Psi = 1.0
    cutoff: int | None = Field(None, ge=0, description="truncate only ws[:cutoff]")
    class_: int | str | None = Field(None, alias="class", description="class index or name (conditional models)")
    noise: NoiseMode = NoiseMode.const
    noise_seed: Seed = Field(0, description="with noise=random: image i draws noise from noise_seed + i")
    translate: tuple[Coordinate, Coordinate] = Field((0.0, 0.0), description="StyleGAN3: move the view by [x, y] (gen_images.py)")
    rotate: Coordinate = Field(0.0, description="StyleGAN3: rotate the view, in degrees (gen_images.py)")

    @property
    def view(self) -> View:
        return View(translate=self.translate, rotate=self.rotate)


class BatchOutput(StrEnum):
    json = "json"  # base64 images (and optionally their ws) in JSON
    grid = "grid"  # one image with all results tiled


class BatchRequest(Generation):
    latents: list[Latent] = Field(min_length=1, description="seeds, z, w or ws, any mix")
    format: ImageFormat = ImageFormat.png
    output: BatchOutput = BatchOutput.json
    columns: int | None = Field(None, ge=1, le=64, description="grid columns (default: square)")
    include_ws: bool = Field(False, description="return each image's final ws (after truncation)")


class EncodedImage(BaseModel):
    index: int
    media_type: str
    data: str = Field(description="base64")
    ws: list[list[float]] | None = None


class BatchResponse(BaseModel):
    model: str
    images: list[EncodedImage]


class InterpolationSpace(StrEnum):
    w = "w"  # lerp in W (after mapping)
    z = "z"  # slerp in Z (before mapping); keyframes must be seeds or z


class InterpolationOutput(StrEnum):
    animation = "animation"  # animated WebP or GIF (format: webp | gif)
    frames = "frames"  # JSON, every frame as a base64 image (format: png | jpg | webp)
    frame = "frame"  # one frame as an image (frame index, format: png | jpg | webp)
    latents = "latents"  # JSON, every frame's ws; no synthesis


class InterpolationRequest(Generation):
    keyframes: list[Latent] = Field(min_length=2)
    frames: int = Field(16, ge=2)
    space: InterpolationSpace = InterpolationSpace.w
    loop: bool = Field(False, description="walk back to the first keyframe, seamless on repeat")
    output: InterpolationOutput = InterpolationOutput.animation
    format: str = Field("webp", description="animation: webp | gif; frames/frame: png | jpg | webp")
    frame: int | None = Field(None, ge=0, description="with output=frame: which frame")
    fps: float = Field(16, gt=0, le=60)
    include_ws: bool = Field(False, description="with output=frames: each frame's final ws")


class FramesResponse(BaseModel):
    model: str
    frames: list[EncodedImage]


class LatentsResponse(BaseModel):
    model: str
    ws: list[list[list[float]]]


class MixOutput(StrEnum):
    grid = "grid"  # style_mixing.py layout: column sources on top, row sources on the left
    cells = "cells"  # JSON, every mixed cell as a base64 image
    cell = "cell"  # one cell (row, column) as an image


class MixRequest(Generation):
    rows: list[Latent] = Field(min_length=1, description="latents whose other layers are kept")
    columns: list[Latent] = Field(min_length=1, description="latents whose chosen layers are copied in")
    layers: str | list[int] = Field("coarse", description="a group (coarse, middle, fine), ranges like 0-6, or indices")
    output: MixOutput = MixOutput.grid
    format: ImageFormat = ImageFormat.png
    row: int | None = Field(None, ge=0)
    column: int | None = Field(None, ge=0)
    include_ws: bool = Field(False, description="with output=cells: each cell's final ws (to save it: POST /v1/latents)")


class MixCell(EncodedImage):
    row: int
    column: int


class MixResponse(BaseModel):
    model: str
    layers: list[int]
    cells: list[MixCell]


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


# Validation errors and unknown models are documented on every model route.
ERROR_RESPONSES = {
    404: {"model": ErrorResponse, "description": "unknown model"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    422: {"model": ErrorResponse, "description": "invalid input; `field` names it"},
    503: {"model": ErrorResponse, "description": "engine overloaded or unavailable; see Retry-After"},
}
