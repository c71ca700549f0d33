"""The contract: the transport-neutral requests, responses and enums of the ganserve API.

HTTP (ganserve.api) validates JSON bodies into these models, gRPC (ganserve.rpc) builds the same
models from its messages, and the operations (ganserve.operations) take them, so that both
transports check the same limits and name the same fields. Field names, defaults and limits are
those of the HTTP API's JSON (the OpenAPI schema shows them). Limits that depend on the settings
(GANSERVE_MAX_*) are checked by the operations, before any work reaches an engine.

This module sits below everything that serves a request: it imports nothing of ganserve.api,
ganserve.rpc, ganserve.operations, ganserve.state, ganserve.pipeline or ganserve.engines
(import-linter checks it, see pyproject.toml).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ganserve.latents import SEED_MAX

LatentKind = Literal["z", "w", "ws"]

Psi = Annotated[float, Field(allow_inf_nan=False, ge=-10, le=10, description="truncation psi: 1 = none, 0 = w_avg")]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-1e4, le=1e4)]
SAVED_ID_PATTERN = r"^[0-9A-Za-z]{1,64}$"
DIRECTION_ID_PATTERN = r"^[a-z][a-z0-9-]{0,63}$"
MAX_EDIT_STRENGTH = 100.0  # in σ: far past where images stay meaningful, but bounded
EDITS_PER_LATENT_CAP = 64  # parsing bound; GANSERVE_MAX_EDITS is the served limit
MAX_TTL_S = 10 * 365 * 24 * 3600


class ImageFormat(StrEnum):
    png = "png"
    jpg = "jpg"
    webp = "webp"


class AnimationFormat(StrEnum):
    webp = "webp"
    gif = "gif"


class NoiseMode(StrEnum):
    const = "const"  # each layer's stored noise buffer (NVlabs default)
    none = "none"  # no noise
    random = "random"  # fresh noise drawn from noise_seed: reproducible


LatentField = Literal["seed", "z", "w", "ws", "id"]
LATENT_FIELDS: tuple[LatentField, ...] = ("seed", "z", "w", "ws", "id")


class View(BaseModel):
    """StyleGAN3's input transform, named as gen_images.py names it: move the view by (x, y) and
    rotate it by degrees. The identity for every model; StyleGAN2 models take only the identity."""

    model_config = ConfigDict(frozen=True)

    translate: tuple[Coordinate, Coordinate] = (0.0, 0.0)
    rotate: Coordinate = 0.0

    @property
    def is_identity(self) -> bool:
        return self.translate == (0.0, 0.0) and self.rotate == 0.0


IDENTITY = View()


LayerSpec = Annotated[
    str | list[int], Field(description="a group (coarse, middle, fine, or all), ranges like 0-6, or indices; as mixing names them")
]


class Edit(BaseModel):
    """A move along a direction (GET /v1/models/{model}/directions), in W after truncation:
    strength x the direction's σ is added to the chosen ws layers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: str = Field(pattern=DIRECTION_ID_PATTERN, description="a direction id, e.g. ganspace-3, sefa-coarse-0, class-0-4")
    strength: float = Field(allow_inf_nan=False, ge=-MAX_EDIT_STRENGTH, le=MAX_EDIT_STRENGTH, description="in units of the direction's σ")
    layers: LayerSpec | None = Field(None, description="the ws layers it moves; default: the layers the direction was computed for")


class Latent(BaseModel):
    """Exactly one of: a seed, z [z_dim], w [w_dim], ws [num_ws][w_dim], or a saved latent's id;
    optionally with edits, applied in order after truncation."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    z: list[float] | None = Field(None, min_length=1)
    w: list[float] | None = Field(None, min_length=1)
    ws: list[list[float]] | None = Field(None, min_length=1)
    id: str | None = Field(None, pattern=SAVED_ID_PATTERN, description="a saved latent (POST /v1/latents)")
    edits: list[Edit] = Field(default_factory=list, max_length=EDITS_PER_LATENT_CAP, description="at most GANSERVE_MAX_EDITS")

    @model_validator(mode="after")
    def _exactly_one(self) -> Latent:
        given = [name for name in LATENT_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of seed, z, w, ws or id (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> LatentField:
        return next(name for name in LATENT_FIELDS if getattr(self, name) is not None)


class DirectionInfo(BaseModel):
    """A direction an edit can move along; see docs/api.md#edits for what each method means."""

    id: str
    method: Literal["ganspace", "sefa", "class"]
    label: str
    layers: str = Field(description="the layer range it was computed for: all, coarse, middle or fine")
    layer_indices: list[int]
    sigma: float = Field(description="its scale: strength 1 moves w by sigma along the (unit) direction")
    explained_variance: float | None = Field(None, description="GANSpace: the component's share of the variance of w")
    eigenvalue: float | None = Field(None, description="SeFa: the eigenvalue of AᵀA for its layers")


class ModelReloaded(BaseModel):
    """What a reload did to one model."""

    model: str
    outcome: Literal["loaded", "unchanged", "removed", "failed"] = Field(
        description="loaded: new, or new weights, now served; failed: the old weights (if any) still are"
    )
    version: str = Field(description="the weights found in the models folder (first 16 hex digits of their sha256)")
    error: str = ""


class Reload(BaseModel):
    models: list[ModelReloaded] = Field(description="what this gateway did")
    notified: int | None = Field(None, description="other gateways told to reload, through the shared Redis; null without one")


class Limits(BaseModel):
    """The per-request limits (settings GANSERVE_MAX_*), so that clients can size their requests."""

    max_images: int = Field(description="images per batch or children request")
    max_frames: int
    max_keyframes: int
    max_mix_side: int = Field(description="rows, and columns, of a style-mixing grid")
    max_edits: int = Field(description="edits per latent")
    max_body_bytes: int


class TrainingLog(BaseModel):
    """A model's training run as `ganserve train` logs it (docs/training.md): the metrics.jsonl
    records from line `after` on, every evaluation, and where the next poll starts."""

    model: str
    run: str
    records: list[dict[str, Any]] = Field(description="metrics.jsonl lines (start, tick, checkpoint); checkpoints get samples_url")
    next: int = Field(description="pass as `after` to get only what was logged since")
    evaluation: list[dict[str, Any]]
    options: dict[str, Any] | None = None
    updated: float = Field(description="Unix time the log last changed")


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
    source: dict[str, Any]
    default: bool = Field(False, description="the model for a client with no preference (GANSERVE_DEFAULT_MODEL)")
    training_log: bool = Field(False, description="GET /v1/models/{model}/training has the model's training run")
    precision: str | None = Field(
        None, description='the arithmetic the engine makes this model\'s images in ("f32", "bf16"); null where not known here (Triton)'
    )
    precision_reason: str | None = Field(None, description="why: the setting that chose the precision, and what the hardware allowed")


class Generation(BaseModel):
    """Options shared by every generation route."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

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


class ChildrenOutput(StrEnum):
    grid = "grid"  # one image, the children tiled (the parent first with include_parent)
    list = "list"  # JSON, every child as a base64 image with its ws
    latents = "latents"  # JSON, every child's ws; no synthesis


class ChildrenRequest(Generation):
    """Variations of a parent (Artbreeder's children): each child moves the parent's final w by
    spread x a random draw along the model's GANSpace components, each scaled by its σ."""

    parent: Latent
    count: int = Field(8, ge=1, description="at most GANSERVE_MAX_IMAGES")
    spread: float = Field(
        0.5, ge=0, le=10, allow_inf_nan=False, description="0: copies of the parent; 1: as far as typical w lie from w_avg (GANSpace)"
    )
    layers: LayerSpec = "all"
    seed: Seed = Field(0, description="the same seed gives the same children")
    output: ChildrenOutput = ChildrenOutput.grid
    format: ImageFormat = ImageFormat.png
    columns: int | None = Field(None, ge=1, le=64, description="grid columns (default: square)")
    include_parent: bool = Field(False, description="the parent first, then the children")


class StableImageRequest(Generation):
    """One image from a seed or a saved latent, as the stable image URLs give it: the same request
    always gives the same bytes, under the same ETag."""

    latent: Latent = Field(description="a seed or a saved latent's id")
    format: ImageFormat = ImageFormat.png


class SaveLatentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str = Field(description="model name, see GET /v1/models")
    latent: Latent = Field(description="a seed, z, w, ws or saved id; e.g. a ws returned by /interpolations (output=latents)")
    kind: LatentKind | None = Field(
        None,
        description="what to store: z (from a seed or z), w or ws; default: z for a seed, else the latent's own"
        " (an edited seed or z: w, or ws where its edits moved only some layers)",
    )
    psi: Psi = 1.0
    cutoff: int | None = Field(None, ge=0, description="truncate only ws[:cutoff]")
    class_: int | str | None = Field(None, alias="class", description="class index or name (conditional models)")
    name: str = Field("", max_length=200)
    ttl_s: float | None = Field(None, gt=0, le=MAX_TTL_S, allow_inf_nan=False, description="delete after this many seconds; null: keep")


class SavedLatentEntry(BaseModel):
    """A saved latent in a listing: values only when asked for (include_values=true)."""

    model_config = ConfigDict(protected_namespaces=())

    id: str
    model: str
    model_version: str
    kind: LatentKind
    shape: list[int]
    name: str
    source: dict[str, Any]
    created: float
    expires: float | None
    owner: str = Field("", description="the id of the API key that saved it; empty: saved without a key")
    values: list[float] | list[list[float]] | None = None


# -- projection: an uploaded image -> the latent that reproduces it (a job, see ganserve.jobs) ----
PROJECTION_STEPS_CAP = 100_000  # parsing bound; GANSERVE_PROJECTION_MAX_STEPS is the served limit


class ProjectionState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"  # the result is a saved latent: latent_id
    failed = "failed"
    cancelled = "cancelled"


class ProjectionOptions(BaseModel):
    """How to project (HTTP: query parameters beside the uploaded image)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    steps: int = Field(200, ge=1, le=PROJECTION_STEPS_CAP, description="optimisation steps, at most GANSERVE_PROJECTION_MAX_STEPS")
    space: Literal["w", "w+"] = Field("w", description="w: one w for every layer (saved as w); w+: one per layer (saved as ws)")
    seed: Seed = Field(0, description="the projection's own randomness: the same image, options and seed give the same latent")
    class_: int | str | None = Field(None, alias="class", description="conditional models: start from this class's average w")
    preview_every: int = Field(25, ge=0, le=PROJECTION_STEPS_CAP, description="a reconstruction in the progress every N steps; 0: none")
    name: str = Field("", max_length=200, description="the saved latent's name")


class Projection(BaseModel):
    """A projection job: where it is, and once it succeeded, the saved latent it made."""

    model_config = ConfigDict(protected_namespaces=())

    id: str
    model: str
    state: ProjectionState
    step: int = Field(description="steps done")
    steps: int
    loss: float | None = Field(None, description="the objective at the last step")
    psnr: float | None = Field(None, description="dB, of the current reconstruction against the uploaded image")
    elapsed_s: float = Field(description="seconds since a worker started it")
    attempts: int = Field(0, description="runs started: more than one when a worker stopped mid-run and another took over")
    created: float = Field(description="unix time, seconds")
    options: ProjectionOptions
    error: str | None = None
    latent_id: str | None = Field(None, description="the saved latent it made (state succeeded): use it in every other route")
    image_url: str | None = Field(None, description="the reconstruction: the saved latent's stable image URL")
    events_url: str = Field(description="progress as Server-Sent Events")
