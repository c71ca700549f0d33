"""ganserve.v1.Generator over a real gRPC connection, on both engines (the `client` fixture's app
serves gRPC beside HTTP): every RPC succeeds with the same result as the same HTTP request, and
every bad input gets the status code and field it should."""

from __future__ import annotations

import base64
import io
import math
import time

import grpc
import httpx
import numpy as np
import pytest
from PIL import Image

from conftest import COND_MODEL, LONG_WALK, await_metric, metric
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

DEMO = "demo64"


@pytest.fixture(scope="module")
def stub(client):
    with grpc.insecure_channel(client.grpc_target, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        yield ganserve_pb2_grpc.GeneratorStub(channel)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def http_images(client, body: dict, model: str = DEMO) -> list[bytes]:
    response = client.post(f"/v1/models/{model}/images", json=body)
    assert response.status_code == 200, response.text
    return [base64.b64decode(entry["data"]) for entry in response.json()["images"]]


def tensor(values) -> pb.FloatTensor:
    array = np.asarray(values, np.float32)
    return pb.FloatTensor(shape=list(array.shape), values=array.ravel().tolist())


def test_list_models_matches_http(client, stub):
    models = {m.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
    for expected in client.get("/v1/models").json()["models"]:
        got = models[expected["name"]]
        assert (got.version, got.num_ws, got.w_dim, got.c_dim, got.resolution) == tuple(
            expected[k] for k in ("version", "num_ws", "w_dim", "c_dim", "resolution")
        )
        assert {name: list(g.indices) for name, g in got.layer_groups.items()} == expected["layer_groups"]
        assert list(got.class_names) == expected["class_names"]
        assert got.default == expected["default"]
        precision = got.precision if got.HasField("precision") else None
        assert (got.engine, precision, got.precision_reason) == (expected["engine"], expected["precision"], expected["precision_reason"])


def test_generate_equals_http_for_every_latent_kind(client, stub):
    rng = np.random.default_rng(0)
    z, w = rng.standard_normal(256), rng.standard_normal(256)
    ws = rng.standard_normal((10, 256))
    latents = [pb.Latent(seed=7), pb.Latent(z=tensor(z)), pb.Latent(w=tensor(w)), pb.Latent(ws=tensor(ws))]
    options = pb.GenerationOptions(psi=0.7, cutoff=6)
    response = stub.Generate(pb.GenerateRequest(model=DEMO, latents=latents, options=options))
    json_latents = [{"seed": 7}, {"z": tensor(z).values[:]}, {"w": tensor(w).values[:]}, {"ws": np.float32(ws).tolist()}]
    expected = http_images(client, {"latents": json_latents, "psi": 0.7, "cutoff": 6})
    assert [image.data for image in response.images] == expected  # the same PNG bytes
    assert all(list(image.shape) == [64, 64, 3] and image.media_type == "image/png" for image in response.images)


def test_raw_pixels_equal_the_png(client, stub):
    request = pb.GenerateRequest(model=DEMO, latents=[pb.Latent(seed=s) for s in (1, 2)], format=pb.IMAGE_FORMAT_RAW)
    raw = stub.Generate(request).images
    request.format = pb.IMAGE_FORMAT_PNG
    png = stub.Generate(request).images
    for r, p in zip(raw, png, strict=True):
        assert r.media_type == "application/octet-stream"
        np.testing.assert_array_equal(np.frombuffer(r.data, np.uint8).reshape(tuple(r.shape)), pixels(p.data))


def test_conditional_random_noise_include_ws_and_grid(client, stub):
    options = pb.GenerationOptions(psi=0.5, class_name="dog", noise=pb.NOISE_MODE_RANDOM, noise_seed=11)
    request = pb.GenerateRequest(model=COND_MODEL, latents=[pb.Latent(seed=s) for s in (3, 4, 5)], options=options, include_ws=True)
    response = stub.Generate(request)
    body = {"latents": [{"seed": s} for s in (3, 4, 5)], "psi": 0.5, "class": "dog", "noise": "random", "noise_seed": 11}
    http = client.post(f"/v1/models/{COND_MODEL}/images", json={**body, "include_ws": True}).json()["images"]
    assert [image.data for image in response.images] == [base64.b64decode(entry["data"]) for entry in http]
    for image, entry in zip(response.images, http, strict=True):
        np.testing.assert_array_equal(np.asarray(image.ws.values).reshape(tuple(image.ws.shape)), np.float32(entry["ws"]))
    request.grid, request.grid_columns, request.format = True, 2, pb.IMAGE_FORMAT_JPEG
    (grid,) = stub.Generate(request).images
    http_grid = client.post(f"/v1/models/{COND_MODEL}/images", json={**body, "output": "grid", "columns": 2, "format": "jpg"})
    assert grid.data == http_grid.content and grid.media_type == "image/jpeg"


def test_interpolate_streams_the_http_frames_in_order(client, stub):
    request = pb.InterpolateRequest(
        model=DEMO, keyframes=[pb.Latent(seed=s) for s in (1, 2, 3)], frames=9, loop=True, options=pb.GenerationOptions(psi=0.8)
    )
    frames = list(stub.Interpolate(request))
    assert [(f.index, f.count) for f in frames] == [(i, 9) for i in range(9)]
    body = {"keyframes": [{"seed": s} for s in (1, 2, 3)], "frames": 9, "loop": True, "psi": 0.8, "output": "frames", "format": "png"}
    http = client.post(f"/v1/models/{DEMO}/interpolations", json=body).json()["frames"]
    assert [f.image.data for f in frames] == [base64.b64decode(entry["data"]) for entry in http]


def test_interpolate_in_z_latents_only(client, stub):
    request = pb.InterpolateRequest(
        model=DEMO, keyframes=[pb.Latent(seed=4), pb.Latent(seed=5)], frames=5, space=pb.INTERPOLATION_SPACE_Z, latents_only=True
    )
    frames = list(stub.Interpolate(request))
    assert all(not f.HasField("image") for f in frames)
    body = {"keyframes": [{"seed": 4}, {"seed": 5}], "frames": 5, "space": "z", "output": "latents"}
    expected = np.float32(client.post(f"/v1/models/{DEMO}/interpolations", json=body).json()["ws"])
    np.testing.assert_array_equal(np.stack([np.reshape(f.ws.values, tuple(f.ws.shape)) for f in frames]), expected)


def test_mix_cells_and_grid_equal_http(client, stub):
    request = pb.MixRequest(model=DEMO, rows=[pb.Latent(seed=1), pb.Latent(seed=2)], columns=[pb.Latent(seed=3)], layers="0-3")
    response = stub.Mix(request)
    assert list(response.layers) == [0, 1, 2, 3]
    assert [(c.row, c.column) for c in response.cells] == [(0, 0), (1, 0)]
    body = {"rows": [{"seed": 1}, {"seed": 2}], "columns": [{"seed": 3}], "layers": "0-3", "output": "cells"}
    http = client.post(f"/v1/models/{DEMO}/mixes", json=body).json()
    assert [c.image.data for c in response.cells] == [base64.b64decode(cell["data"]) for cell in http["cells"]]
    request.grid = True
    grid = stub.Mix(request)
    assert not grid.cells and grid.grid.data == client.post(f"/v1/models/{DEMO}/mixes", json={**body, "output": "grid"}).content


def test_saved_latents_round_trip(client, stub):
    saved = stub.SaveLatent(pb.SaveLatentRequest(model=DEMO, latent=pb.Latent(seed=9), kind=pb.LATENT_KIND_W, psi=0.6, name="nine"))
    assert (saved.kind, list(saved.shape), saved.name, saved.source["seed"]) == (pb.LATENT_KIND_W, [256], "nine", 9)
    assert not saved.HasField("expires")
    over_http = client.get(f"/v1/latents/{saved.id}").json()
    np.testing.assert_array_equal(np.float32(saved.values.values), np.float32(over_http["values"]))
    got = stub.GetLatent(pb.GetLatentRequest(id=saved.id))
    assert list(got.values.values) == list(saved.values.values)
    page = stub.ListLatents(pb.ListLatentsRequest(model=DEMO, limit=100))
    assert saved.id in [entry.id for entry in page.latents] and not page.latents[0].HasField("values")
    # A saved latent generates what its seed gives with the same psi.
    by_id = stub.Generate(pb.GenerateRequest(model=DEMO, latents=[pb.Latent(id=saved.id)])).images[0].data
    by_seed = stub.Generate(pb.GenerateRequest(model=DEMO, latents=[pb.Latent(seed=9)], options=pb.GenerationOptions(psi=0.6)))
    assert by_id == by_seed.images[0].data
    stub.DeleteLatent(pb.DeleteLatentRequest(id=saved.id))
    with pytest.raises(grpc.RpcError) as error:
        stub.GetLatent(pb.GetLatentRequest(id=saved.id))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def _seeds(*seeds):
    return [pb.Latent(seed=s) for s in seeds]


def edit(direction: str, strength: float, layers: str = "") -> pb.Edit:
    return pb.Edit(direction=direction, strength=strength, layers=layers)


def test_list_directions_matches_http(client, stub):
    for model in (DEMO, COND_MODEL):
        listed = stub.ListDirections(pb.ListDirectionsRequest(model=model)).directions
        expected = client.get(f"/v1/models/{model}/directions").json()["directions"]
        assert [d.id for d in listed] == [d["id"] for d in expected]
        for got, want in zip(listed, expected, strict=True):
            assert (got.method, got.layers, list(got.layer_indices), got.sigma) == (
                want["method"],
                want["layers"],
                want["layer_indices"],
                want["sigma"],
            )
            assert (got.eigenvalue if got.HasField("eigenvalue") else None) == want["eigenvalue"]
            assert (got.explained_variance if got.HasField("explained_variance") else None) == want["explained_variance"]


def test_edits_on_every_call_equal_http(client, stub):
    edits = [edit("ganspace-1", 2.0), edit("sefa-coarse-0", -1.5, "coarse")]
    json_edits = [{"direction": "ganspace-1", "strength": 2.0}, {"direction": "sefa-coarse-0", "strength": -1.5, "layers": "coarse"}]
    response = stub.Generate(
        pb.GenerateRequest(model=DEMO, latents=[pb.Latent(seed=8, edits=edits)], options=pb.GenerationOptions(psi=0.8))
    )
    assert response.images[0].data == http_images(client, {"latents": [{"seed": 8, "edits": json_edits}], "psi": 0.8})[0]
    assert (
        response.images[0].data
        == client.get(f"/v1/models/{DEMO}/seeds/8.png?psi=0.8&edit=ganspace-1:2&edit=sefa-coarse-0:-1.5@coarse").content
    )
    keyframes = [pb.Latent(seed=1, edits=edits), pb.Latent(seed=2)]
    frames = list(stub.Interpolate(pb.InterpolateRequest(model=DEMO, keyframes=keyframes, frames=3)))
    body = {"keyframes": [{"seed": 1, "edits": json_edits}, {"seed": 2}], "frames": 3, "output": "frames", "format": "png"}
    http_frames = client.post(f"/v1/models/{DEMO}/interpolations", json=body).json()["frames"]
    assert [f.image.data for f in frames] == [base64.b64decode(f["data"]) for f in http_frames]
    mixed = stub.Mix(pb.MixRequest(model=DEMO, rows=[pb.Latent(seed=3, edits=edits)], columns=_seeds(4), grid=True))
    http_grid = client.post(f"/v1/models/{DEMO}/mixes", json={"rows": [{"seed": 3, "edits": json_edits}], "columns": [{"seed": 4}]})
    assert mixed.grid.data == http_grid.content
    saved = stub.SaveLatent(pb.SaveLatentRequest(model=DEMO, latent=pb.Latent(seed=5, edits=edits)))
    assert saved.kind == pb.LATENT_KIND_WS  # sefa-coarse-0 moved only the coarse layers
    assert (
        http_images(client, {"latents": [{"id": saved.id}]})[0] == http_images(client, {"latents": [{"seed": 5, "edits": json_edits}]})[0]
    )


def test_children_equal_http(client, stub):
    parent = pb.Latent(seed=6, edits=[edit("ganspace-0", 1.0)])
    json_parent = {"seed": 6, "edits": [{"direction": "ganspace-0", "strength": 1.0}]}
    request = pb.ChildrenRequest(model=DEMO, parent=parent, count=3, spread=0.7, layers="middle", seed=4, include_parent=True)
    response = stub.Children(request)
    body = {"parent": json_parent, "count": 3, "spread": 0.7, "layers": "middle", "seed": 4, "include_parent": True}
    listed = client.post(f"/v1/models/{DEMO}/children", json={**body, "output": "list"}).json()["images"]
    assert [image.data for image in response.images] == [base64.b64decode(entry["data"]) for entry in listed]
    for message, image, entry in zip(response.ws, response.images, listed, strict=True):
        np.testing.assert_array_equal(np.asarray(message.values, np.float32).reshape(10, 256), np.float32(entry["ws"]))
        assert list(image.ws.shape) == [10, 256]
    grid = stub.Children(
        pb.ChildrenRequest(model=DEMO, parent=parent, count=3, spread=0.7, layers="middle", seed=4, include_parent=True, grid=True)
    )
    assert grid.images[0].data == client.post(f"/v1/models/{DEMO}/children", json=body).content
    only = stub.Children(pb.ChildrenRequest(model=DEMO, parent=parent, count=3, spread=0.7, layers="middle", seed=4, latents_only=True))
    assert not only.images and [list(t.values) for t in only.ws] == [list(t.values) for t in response.ws[1:]]
    default = stub.Children(pb.ChildrenRequest(model=DEMO, parent=pb.Latent(seed=6), latents_only=True))
    expected = client.post(f"/v1/models/{DEMO}/children", json={"parent": {"seed": 6}, "output": "latents"}).json()["ws"]
    np.testing.assert_array_equal(
        np.stack([np.asarray(t.values, np.float32) for t in default.ws]).reshape(-1, 10, 256), np.float32(expected)
    )


INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
BAD_REQUESTS = {
    "unknown model": ("Generate", pb.GenerateRequest(model="nope", latents=_seeds(1)), NOT_FOUND, "model"),
    "no latents": ("Generate", pb.GenerateRequest(model=DEMO), INVALID, "latents"),
    "empty latent": ("Generate", pb.GenerateRequest(model=DEMO, latents=[pb.Latent()]), INVALID, "latents[0]"),
    "short z": ("Generate", pb.GenerateRequest(model=DEMO, latents=[pb.Latent(z=tensor([1, 2]))]), INVALID, "latents[0].z"),
    "ws without shape": (
        "Generate",
        pb.GenerateRequest(model=DEMO, latents=[pb.Latent(ws=pb.FloatTensor(values=[0] * 2560))]),
        INVALID,
        "latents[0].ws.shape",
    ),
    "ws rows": ("Generate", pb.GenerateRequest(model=DEMO, latents=[pb.Latent(ws=tensor(np.zeros((3, 256))))]), INVALID, "latents[0].ws"),
    "infinite w": ("Generate", pb.GenerateRequest(model=DEMO, latents=[pb.Latent(w=tensor([math.inf] * 256))]), INVALID, "latents[0].w"),
    "too many": ("Generate", pb.GenerateRequest(model=DEMO, latents=_seeds(*range(9))), INVALID, "latents"),
    "bad id": ("Generate", pb.GenerateRequest(model=DEMO, latents=[pb.Latent(id="no/such")]), INVALID, "latents[0].id"),
    "unknown id": ("Generate", pb.GenerateRequest(model=DEMO, latents=[pb.Latent(id="zzzzzz")]), NOT_FOUND, "latents[0].id"),
    "nan psi": ("Generate", pb.GenerateRequest(model=DEMO, latents=_seeds(1), options=pb.GenerationOptions(psi=math.nan)), INVALID, "psi"),
    "cutoff": ("Generate", pb.GenerateRequest(model=DEMO, latents=_seeds(1), options=pb.GenerationOptions(cutoff=99)), INVALID, "cutoff"),
    "class on unconditional": (
        "Generate",
        pb.GenerateRequest(model=DEMO, latents=_seeds(1), options=pb.GenerationOptions(class_index=1)),
        INVALID,
        "class",
    ),
    "missing class": ("Generate", pb.GenerateRequest(model=COND_MODEL, latents=_seeds(1)), INVALID, "class"),
    "unknown class": (
        "Generate",
        pb.GenerateRequest(model=COND_MODEL, latents=_seeds(1), options=pb.GenerationOptions(class_name="horse")),
        INVALID,
        "class",
    ),
    "translate on StyleGAN2": (
        "Generate",
        pb.GenerateRequest(model=DEMO, latents=_seeds(1), options=pb.GenerationOptions(translate=pb.Translation(x=0.2))),
        INVALID,
        "translate",
    ),
    "nan rotate": (
        "Generate",
        pb.GenerateRequest(model=DEMO, latents=_seeds(1), options=pb.GenerationOptions(rotate=math.nan)),
        INVALID,
        "rotate",
    ),
    "unknown format": ("Generate", pb.GenerateRequest(model=DEMO, latents=_seeds(1), format=42), INVALID, "format"),
    "unknown noise": (
        "Generate",
        pb.GenerateRequest(model=DEMO, latents=_seeds(1), options=pb.GenerationOptions(noise=9)),
        INVALID,
        "options.noise",
    ),
    "one keyframe": ("Interpolate", pb.InterpolateRequest(model=DEMO, keyframes=_seeds(1)), INVALID, "keyframes"),
    "too many frames": ("Interpolate", pb.InterpolateRequest(model=DEMO, keyframes=_seeds(1, 2), frames=17), INVALID, "frames"),
    "w keyframe in z": (
        "Interpolate",
        pb.InterpolateRequest(
            model=DEMO, keyframes=[pb.Latent(w=tensor(np.zeros(256))), pb.Latent(seed=1)], space=pb.INTERPOLATION_SPACE_Z
        ),
        INVALID,
        "keyframes[0]",
    ),
    "unknown layers": ("Mix", pb.MixRequest(model=DEMO, rows=_seeds(1), columns=_seeds(2), layers="teeth"), INVALID, "layers"),
    "too many rows": ("Mix", pb.MixRequest(model=DEMO, rows=_seeds(1, 2, 3, 4), columns=_seeds(2)), INVALID, "rows"),
    "no columns": ("Mix", pb.MixRequest(model=DEMO, rows=_seeds(1)), INVALID, "columns"),
    "kind z of a w": (
        "SaveLatent",
        pb.SaveLatentRequest(model=DEMO, latent=pb.Latent(w=tensor(np.zeros(256))), kind=pb.LATENT_KIND_Z),
        INVALID,
        "kind",
    ),
    "save to unknown model": ("SaveLatent", pb.SaveLatentRequest(model="nope", latent=pb.Latent(seed=1)), NOT_FOUND, "model"),
    "negative ttl": ("SaveLatent", pb.SaveLatentRequest(model=DEMO, latent=pb.Latent(seed=1), ttl_s=-1), INVALID, "ttl_s"),
    "unknown direction": (
        "Generate",
        pb.GenerateRequest(model=DEMO, latents=[pb.Latent(seed=1, edits=[pb.Edit(direction="nope", strength=1)])]),
        INVALID,
        "latents[0].edits[0].direction",
    ),
    "nan strength": (
        "Generate",
        pb.GenerateRequest(model=DEMO, latents=[pb.Latent(seed=1, edits=[pb.Edit(direction="ganspace-0", strength=math.nan)])]),
        INVALID,
        "latents[0].edits[0].strength",
    ),
    "huge strength": (
        "Mix",
        pb.MixRequest(model=DEMO, rows=_seeds(1), columns=[pb.Latent(seed=2, edits=[pb.Edit(direction="ganspace-0", strength=1e6)])]),
        INVALID,
        "columns[0].edits[0].strength",
    ),
    "edit layers": (
        "Interpolate",
        pb.InterpolateRequest(
            model=DEMO, keyframes=[pb.Latent(seed=1, edits=[pb.Edit(direction="ganspace-0", strength=1, layers="0-99")]), pb.Latent(seed=2)]
        ),
        INVALID,
        "keyframes[0].edits[0].layers",
    ),
    "too many edits": (
        "Generate",
        pb.GenerateRequest(model=DEMO, latents=[pb.Latent(seed=1, edits=[pb.Edit(direction="ganspace-0", strength=1)] * 17)]),
        INVALID,
        "latents[0].edits",
    ),
    "directions of unknown model": ("ListDirections", pb.ListDirectionsRequest(model="nope"), NOT_FOUND, "model"),
    "children without parent": ("Children", pb.ChildrenRequest(model=DEMO), INVALID, "parent"),
    "too many children": ("Children", pb.ChildrenRequest(model=DEMO, parent=pb.Latent(seed=1), count=9), INVALID, "count"),
    "children spread": ("Children", pb.ChildrenRequest(model=DEMO, parent=pb.Latent(seed=1), spread=math.inf), INVALID, "spread"),
    "children layers": ("Children", pb.ChildrenRequest(model=DEMO, parent=pb.Latent(seed=1), layers="fins"), INVALID, "layers"),
    "get unknown": ("GetLatent", pb.GetLatentRequest(id="zzzzzz"), NOT_FOUND, "id"),
    "delete unknown": ("DeleteLatent", pb.DeleteLatentRequest(id="zzzzzz"), NOT_FOUND, "id"),
    "page too large": ("ListLatents", pb.ListLatentsRequest(limit=100_000), INVALID, "limit"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_input_gets_its_status_and_field(stub, case):
    method, request, code, field = BAD_REQUESTS[case]
    call = getattr(stub, method)
    with pytest.raises(grpc.RpcError) as raised:
        result = call(request, timeout=30)
        if method == "Interpolate":
            list(result)
    error = raised.value
    assert error.code() == code, error.details()
    assert dict(error.trailing_metadata()).get("ganserve-field") == field
    assert error.details().startswith(f"{field}:"), error.details()


def test_oversized_message_is_refused(stub):
    huge = pb.Latent(ws=pb.FloatTensor(shape=[1024, 1024], values=np.zeros(1024 * 1024, np.float32).tolist()))
    with pytest.raises(grpc.RpcError) as raised:
        stub.Generate(pb.GenerateRequest(model=DEMO, latents=[huge]))
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_deadline_is_honoured_and_the_server_goes_on(frame_by_frame_server):
    """A deadline that passes mid-walk stops the walk on the server: the call is recorded as
    DEADLINE_EXCEEDED, no frame is synthesised after it (ganserve_images_total stops well short of the
    walk), and the next call is served."""
    server = frame_by_frame_server

    def images(text: str) -> float:
        return metric(text, "ganserve_images_total", model=DEMO)

    def calls(text: str, code: str) -> float:
        return metric(text, "ganserve_grpc_requests_total", method="Interpolate", code=code)

    before = httpx.get(f"{server.base_url}/metrics").text
    request = pb.InterpolateRequest(model=DEMO, keyframes=_seeds(1, 2), frames=LONG_WALK, format=pb.IMAGE_FORMAT_RAW)
    received = 0
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            for _ in stub.Interpolate(request, timeout=1.0):
                received += 1
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert received > 0  # the call reached the server and the walk had begun
        expected = calls(before, "DEADLINE_EXCEEDED") + 1
        ended = await_metric(server.base_url, "ganserve_grpc_requests_total", expected, method="Interpolate", code="DEADLINE_EXCEEDED")
        time.sleep(0.5)
        after = httpx.get(f"{server.base_url}/metrics").text
        made, when_it_ended = images(after) - images(before), images(ended) - images(before)
        assert made == when_it_ended, f"frames were still synthesised after the deadline: {when_it_ended}, then {made}"
        assert received <= made < LONG_WALK // 2, f"{made} of {LONG_WALK} frames synthesised"
        assert [calls(after, code) - calls(before, code) for code in ("DEADLINE_EXCEEDED", "CANCELLED", "OK")] == [1, 0, 0]
        assert len(stub.Generate(pb.GenerateRequest(model=DEMO, latents=_seeds(1)), timeout=30).images) == 1
