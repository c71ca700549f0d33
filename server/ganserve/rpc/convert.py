"""Protobuf messages <-> the contract's models (ganserve.protocol) and numpy arrays.

A request is turned into the same contract model the HTTP route validates (as the JSON the HTTP
API takes, so that pydantic names the same fields), so both transports check the same limits.
Proto3 scalars cannot be absent, so a zero means "the default" where the HTTP API has one
(frames, layers, limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import numpy as np
from google.protobuf import json_format, struct_pb2

from ganserve.errors import InvalidInput
from ganserve.protocol import DirectionInfo, ImageFormat, LatentKind, ModelInfo, NoiseMode, SavedLatentEntry
from ganserve.rpc.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve.store import SavedLatent

K = TypeVar("K")
T = TypeVar("T")

NOISE: dict[pb.NoiseMode, NoiseMode] = {
    pb.NOISE_MODE_UNSPECIFIED: NoiseMode.const,
    pb.NOISE_MODE_CONST: NoiseMode.const,
    pb.NOISE_MODE_NONE: NoiseMode.none,
}
NOISE[pb.NOISE_MODE_RANDOM] = NoiseMode.random
FORMATS: dict[pb.ImageFormat, ImageFormat] = {
    pb.IMAGE_FORMAT_UNSPECIFIED: ImageFormat.png,
    pb.IMAGE_FORMAT_PNG: ImageFormat.png,
    pb.IMAGE_FORMAT_JPEG: ImageFormat.jpg,
}
FORMATS[pb.IMAGE_FORMAT_WEBP] = ImageFormat.webp
MEDIA_TYPES: dict[pb.ImageFormat, str] = {
    pb.IMAGE_FORMAT_PNG: "image/png",
    pb.IMAGE_FORMAT_JPEG: "image/jpeg",
    pb.IMAGE_FORMAT_WEBP: "image/webp",
}
MEDIA_TYPES[pb.IMAGE_FORMAT_RAW] = "application/octet-stream"
KINDS: dict[pb.LatentKind, LatentKind] = {pb.LATENT_KIND_Z: "z", pb.LATENT_KIND_W: "w", pb.LATENT_KIND_WS: "ws"}
KIND_VALUES = {name: value for value, name in KINDS.items()}


def enum_value(value: K, known: Mapping[K, T], field: str) -> T:
    if value not in known:
        raise InvalidInput(field, f"unknown value {value}")
    return known[value]


def image_format(value: pb.ImageFormat, field: str = "format") -> pb.ImageFormat:
    """The requested format, RAW included, as a proto enum value (UNSPECIFIED: PNG)."""
    if value == pb.IMAGE_FORMAT_RAW:
        return value
    enum_value(value, FORMATS, field)
    return value or pb.IMAGE_FORMAT_PNG


def encoded_format(value: pb.ImageFormat) -> ImageFormat:
    """The encoder's format; RAW (no encoding) stands in as png for the request model's checks."""
    return FORMATS.get(value, ImageFormat.png)


def tensor(values: np.ndarray) -> pb.FloatTensor:
    return pb.FloatTensor(shape=list(values.shape), values=values.ravel().tolist())


def _vector(message: pb.FloatTensor, field: str) -> list[float]:
    if list(message.shape) not in ([], [len(message.values)]):
        raise InvalidInput(f"{field}.shape", f"a vector's shape is [{len(message.values)}] (or empty), got {list(message.shape)}")
    return list(message.values)


def _matrix(message: pb.FloatTensor, field: str) -> list[list[float]]:
    shape = list(message.shape)
    if len(shape) != 2 or shape[0] * shape[1] != len(message.values):
        raise InvalidInput(f"{field}.shape", f"ws needs shape [num_ws, w_dim] matching its {len(message.values)} values, got {shape}")
    matrix: list[list[float]] = np.asarray(message.values, dtype=np.float64).reshape(shape).tolist()
    return matrix


def edit(message: pb.Edit) -> dict[str, Any]:
    """An Edit message as the JSON edit; empty layers: the direction's own."""
    return {"direction": message.direction, "strength": message.strength, "layers": message.layers or None}


def latent(message: pb.Latent, field: str) -> dict[str, Any]:
    """A Latent message as the JSON latent: {"seed": 3}, {"z": [...], "edits": [...]}, ..."""
    kind = message.WhichOneof("value")
    if kind is None:
        raise InvalidInput(field, "give exactly one of seed, z, w, ws or id")
    edits = {"edits": [edit(e) for e in message.edits]} if message.edits else {}
    if kind in ("seed", "id"):
        return {kind: getattr(message, kind), **edits}
    if kind == "ws":
        return {"ws": _matrix(message.ws, f"{field}.ws"), **edits}
    return {kind: _vector(getattr(message, kind), f"{field}.{kind}"), **edits}


def latents(messages: Iterable[pb.Latent], field: str) -> list[dict[str, Any]]:
    return [latent(message, f"{field}[{i}]") for i, message in enumerate(messages)]


def class_value(message: pb.GenerationOptions | pb.SaveLatentRequest | pb.ProjectRequest) -> int | str | None:
    which = message.WhichOneof("class_value")
    value: int | str | None = None if which is None else getattr(message, which)
    return value


def generation(options: pb.GenerationOptions) -> dict[str, Any]:
    """GenerationOptions as the fields of ganserve.protocol.Generation."""
    return {
        "psi": options.psi if options.HasField("psi") else 1.0,
        "cutoff": options.cutoff if options.HasField("cutoff") else None,
        "class": class_value(options),
        "noise": enum_value(options.noise, NOISE, "options.noise"),
        "noise_seed": options.noise_seed,
        "translate": (options.translate.x, options.translate.y),
        "rotate": options.rotate,
    }


def image(data: bytes, fmt: pb.ImageFormat, shape: tuple[int, ...], ws: np.ndarray | None = None) -> pb.Image:
    return pb.Image(format=fmt, media_type=MEDIA_TYPES[fmt], shape=list(shape), data=data, ws=None if ws is None else tensor(ws))


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def saved_latent(latent: SavedLatent | SavedLatentEntry, include_values: bool = True) -> pb.SavedLatent:
    """A saved latent (or a listing entry) as a message."""
    message = pb.SavedLatent(
        id=latent.id,
        model=latent.model,
        model_version=latent.model_version,
        kind=KIND_VALUES[latent.kind],
        name=latent.name,
        source=struct(latent.source),
        created=latent.created,
        expires=latent.expires,
    )
    if latent.values is not None and include_values:
        array = np.asarray(latent.values, dtype=np.float32)
        message.values.CopyFrom(tensor(array))
        message.shape.extend(array.shape)
    elif isinstance(latent, SavedLatentEntry):
        message.shape.extend(latent.shape)
    return message


def model_info(info: ModelInfo) -> pb.ModelInfo:
    fields = info.model_dump(exclude={"layer_groups", "source"})
    message = json_format.ParseDict(fields, pb.ModelInfo())
    for name, indices in info.layer_groups.items():
        message.layer_groups[name].indices.extend(indices)
    message.source.update(info.source)
    return message


def direction(info: DirectionInfo) -> pb.Direction:
    return json_format.ParseDict(info.model_dump(exclude_none=True), pb.Direction())
