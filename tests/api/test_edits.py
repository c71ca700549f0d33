"""Edits on every route, the directions listing and children, over HTTP on both engines."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from conftest import COND_MODEL, assert_error
from tolerances import assert_same_image

DEMO = "/v1/models/demo64"


def pixels(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content))).astype(np.int16)


def images(client, latents: list[dict], model: str = DEMO, **extra) -> list[np.ndarray]:
    response = client.post(f"{model}/images", json={"latents": latents, "include_ws": True, **extra})
    assert response.status_code == 200, response.text
    return [pixels(base64.b64decode(entry["data"])) for entry in response.json()["images"]]


def edited(seed: int, *edits: tuple[str, float] | tuple[str, float, str]) -> dict:
    return {"seed": seed, "edits": [dict(zip(("direction", "strength", "layers"), edit, strict=False)) for edit in edits]}


def test_directions_are_listed_with_their_scales(client):
    body = client.get(f"{DEMO}/directions").json()
    found = {d["id"]: d for d in body["directions"]}
    assert body["model"] == "demo64"
    assert found["ganspace-0"]["method"] == "ganspace" and found["ganspace-0"]["explained_variance"] > 0
    assert found["sefa-coarse-0"]["layer_indices"] == [0, 1, 2, 3] and found["sefa-coarse-0"]["eigenvalue"] > 0
    assert all(d["sigma"] > 0 for d in found.values())
    conditional = {d["id"] for d in client.get(f"/v1/models/{COND_MODEL}/directions").json()["directions"]}
    assert {"class-0-1", "class-1-0"} <= conditional and not any(i.startswith("class") for i in found)


def test_strength_zero_gives_the_same_bytes_as_no_edit(client):
    plain = client.get(f"{DEMO}/seeds/42.png")
    zero = client.get(f"{DEMO}/seeds/42.png", params={"edit": ["ganspace-0:0", "sefa-fine-1:0@fine"]})
    assert zero.content == plain.content
    body = client.post(f"{DEMO}/images", json={"latents": [{"seed": 42}, edited(42, ("ganspace-3", 0.0))]}).json()
    assert body["images"][0]["data"] == body["images"][1]["data"]


def test_the_pixel_change_grows_with_the_strength(client):
    plain = images(client, [{"seed": 7}])[0]
    changes = [np.abs(image - plain).mean() for image in images(client, [edited(7, ("ganspace-1", s)) for s in (0.5, 1, 2, 4)])]
    assert changes == sorted(changes) and changes[0] > 0, changes
    negative = images(client, [edited(7, ("ganspace-1", -2))])[0]
    assert not np.array_equal(negative, images(client, [edited(7, ("ganspace-1", 2))])[0])


def test_an_edit_moves_only_its_layers(client):
    body = client.post(f"{DEMO}/images", json={"latents": [{"seed": 5}, edited(5, ("ganspace-2", 3, "fine"))], "include_ws": True}).json()
    before, after = (np.array(entry["ws"]) for entry in body["images"])
    moved = np.abs(after - before).max(axis=1) > 0
    assert moved.tolist() == [False] * 8 + [True] * 2  # fine: ws 8 and 9 at 64x64
    sefa = client.post(f"{DEMO}/images", json={"latents": [edited(5, ("sefa-coarse-0", 3))], "include_ws": True}).json()
    assert (np.abs(np.array(sefa["images"][0]["ws"]) - before).max(axis=1) > 0).tolist() == [True] * 4 + [False] * 6


def test_edits_apply_after_truncation_in_units_of_sigma(client):
    direction = next(d for d in client.get(f"{DEMO}/directions").json()["directions"] if d["id"] == "ganspace-4")
    body = {"latents": [{"seed": 9}, edited(9, ("ganspace-4", 2.5))], "psi": 0.5, "include_ws": True}
    before, after = (np.array(entry["ws"]) for entry in client.post(f"{DEMO}/images", json=body).json()["images"])
    step = after - before  # the same on every layer, whatever psi did before
    assert np.linalg.norm(step[0]) == pytest.approx(2.5 * direction["sigma"], rel=1e-5)
    np.testing.assert_allclose(step, np.broadcast_to(step[0], step.shape), atol=1e-5)


def test_stable_urls_take_edits_in_the_etag(client):
    # Without edits a URL keeps its tag: test_stable_images.py pins the formula.
    plain = client.get(f"{DEMO}/seeds/11.png")
    edit = client.get(f"{DEMO}/seeds/11.png?edit=ganspace-3:2.5@coarse")
    other = client.get(f"{DEMO}/seeds/11.png?edit=ganspace-3:2.5@fine")
    assert len({plain.headers["etag"], edit.headers["etag"], other.headers["etag"]}) == 3
    assert client.get(f"{DEMO}/seeds/11.png?edit=ganspace-3:2.5@0-3").headers["etag"] == edit.headers["etag"]  # the same layers
    assert client.get(f"{DEMO}/seeds/11.png?edit=ganspace-3:2.5@coarse", headers={"If-None-Match": edit.headers["etag"]}).status_code == 304
    np.testing.assert_array_equal(pixels(edit.content), images(client, [edited(11, ("ganspace-3", 2.5, "coarse"))])[0])
    two = client.get(f"{DEMO}/seeds/11.png", params={"edit": ["ganspace-3:2.5@coarse", "sefa-all-0:-1"]})
    np.testing.assert_array_equal(pixels(two.content), images(client, [edited(11, ("ganspace-3", 2.5, "coarse"), ("sefa-all-0", -1))])[0])


def test_interpolation_keyframes_carry_their_edits(client):
    keyframes = [edited(1, ("ganspace-0", 3)), {"seed": 2}]
    body = client.post(f"{DEMO}/interpolations", json={"keyframes": keyframes, "frames": 3, "output": "frames", "format": "png"}).json()
    first, middle, last = (pixels(base64.b64decode(f["data"])) for f in body["frames"])
    ends = images(client, keyframes)
    # Frames are made three at a time, the ends two at a time: the same ws, other batch sizes.
    assert_same_image(first, ends[0], "first frame")
    assert_same_image(last, ends[1], "last frame")
    latents = client.post(f"{DEMO}/interpolations", json={"keyframes": keyframes, "frames": 3, "output": "latents"}).json()["ws"]
    start, half, end = (np.array(ws) for ws in latents)
    np.testing.assert_allclose(half, (start + end) / 2, atol=1e-5)  # the edit's offset is walked too
    spherical = client.post(
        f"{DEMO}/interpolations", json={"keyframes": keyframes, "frames": 3, "space": "z", "output": "frames", "format": "png"}
    )
    assert_same_image(pixels(base64.b64decode(spherical.json()["frames"][0]["data"])), ends[0], "first frame of a walk in z")


def test_mix_rows_and_columns_carry_their_edits(client):
    rows, columns = [edited(1, ("ganspace-0", 3))], [edited(3, ("ganspace-5", -3))]
    body = {"rows": rows, "columns": columns, "layers": "coarse", "output": "cells", "include_ws": True}
    cell = np.array(client.post(f"{DEMO}/mixes", json=body).json()["cells"][0]["ws"])
    row_ws, column_ws = (
        np.array(entry["ws"])
        for entry in client.post(f"{DEMO}/images", json={"latents": rows + columns, "include_ws": True}).json()["images"]
    )
    np.testing.assert_array_equal(cell[:4], column_ws[:4])
    np.testing.assert_array_equal(cell[4:], row_ws[4:])
    grid = pixels(client.post(f"{DEMO}/mixes", json={"rows": rows, "columns": columns}).content)
    np.testing.assert_array_equal(grid[:64, 64:128], images(client, columns)[0])  # the edited column source
    np.testing.assert_array_equal(grid[64:, :64], images(client, rows)[0])


def test_saved_latents_keep_their_edits(client):
    saved = client.post("/v1/latents", json={"model": "demo64", "latent": edited(4, ("ganspace-1", 2))}).json()
    assert saved["kind"] == "w" and saved["source"]["edits"] == [{"direction": "ganspace-1", "strength": 2.0}]
    np.testing.assert_array_equal(
        pixels(client.get(f"{DEMO}/latents/{saved['id']}.png").content), images(client, [edited(4, ("ganspace-1", 2))])[0]
    )
    partial = client.post("/v1/latents", json={"model": "demo64", "latent": edited(4, ("ganspace-1", 2, "fine"))}).json()
    assert partial["kind"] == "ws"
    # An edit on a saved latent: the saved one, moved again.
    again = images(client, [{"id": saved["id"], "edits": [{"direction": "ganspace-1", "strength": 1}]}])[0]
    np.testing.assert_array_equal(again, images(client, [edited(4, ("ganspace-1", 2), ("ganspace-1", 1))])[0])
    response = client.post("/v1/latents", json={"model": "demo64", "latent": edited(4, ("ganspace-1", 2)), "kind": "z"})
    assert_error(response, 422, "latent.edits")


def test_a_class_direction_moves_images_toward_that_class(client):
    # Random reference weights, so no classifier to ask: the mean image of each class stands in.
    model = f"/v1/models/{COND_MODEL}"
    seeds = [{"seed": s} for s in range(8)]
    mean_target = np.mean(images(client, seeds, model, **{"class": 3}), axis=0)
    source = np.stack(images(client, seeds, model, **{"class": 1}))
    moved = np.stack(images(client, [{**s, "edits": [{"direction": "class-1-3", "strength": 1}]} for s in seeds], model, **{"class": 1}))
    before = np.abs(source - mean_target).mean()
    after = np.abs(moved - mean_target).mean()
    assert after < 0.8 * before, (before, after)


def test_children_are_reproducible_variations_of_the_parent(client):
    body = {"parent": {"seed": 3}, "count": 4, "spread": 0.5, "seed": 1, "output": "latents"}
    first = np.array(client.post(f"{DEMO}/children", json=body).json()["ws"])
    again = np.array(client.post(f"{DEMO}/children", json=body).json()["ws"])
    other = np.array(client.post(f"{DEMO}/children", json={**body, "seed": 2}).json()["ws"])
    np.testing.assert_array_equal(first, again)
    assert first.shape == (4, 10, 256) and not np.allclose(first, other)
    parent = np.array(client.post(f"{DEMO}/images", json={"latents": [{"seed": 3}], "include_ws": True}).json()["images"][0]["ws"])
    distance = np.linalg.norm(first[:, 0] - parent[0], axis=1)
    wider = np.linalg.norm(np.array(client.post(f"{DEMO}/children", json={**body, "spread": 1.0}).json()["ws"])[:, 0] - parent[0], axis=1)
    np.testing.assert_allclose(wider, 2 * distance, rtol=1e-4)  # the move scales with the spread
    copies = np.array(client.post(f"{DEMO}/children", json={**body, "spread": 0}).json()["ws"])
    np.testing.assert_array_equal(copies, np.broadcast_to(parent, copies.shape))


def test_children_as_a_list_a_grid_and_only_some_layers(client):
    body = {"parent": edited(3, ("ganspace-0", 2)), "count": 3, "seed": 5, "layers": "fine", "include_parent": True}
    listed = client.post(f"{DEMO}/children", json={**body, "output": "list"}).json()["images"]
    assert len(listed) == 4
    parent_image = images(client, [body["parent"]])[0]
    np.testing.assert_array_equal(pixels(base64.b64decode(listed[0]["data"])), parent_image)
    ws = np.array([entry["ws"] for entry in listed])
    assert np.array_equal(ws[1:, :8], np.broadcast_to(ws[0, :8], (3, 8, 256))) and not np.allclose(ws[1:, 8:], ws[0, 8:])
    grid = pixels(client.post(f"{DEMO}/children", json={**body, "columns": 4}).content)
    assert grid.shape == (64, 256, 3)
    for i, entry in enumerate(listed):
        np.testing.assert_array_equal(grid[:, 64 * i : 64 * (i + 1)], pixels(base64.b64decode(entry["data"])))
    # Any child can be saved, and gives the same image back.
    saved = client.post("/v1/latents", json={"model": "demo64", "latent": {"ws": listed[2]["ws"]}}).json()
    np.testing.assert_array_equal(
        pixels(client.get(f"{DEMO}/latents/{saved['id']}.png").content), pixels(base64.b64decode(listed[2]["data"]))
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latents": [edited(1, ("nope-3", 1))]}, "latents[0].edits[0].direction"),
        ({"latents": [{"seed": 1}, edited(1, ("ganspace-99", 1))]}, "latents[1].edits[0].direction"),
        ({"latents": [{"seed": 1, "edits": [{"direction": "ganspace-0", "strength": "NaN"}]}]}, "latents[0].edits[0].strength"),
        ({"latents": [edited(1, ("ganspace-0", 101))]}, "latents[0].edits[0].strength"),
        ({"latents": [edited(1, ("ganspace-0", 1, "ultra"))]}, "latents[0].edits[0].layers"),
        ({"latents": [edited(1, ("ganspace-0", 1, "0-10"))]}, "latents[0].edits[0].layers"),
        ({"latents": [edited(1, ("ganspace-0", 1, [12]))]}, "latents[0].edits[0].layers"),
        ({"latents": [edited(1, *[("ganspace-0", 1)] * 17)]}, "latents[0].edits"),
        ({"latents": [{"seed": 1, "edits": [{"direction": "ganspace-0"}]}]}, "latents[0].edits[0].strength"),
        ({"latents": [{"seed": 1, "edits": [{"direction": "Bad Id!", "strength": 1}]}]}, "latents[0].edits[0].direction"),
    ],
)
def test_bad_edits_are_rejected_naming_the_field(client, body, field):
    assert_error(client.post(f"{DEMO}/images", json=body), 422, field)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("interpolations", {"keyframes": [{"seed": 1}, edited(2, ("nope", 1))]}, "keyframes[1].edits[0].direction"),
        ("mixes", {"rows": [{"seed": 1}], "columns": [edited(2, ("ganspace-0", 1, "x"))]}, "columns[0].edits[0].layers"),
        ("children", {"parent": edited(2, ("nope", 1))}, "parent.edits[0].direction"),
        ("children", {"parent": {"seed": 1}, "count": 9}, "count"),  # max_images is 8 in the tests
        ("children", {"parent": {"seed": 1}, "count": 8, "include_parent": True}, "count"),
        ("children", {"parent": {"seed": 1}, "spread": -1}, "spread"),
        ("children", {"parent": {"seed": 1}, "layers": "9-3"}, "layers"),
        ("children", {"count": 2}, "parent"),
    ],
)
def test_bad_edits_and_children_on_other_routes(client, path, body, field):
    assert_error(client.post(f"{DEMO}/{path}", json=body), 422, field)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("edit=ganspace-0", "edit[0]"),
        ("edit=ganspace-0:abc", "edit[0].strength"),
        ("edit=ganspace-0:inf", "edit[0].strength"),
        ("edit=ganspace-0:1&edit=nope:1", "edit[1].direction"),
        ("edit=ganspace-0:1@fine-ish", "edit[0].layers"),
    ],
)
def test_bad_edits_in_stable_urls(client, query, field):
    assert_error(client.get(f"{DEMO}/seeds/1.png?{query}"), 422, field)
