"""Every operation once, as a transport-neutral Call: what to send over HTTP and over gRPC, and how
to read what comes back. The transports (transports.py) only move bytes, sync or async, so the
sync and async clients share all of this."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf import json_format

from ganserve_client.errors import InvalidInput
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.types import (
    ChildrenResult,
    Direction,
    Edit,
    Frame,
    Image,
    ImageFormat,
    Latent,
    LatentKind,
    LatentLike,
    LatentPage,
    MixCell,
    MixResult,
    ModelInfo,
    Options,
    ProjectionEvent,
    ProjectionState,
    SavedLatent,
    Space,
    as_latent,
    from_known_fields,
    layer_spec,
)

HTTP_FORMATS = {ImageFormat.png: "png", ImageFormat.jpeg: "jpg", ImageFormat.webp: "webp"}
PB_FORMATS = {ImageFormat.png: pb.IMAGE_FORMAT_PNG, ImageFormat.jpeg: pb.IMAGE_FORMAT_JPEG, ImageFormat.webp: pb.IMAGE_FORMAT_WEBP}
PB_FORMATS[ImageFormat.raw] = pb.IMAGE_FORMAT_RAW
FORMATS_OF_PB = {value: name for name, value in PB_FORMATS.items()}
MEDIA_FORMATS = {"image/png": ImageFormat.png, "image/jpeg": ImageFormat.jpeg, "image/webp": ImageFormat.webp}
PB_NOISE = {"const": pb.NOISE_MODE_CONST, "none": pb.NOISE_MODE_NONE, "random": pb.NOISE_MODE_RANDOM}
PB_KINDS = {"z": pb.LATENT_KIND_Z, "w": pb.LATENT_KIND_W, "ws": pb.LATENT_KIND_WS}
KINDS_OF_PB = {value: LatentKind(name) for name, value in PB_KINDS.items()}


@dataclass
class HttpCall:
    method: str
    path: str
    parse: Callable[[Any], Any]  # httpx.Response -> result (for streams: a list of items)
    json: dict | None = None
    params: dict | None = None
    content: bytes | None = None  # a file as the body (a projection's image)
    # Streams of Server-Sent Events: the first response (parsed by `parse`, one item) names the
    # path to follow (events_path); each event's JSON is then an item (parse_event).
    events_path: Callable[[Any], str] | None = None
    parse_event: Callable[[dict], Any] | None = None


@dataclass
class GrpcCall:
    method: str  # the GeneratorStub attribute
    request: Any
    parse: Callable[[Any], Any]  # response message -> result (for streams: per message)


@dataclass
class Call:
    http: HttpCall | None  # None: only possible over gRPC (raw pixels)
    grpc: GrpcCall
    stream: bool = False  # the result is a sequence of items (frames), streamed over gRPC
    # Saves and deletes: retried only after refusals made before any work (transports.RetryPolicy).
    # Everything else is deterministic or read-only, so a second try gives the same answer.
    writes: bool = False

    def over_http(self) -> HttpCall:
        if self.http is None:
            raise InvalidInput("format: raw pixels come over gRPC only; use a grpc:// URL or an encoded format", "format")
        return self.http


# -- to the wire -------------------------------------------------------------------------------
def _checked(value: LatentLike, field: str) -> Latent:
    """The Latent, its edit strengths finite (JSON has no NaN: the server could not name the field)."""
    latent = as_latent(value)
    for i, edit in enumerate(latent.edits):
        if not math.isfinite(edit.strength):
            raise InvalidInput(f"{field}.edits[{i}].strength: must be a finite number, got {edit.strength}", f"{field}.edits[{i}].strength")
    return latent


def _edit_json(edit: Edit) -> dict[str, Any]:
    body: dict[str, Any] = {"direction": edit.direction, "strength": edit.strength}
    if edit.layers is not None:  # left out: the direction's own layers
        body["layers"] = edit.layer_spec
    return body


def _latent_json(latent: Latent) -> dict[str, Any]:
    value: Any = latent.value  # its type goes with latent.kind
    body = {latent.kind: [list(row) for row in value] if latent.kind == "ws" else (list(value) if latent.kind in "zw" else value)}
    if latent.edits:
        body["edits"] = [_edit_json(edit) for edit in latent.edits]
    return body


def _latent_pb(latent: Latent) -> pb.Latent:
    edits = [pb.Edit(direction=edit.direction, strength=edit.strength, layers=edit.layer_spec) for edit in latent.edits]
    if latent.kind in ("seed", "id"):
        fields: dict[str, Any] = {latent.kind: latent.value}
        return pb.Latent(**fields, edits=edits)
    array = np.asarray(latent.value, np.float32)
    return pb.Latent(**{latent.kind: pb.FloatTensor(shape=list(array.shape), values=array.ravel().tolist())}, edits=edits)


def _options_json(options: Options) -> dict[str, Any]:
    values: dict[str, Any] = {"psi": options.psi, "cutoff": options.cutoff, "class": options.class_, "noise": str(options.noise)}
    values["noise_seed"] = options.noise_seed
    if tuple(options.translate) != (0.0, 0.0) or options.rotate != 0.0:  # StyleGAN3 only: sent when set
        values.update(translate=list(options.translate), rotate=options.rotate)
    return {key: value for key, value in values.items() if value is not None}


def _options_pb(options: Options) -> pb.GenerationOptions:
    message = pb.GenerationOptions(psi=options.psi, noise=PB_NOISE[str(options.noise)], noise_seed=options.noise_seed)
    message.translate.x, message.translate.y = options.translate
    message.rotate = options.rotate
    if options.cutoff is not None:
        message.cutoff = options.cutoff
    _set_class(message, options.class_)
    return message


def _set_class(message, value: int | str | None) -> None:
    if isinstance(value, str) and not value.isdigit():
        message.class_name = value
    elif value is not None:
        message.class_index = int(value)


def _http_format(fmt: ImageFormat) -> str | None:
    """The HTTP API's name of a format; None for raw, which only gRPC carries."""
    return HTTP_FORMATS.get(ImageFormat(fmt))


# -- from the wire -----------------------------------------------------------------------------
def _ws_array(value) -> np.ndarray | None:
    return None if value is None else np.asarray(value, np.float32)


def _tensor(message: pb.FloatTensor) -> np.ndarray:
    return np.asarray(message.values, np.float32).reshape(tuple(message.shape))


def _image_pb(message: pb.Image) -> Image:
    ws = _tensor(message.ws) if message.HasField("ws") else None
    fmt = FORMATS_OF_PB[message.format]
    return Image(format=fmt, media_type=message.media_type, data=message.data, shape=tuple(message.shape), ws=ws)


def _image_json(entry: dict) -> Image:
    media_type = entry["media_type"]
    return Image(MEDIA_FORMATS[media_type], media_type, base64.b64decode(entry["data"]), ws=_ws_array(entry.get("ws")))


def _image_bytes(response) -> Image:
    media_type = response.headers["content-type"].split(";")[0]
    return Image(MEDIA_FORMATS[media_type], media_type, response.content)


def _saved_json(body: dict) -> SavedLatent:
    values = body.get("values")
    array = None if values is None else np.asarray(values, np.float32)
    shape = tuple(body["shape"]) if array is None else array.shape  # a listing without values gives the shape
    fields = {key: body[key] for key in ("id", "model", "model_version", "name", "source", "created", "expires")}
    return SavedLatent(**fields, kind=LatentKind(body["kind"]), shape=shape, values=array)


def _saved_pb(message: pb.SavedLatent) -> SavedLatent:
    return SavedLatent(
        id=message.id,
        model=message.model,
        model_version=message.model_version,
        kind=KINDS_OF_PB[message.kind],
        shape=tuple(message.shape),
        name=message.name,
        source=json_format.MessageToDict(message.source),
        created=message.created,
        expires=message.expires if message.HasField("expires") else None,
        values=_tensor(message.values) if message.HasField("values") else None,
    )


# -- the operations ----------------------------------------------------------------------------
def list_models() -> Call:
    def from_pb(response: pb.ListModelsResponse) -> list[ModelInfo]:
        models = []
        for m in response.models:
            fields = json_format.MessageToDict(m, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
            fields["layer_groups"] = {name: list(group.indices) for name, group in m.layer_groups.items()}
            fields["source"] = json_format.MessageToDict(m.source)
            models.append(from_known_fields(ModelInfo, fields))
        return models

    return Call(
        HttpCall("GET", "/v1/models", lambda r: [from_known_fields(ModelInfo, m) for m in r.json()["models"]]),
        GrpcCall("ListModels", pb.ListModelsRequest(), from_pb),
    )


def generate(
    model: str, latents: Sequence[LatentLike], options: Options, fmt: ImageFormat, include_ws: bool, grid: bool, columns: int | None
) -> Call:
    items = [_checked(latent, f"latents[{i}]") for i, latent in enumerate(latents)]
    request = pb.GenerateRequest(
        model=model,
        latents=[_latent_pb(latent) for latent in items],
        options=_options_pb(options),
        format=PB_FORMATS[ImageFormat(fmt)],
        include_ws=include_ws,
        grid=grid,
        grid_columns=columns or 0,
    )
    grpc_call = GrpcCall("Generate", request, lambda response: [_image_pb(m) for m in response.images])
    if _http_format(fmt) is None:
        return Call(None, grpc_call)
    body = {"latents": [_latent_json(latent) for latent in items], **_options_json(options), "format": _http_format(fmt)}
    body.update(include_ws=include_ws, output="grid" if grid else "json", columns=columns)

    def from_http(response) -> list[Image]:
        return [_image_bytes(response)] if grid else [_image_json(entry) for entry in response.json()["images"]]

    return Call(HttpCall("POST", f"/v1/models/{model}/images", from_http, json=body), grpc_call)


def interpolate(
    model: str,
    keyframes: Sequence[LatentLike],
    frames: int,
    space: Space,
    loop: bool,
    options: Options,
    fmt: ImageFormat,
    include_ws: bool,
    latents_only: bool,
) -> Call:
    items = [_checked(latent, f"keyframes[{i}]") for i, latent in enumerate(keyframes)]
    request = pb.InterpolateRequest(
        model=model,
        keyframes=[_latent_pb(latent) for latent in items],
        frames=frames,
        space=pb.INTERPOLATION_SPACE_Z if Space(space) == Space.z else pb.INTERPOLATION_SPACE_W,
        loop=loop,
        options=_options_pb(options),
        format=PB_FORMATS[ImageFormat(fmt)],
        include_ws=include_ws,
        latents_only=latents_only,
    )

    def from_pb(message: pb.Frame) -> Frame:
        image = _image_pb(message.image) if message.HasField("image") else None
        return Frame(message.index, message.count, image, _tensor(message.ws) if message.HasField("ws") else None)

    grpc_call = GrpcCall("Interpolate", request, from_pb)
    if _http_format(fmt) is None and not latents_only:
        return Call(None, grpc_call, stream=True)
    body = {"keyframes": [_latent_json(latent) for latent in items], "frames": frames, "space": str(space), "loop": loop}
    body.update(_options_json(options), output="latents" if latents_only else "frames", format=_http_format(fmt) or "png")
    body["include_ws"] = include_ws

    def from_http(response) -> list[Frame]:
        if latents_only:
            ws = response.json()["ws"]
            return [Frame(i, len(ws), None, np.asarray(w, np.float32)) for i, w in enumerate(ws)]
        entries = response.json()["frames"]
        return [Frame(i, len(entries), image, image.ws) for i, image in enumerate(map(_image_json, entries))]

    return Call(HttpCall("POST", f"/v1/models/{model}/interpolations", from_http, json=body), grpc_call, stream=True)


def mix(
    model: str,
    rows: Sequence[LatentLike],
    columns: Sequence[LatentLike],
    layers: str | Sequence[int],
    options: Options,
    fmt: ImageFormat,
    include_ws: bool,
    grid: bool,
) -> Call:
    row_items = [_checked(x, f"rows[{i}]") for i, x in enumerate(rows)]
    column_items = [_checked(x, f"columns[{i}]") for i, x in enumerate(columns)]
    spec = layer_spec(layers)
    request = pb.MixRequest(
        model=model,
        rows=[_latent_pb(x) for x in row_items],
        columns=[_latent_pb(x) for x in column_items],
        layers=spec,
        options=_options_pb(options),
        format=PB_FORMATS[ImageFormat(fmt)],
        include_ws=include_ws,
        grid=grid,
    )

    def from_pb(response: pb.MixResponse) -> MixResult:
        cells = [MixCell(cell.row, cell.column, _image_pb(cell.image)) for cell in response.cells]
        return MixResult(list(response.layers), cells, _image_pb(response.grid) if response.HasField("grid") else None)

    grpc_call = GrpcCall("Mix", request, from_pb)
    if _http_format(fmt) is None:
        return Call(None, grpc_call)
    body: dict[str, Any] = {"rows": [_latent_json(x) for x in row_items], "columns": [_latent_json(x) for x in column_items]}
    body["layers"] = spec
    body.update(_options_json(options), format=_http_format(fmt), include_ws=include_ws, output="grid" if grid else "cells")

    def from_http(response) -> MixResult:
        if grid:
            layers_header = response.headers.get("x-mix-layers", "")
            return MixResult([int(i) for i in layers_header.split(",") if i], [], _image_bytes(response))
        body = response.json()
        cells = [MixCell(cell["row"], cell["column"], _image_json(cell)) for cell in body["cells"]]
        return MixResult(body["layers"], cells)

    return Call(HttpCall("POST", f"/v1/models/{model}/mixes", from_http, json=body), grpc_call)


def list_directions(model: str) -> Call:
    def from_pb(response: pb.ListDirectionsResponse) -> list[Direction]:
        # unset optional fields (explained_variance, eigenvalue) are left out, and so None
        options = {"preserving_proto_field_name": True, "always_print_fields_with_no_presence": True}
        return [from_known_fields(Direction, json_format.MessageToDict(d, **options)) for d in response.directions]

    return Call(
        HttpCall("GET", f"/v1/models/{model}/directions", lambda r: [from_known_fields(Direction, d) for d in r.json()["directions"]]),
        GrpcCall("ListDirections", pb.ListDirectionsRequest(model=model), from_pb),
    )


def children(
    model: str,
    parent: LatentLike,
    count: int,
    spread: float,
    layers: str | Sequence[int],
    seed: int,
    options: Options,
    fmt: ImageFormat,
    include_parent: bool,
    latents_only: bool,
    grid: bool,
    columns: int | None,
) -> Call:
    item, spec = _checked(parent, "parent"), layer_spec(layers)
    request = pb.ChildrenRequest(
        model=model,
        parent=_latent_pb(item),
        count=count,
        spread=spread,
        layers=spec,
        seed=seed,
        options=_options_pb(options),
        format=PB_FORMATS[ImageFormat(fmt)],
        include_parent=include_parent,
        latents_only=latents_only,
        grid=grid,
        grid_columns=columns or 0,
    )

    def from_pb(response: pb.ChildrenResponse) -> ChildrenResult:
        images, ws = [_image_pb(m) for m in response.images], [_tensor(m) for m in response.ws]
        return ChildrenResult([], ws, images[0]) if grid and images else ChildrenResult(images, ws)

    grpc_call = GrpcCall("Children", request, from_pb)
    if _http_format(fmt) is None and not latents_only:
        return Call(None, grpc_call)
    body: dict[str, Any] = {"parent": _latent_json(item), "count": count, "spread": spread, "layers": spec, "seed": seed}
    body.update(_options_json(options), format=_http_format(fmt) or "png", include_parent=include_parent, columns=columns)
    body["output"] = "latents" if latents_only else "grid" if grid else "list"

    def from_http(response) -> ChildrenResult:
        if latents_only:
            return ChildrenResult([], [np.asarray(w, np.float32) for w in response.json()["ws"]])
        if grid:
            return ChildrenResult([], [], _image_bytes(response))  # a grid image over HTTP carries no ws
        images = [_image_json(entry) for entry in response.json()["images"]]
        return ChildrenResult(images, [image.ws for image in images if image.ws is not None])

    return Call(HttpCall("POST", f"/v1/models/{model}/children", from_http, json=body), grpc_call)


def save_latent(
    model: str,
    latent: LatentLike,
    kind: LatentKind | None,
    psi: float,
    cutoff: int | None,
    class_: int | str | None,
    name: str,
    ttl_s: float | None,
) -> Call:
    item = _checked(latent, "latent")
    request = pb.SaveLatentRequest(
        model=model, latent=_latent_pb(item), kind=PB_KINDS[kind] if kind else pb.LATENT_KIND_UNSPECIFIED, psi=psi, name=name
    )
    if cutoff is not None:
        request.cutoff = cutoff
    if ttl_s is not None:
        request.ttl_s = ttl_s
    _set_class(request, class_)
    body = {"model": model, "latent": _latent_json(item), "kind": kind and str(kind), "psi": psi, "cutoff": cutoff, "class": class_}
    body.update(name=name, ttl_s=ttl_s)
    body = {key: value for key, value in body.items() if value is not None}
    http = HttpCall("POST", "/v1/latents", lambda r: _saved_json(r.json()), json=body)
    return Call(http, GrpcCall("SaveLatent", request, _saved_pb), writes=True)


def get_latent(id: str) -> Call:
    return Call(
        HttpCall("GET", f"/v1/latents/{id}", lambda r: _saved_json(r.json())),
        GrpcCall("GetLatent", pb.GetLatentRequest(id=id), _saved_pb),
    )


def delete_latent(id: str) -> Call:
    return Call(
        HttpCall("DELETE", f"/v1/latents/{id}", lambda r: None),
        GrpcCall("DeleteLatent", pb.DeleteLatentRequest(id=id), lambda r: None),
        writes=True,  # a second try after one that went through would answer NotFound
    )


def list_latents(model: str | None, limit: int | None, cursor: str | None, include_values: bool) -> Call:
    params = {"model": model, "limit": limit, "cursor": cursor, "include_values": str(include_values).lower()}
    request = pb.ListLatentsRequest(model=model or "", limit=limit or 0, cursor=cursor or "", include_values=include_values)

    def from_http(response) -> LatentPage:
        body = response.json()
        return LatentPage([_saved_json(entry) for entry in body["latents"]], body["next_cursor"])

    def from_pb(response: pb.ListLatentsResponse) -> LatentPage:
        return LatentPage([_saved_pb(m) for m in response.latents], response.next_cursor or None)

    http_params = {key: value for key, value in params.items() if value is not None}
    return Call(HttpCall("GET", "/v1/latents", from_http, params=http_params), GrpcCall("ListLatents", request, from_pb))


PB_PROJECTION_STATES = {
    pb.PROJECTION_STATE_QUEUED: ProjectionState.queued,
    pb.PROJECTION_STATE_RUNNING: ProjectionState.running,
    pb.PROJECTION_STATE_SUCCEEDED: ProjectionState.succeeded,
    pb.PROJECTION_STATE_FAILED: ProjectionState.failed,
    pb.PROJECTION_STATE_CANCELLED: ProjectionState.cancelled,
}


def _projection_pb(message: pb.ProjectionEvent) -> ProjectionEvent:
    return ProjectionEvent(
        id=message.id,
        state=PB_PROJECTION_STATES[message.state],
        step=message.step,
        steps=message.steps,
        loss=message.loss if message.HasField("loss") else None,
        psnr=message.psnr if message.HasField("psnr") else None,
        elapsed_s=message.elapsed_s,
        preview=message.preview_png or None,
        latent_id=message.latent_id or None,
        error=message.error or None,
    )


def _projection_json(body: dict, id: str | None = None) -> ProjectionEvent:
    """A job (GET /v1/projections/{id}) or one of its events (whose preview is a data URL)."""
    preview = body.get("preview")
    return ProjectionEvent(
        id=id or body["id"],
        state=ProjectionState(body["state"]),
        step=body["step"],
        steps=body["steps"],
        loss=body.get("loss"),
        psnr=body.get("psnr"),
        elapsed_s=body.get("elapsed_s", 0.0),
        preview=base64.b64decode(preview.partition(",")[2]) if preview else None,
        latent_id=body.get("latent_id"),
        error=body.get("error"),
    )


def project(model: str, image: bytes, steps: int, space: str, seed: int, class_: int | str | None, preview_every: int, name: str) -> Call:
    if space not in ("w", "w+"):
        raise InvalidInput(f"space: w or w+, not {space!r}", "space")
    request = pb.ProjectRequest(
        model=model,
        image=image,
        steps=steps,
        space=pb.PROJECTION_SPACE_W_PLUS if space == "w+" else pb.PROJECTION_SPACE_W,
        seed=seed,
        preview_every=preview_every,
        name=name,
    )
    if isinstance(class_, int):
        request.class_index = class_
    elif class_ is not None:
        request.class_name = class_
    params: dict[str, Any] = {"steps": steps, "space": space, "seed": seed, "preview_every": preview_every, "name": name}
    if class_ is not None:
        params["class"] = class_
    first: dict[str, str] = {}

    def submitted(response) -> ProjectionEvent:
        body = response.json()
        first["id"] = body["id"]
        return _projection_json(body)

    http = HttpCall(
        "POST",
        f"/v1/models/{model}/projections",
        submitted,
        params=params,
        content=image,
        events_path=lambda response: response.json()["events_url"],
        parse_event=lambda body: _projection_json(body, first["id"]),
    )
    return Call(http, GrpcCall("Project", request, _projection_pb), stream=True, writes=True)


def get_projection(id: str) -> Call:
    return Call(
        HttpCall("GET", f"/v1/projections/{id}", lambda r: _projection_json(r.json())),
        GrpcCall("GetProjection", pb.GetProjectionRequest(id=id), _projection_pb),
    )


def cancel_projection(id: str) -> Call:
    return Call(
        HttpCall("DELETE", f"/v1/projections/{id}", lambda r: _projection_json(r.json())),
        GrpcCall("CancelProjection", pb.GetProjectionRequest(id=id), _projection_pb),
    )
