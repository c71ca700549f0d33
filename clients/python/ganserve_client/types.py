"""Request and response types, the same over both transports."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")


class ImageFormat(StrEnum):
    png = "png"
    jpeg = "jpeg"
    webp = "webp"
    raw = "raw"  # uint8 pixels [height, width, channels], no encoding: gRPC only


class Noise(StrEnum):
    const = "const"  # each layer's stored noise (NVlabs' default)
    none = "none"
    random = "random"  # drawn from noise_seed: reproducible


class Space(StrEnum):
    w = "w"  # lerp after mapping
    z = "z"  # slerp before mapping: keyframes must be seeds or z


class LatentKind(StrEnum):
    z = "z"
    w = "w"
    ws = "ws"


def layer_spec(layers: str | Sequence[int]) -> str:
    """A group, ranges or indices as the wire takes them: "coarse", "0-3", "0,2,4"."""
    return layers if isinstance(layers, str) else ",".join(str(i) for i in layers)


def from_known_fields(cls: type[T], fields: dict) -> T:
    """A dataclass from the server's fields, ignoring any it does not know (a newer server's)."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{name: value for name, value in fields.items() if name in known})


@dataclass(frozen=True)
class Edit:
    """A move along a direction (Client.directions): strength x the direction's sigma is added to
    the latent's ws, after truncation, on `layers` (None: the layers the direction was computed for)."""

    direction: str  # e.g. ganspace-3, sefa-coarse-0, class-0-4
    strength: float  # in units of the direction's sigma, within +-100
    layers: str | Sequence[int] | None = None  # a list is kept as a tuple

    def __post_init__(self) -> None:
        if self.layers is not None and not isinstance(self.layers, str):  # hashable, as Latent is
            object.__setattr__(self, "layers", tuple(int(i) for i in self.layers))

    @property
    def layer_spec(self) -> str:
        """The layers as the wire takes them: "" for the direction's own, else a group or "0,2,4"."""
        return "" if self.layers is None else layer_spec(self.layers)


@dataclass(frozen=True)
class Latent:
    """One input latent, with the edits applied to it in order. Plain ints are seeds and SavedLatent
    objects their ids wherever a latent is taken."""

    kind: str  # seed | z | w | ws | id
    value: int | str | tuple
    edits: tuple[Edit, ...] = ()

    def edited(self, direction: str, strength: float, layers: str | Sequence[int] | None = None) -> Latent:
        """This latent with one more edit: Latent.seed(42).edited("ganspace-3", 2.5, "coarse").
        `layers`: a group (coarse, middle, fine, all), ranges like "0-3", or indices; None: the
        direction's own."""
        return replace(self, edits=(*self.edits, Edit(direction, float(strength), layers)))

    @classmethod
    def seed(cls, seed: int) -> Latent:
        return cls("seed", int(seed))

    @classmethod
    def z(cls, values) -> Latent:
        return cls("z", tuple(np.asarray(values, np.float32).ravel().tolist()))

    @classmethod
    def w(cls, values) -> Latent:
        return cls("w", tuple(np.asarray(values, np.float32).ravel().tolist()))

    @classmethod
    def ws(cls, values) -> Latent:
        """ws [num_ws, w_dim], e.g. Image.ws of an earlier result."""
        array = np.asarray(values, np.float32)
        if array.ndim != 2:
            raise ValueError(f"ws must be [num_ws, w_dim], got shape {array.shape}")
        return cls("ws", tuple(map(tuple, array.tolist())))

    @classmethod
    def saved(cls, id: str) -> Latent:
        return cls("id", str(id))


@dataclass
class Options:
    """What every generation call takes besides its latents."""

    psi: float = 1.0  # truncation: 1 none, 0 w_avg
    cutoff: int | None = None  # truncate only ws[:cutoff]
    class_: int | str | None = None  # conditional models: index or name
    noise: Noise = Noise.const
    noise_seed: int = 0
    translate: tuple[float, float] = (0.0, 0.0)  # StyleGAN3: move the view by (x, y)
    rotate: float = 0.0  # StyleGAN3: rotate the view, degrees


@dataclass
class Image:
    format: ImageFormat
    media_type: str
    data: bytes  # encoded bytes, or raw uint8 pixels
    shape: tuple[int, ...] | None = None  # [height, width, channels]; always known for raw
    ws: np.ndarray | None = None  # the final ws [num_ws, w_dim] when include_ws was asked for

    def array(self) -> np.ndarray:
        """uint8 pixels [height, width, channels] (encoded images need Pillow)."""
        if self.format == ImageFormat.raw:
            return np.frombuffer(self.data, np.uint8).reshape(self.shape)
        from PIL import Image as PILImage

        pixels = np.asarray(PILImage.open(io.BytesIO(self.data)))
        return pixels if pixels.ndim == 3 else pixels[..., None]

    def save(self, path: str | Path) -> Path:
        """Write the bytes as they came (raw pixels as a .npy array); the path written."""
        path = Path(path)
        if self.format == ImageFormat.raw:
            path = path.with_suffix(".npy")
            np.save(path, self.array())
        else:
            path.write_bytes(self.data)
        return path

    @property
    def extension(self) -> str:
        return {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "raw": ".npy"}[self.format]


@dataclass
class Frame:
    index: int
    count: int  # frames in the whole walk
    image: Image | None  # None with latents_only
    ws: np.ndarray | None = None


@dataclass
class MixCell:
    row: int
    column: int
    image: Image


@dataclass
class MixResult:
    layers: list[int]
    cells: list[MixCell] = field(default_factory=list)  # row-major; empty with grid
    grid: Image | None = None


@dataclass
class ChildrenResult:
    images: list[Image] = field(default_factory=list)  # one per child (each with its ws); empty with grid or latents_only
    ws: list[np.ndarray] = field(default_factory=list)  # every child's final ws [num_ws, w_dim], the parent first with include_parent
    grid: Image | None = None  # with grid (over HTTP a grid comes without ws)


@dataclass
class Direction:
    """A direction an edit can move along."""

    id: str
    method: str  # ganspace | sefa | class
    label: str
    layers: str  # the layer range it was computed for: all, coarse, middle or fine
    layer_indices: list[int]
    sigma: float  # strength 1 moves w by sigma along the (unit) direction
    explained_variance: float | None = None  # GANSpace
    eigenvalue: float | None = None  # SeFa


@dataclass
class ModelInfo:
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
    version: str
    engine: str
    source: dict
    default: bool = False  # the server's model for a client with no preference
    training_log: bool = False  # the server has this model's training run (GET /v1/models/{model}/training)
    precision: str | None = None  # the arithmetic of the server's images: "f32", "bf16"; None where it cannot say (Triton) or is older
    precision_reason: str | None = None  # why that precision


@dataclass
class SavedLatent:
    id: str
    model: str
    model_version: str
    kind: LatentKind
    shape: tuple[int, ...]
    name: str
    source: dict
    created: float
    expires: float | None
    values: np.ndarray | None = None  # None in a listing without include_values


@dataclass
class LatentPage:
    latents: list[SavedLatent]
    next_cursor: str | None  # pass as cursor for the next page; None on the last


class ProjectionState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


@dataclass
class ProjectionEvent:
    """Where a projection job is: one per progress report, the last one succeeded, failed or cancelled."""

    id: str
    state: ProjectionState
    step: int
    steps: int
    loss: float | None = None
    psnr: float | None = None  # dB, of the reconstruction against the uploaded image
    elapsed_s: float = 0.0
    preview: bytes | None = None  # PNG of the current reconstruction, every preview_every steps
    latent_id: str | None = None  # succeeded: the saved latent, usable as Latent(id=...)
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.state in (ProjectionState.succeeded, ProjectionState.failed, ProjectionState.cancelled)


LatentLike = int | Latent | SavedLatent


def as_latent(value: LatentLike) -> Latent:
    if isinstance(value, Latent):
        return value
    if isinstance(value, SavedLatent):
        return Latent.saved(value.id)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return Latent.seed(int(value))
    raise TypeError(f"a latent is an int seed, a Latent or a SavedLatent, not {type(value).__name__}")
