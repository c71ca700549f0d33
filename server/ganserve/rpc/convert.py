"""Protobuf messages <-> the HTTP API's request models and numpy arrays.

A request is turned into the same pydantic model the HTTP route validates, so both transports
check the same limits and name the same fields. Proto3 scalars cannot be absent, so a zero means
"the default" where the HTTP API has one (frames, layers, limit).
"""

from __future__ import annotations

import numpy as np
from google.protobuf import json_format, struct_pb2

from ganserve.encode import ImageFormat
from ganserve.errors import InvalidInput
from ganserve.pipeline import NoiseMode
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb

NOISE = {pb.NOISE_MODE_UNSPECIFIED: NoiseMode.const, pb.NOISE_MODE_CONST: NoiseMode.const, pb.NOISE_MODE_NONE: NoiseMode.none}
NOISE[pb.NOISE_MODE_RANDOM] = NoiseMode.random
FORMATS = {pb.IMAGE_FORMAT_UNSPECIFIED: ImageFormat.png, pb.IMAGE_FORMAT_PNG: ImageFormat.png, pb.IMAGE_FORMAT_JPEG: ImageFormat.jpg}
FORMATS[pb.IMAGE_FORMAT_WEBP] = ImageFormat.webp
MEDIA_TYPES = {pb.IMAGE_FORMAT_PNG: "image/png", pb.IMAGE_FORMAT_JPEG: "image/jpeg", pb.IMAGE_FORMAT_WEBP: "image/webp"}
MEDIA_TYPES[pb.IMAGE_FORMAT_RAW] = "application/octet-stream"
KINDS = {pb.LATENT_KIND_Z: "z", pb.LATENT_KIND_W: "w", pb.LATENT_KIND_WS: "ws"}
KIND_VALUES = {name: value for value, name in KINDS.items()}


def enum_value(value: int, known: dict, field: str):
    if value not in known:
        raise InvalidInput(field, f"unknown value {value}")
    return known[value]


def image_format(value: int, field: str = "format") -> int:
    """The requested format, RAW included, as a proto enum value (UNSPECIFIED: PNG)."""
    if value == pb.IMAGE_FORMAT_RAW:
        return value
    enum_value(value, FORMATS, field)
    return value or pb.IMAGE_FORMAT_PNG


def encoded_format(value: int) -> ImageFormat:
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
    return np.asarray(message.values, dtype=np.float64).reshape(shape).tolist()


def latent(message: pb.Latent, field: str) -> dict:
    """A Latent message as the HTTP API's JSON latent: {"seed": 3}, {"z": [...]}, ..."""
    kind = message.WhichOneof("value")
    if kind is None:
        raise InvalidInput(field, "give exactly one of seed, z, w, ws or id")
    if kind in ("seed", "id"):
        return {kind: getattr(message, kind)}
    if kind == "ws":
        return {"ws": _matrix(message.ws, f"{field}.ws")}
    return {kind: _vector(getattr(message, kind), f"{field}.{kind}")}


def latents(messages, field: str) -> list[dict]:
    return [latent(message, f"{field}[{i}]") for i, message in enumerate(messages)]


def class_value(message) -> int | str | None:
    which = message.WhichOneof("class_value")
    return None if which is None else getattr(message, which)


def generation(options: pb.GenerationOptions) -> dict:
    """GenerationOptions as the fields of ganserve.api.schemas.Generation."""
    return {
        "psi": options.psi if options.HasField("psi") else 1.0,
        "cutoff": options.cutoff if options.HasField("cutoff") else None,
        "class": class_value(options),
        "noise": enum_value(options.noise, NOISE, "options.noise"),
        "noise_seed": options.noise_seed,
        "translate": (options.translate.x, options.translate.y),
        "rotate": options.rotate,
    }


def image(data: bytes, fmt: int, shape: tuple[int, ...], ws: np.ndarray | None = None) -> pb.Image:
    return pb.Image(format=fmt, media_type=MEDIA_TYPES[fmt], shape=list(shape), data=data, ws=None if ws is None else tensor(ws))


def struct(values: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def saved_latent(latent, include_values: bool = True) -> pb.SavedLatent:
    """A ganserve.store.SavedLatent (or a listing entry) as a message."""
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
    values = getattr(latent, "values", None)
    if values is not None and include_values:
        array = np.asarray(values, dtype=np.float32)
        message.values.CopyFrom(tensor(array))
        message.shape.extend(array.shape)
    else:
        message.shape.extend(latent.shape)
    return message


def model_info(info) -> pb.ModelInfo:
    """ganserve.api.schemas.ModelInfo as a message."""
    fields = info.model_dump(exclude={"layer_groups", "source"})
    message = json_format.ParseDict(fields, pb.ModelInfo())
    for name, indices in info.layer_groups.items():
        message.layer_groups[name].indices.extend(indices)
    message.source.update(info.source)
    return message
