"""ganserve_client against a running `ganserve serve`: every operation round-trips over HTTP and
gRPC, sync and async, with the same results on both transports, and failures arrive as the same
exception classes naming the same fields."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import pytest

from conftest import COND_MODEL, LONG_WALK, await_metric, metric
from ganserve_client import AsyncClient, Client, Edit, ImageFormat, InvalidInput, Latent, LatentKind, NotFound, Unavailable

DEMO = "demo64"


@pytest.fixture(scope="module", params=["http", "grpc"])
def url(request, live_server) -> str:
    return live_server.base_url if request.param == "http" else f"grpc://{live_server.grpc_target}"


@pytest.fixture(scope="module")
def urls(live_server) -> dict[str, str]:
    return {"http": live_server.base_url, "grpc": f"grpc://{live_server.grpc_target}"}


def test_models(url):
    with Client(url) as client:
        models = {m.name: m for m in client.models()}
    assert models[DEMO].num_ws == 10 and models[DEMO].layer_groups["coarse"] == [0, 1, 2, 3]
    assert models[COND_MODEL].class_names[1] == "dog"
    assert models[DEMO].default and not models[COND_MODEL].default
    assert models[DEMO].precision == "f32" and models[DEMO].precision_reason  # the engine's arithmetic, and why


def test_generate_every_latent_kind_the_same_over_both_transports(urls):
    rng = np.random.default_rng(1)
    latents = [3, Latent.z(rng.standard_normal(256)), Latent.w(rng.standard_normal(256)), Latent.ws(rng.standard_normal((10, 256)))]
    results = {}
    for name, url in urls.items():
        with Client(url) as client:
            results[name] = client.generate(DEMO, latents, psi=0.7, include_ws=True)
    for http, grpc in zip(results["http"], results["grpc"], strict=True):
        assert http.data == grpc.data and http.media_type == grpc.media_type == "image/png"
        np.testing.assert_array_equal(http.ws, grpc.ws)
        assert grpc.array().shape == (64, 64, 3)


def test_raw_pixels_over_grpc_only(urls):
    with Client(urls["grpc"]) as client:
        (raw,) = client.generate(COND_MODEL, [4], class_="cat", format="raw")
        (png,) = client.generate(COND_MODEL, [4], class_="cat")
    np.testing.assert_array_equal(raw.array(), png.array())
    with Client(urls["http"]) as client, pytest.raises(InvalidInput) as raised:
        client.generate(COND_MODEL, [4], class_="cat", format=ImageFormat.raw)
    assert raised.value.field == "format"


def test_interpolate_and_mix_the_same_over_both_transports(urls):
    walks, mixes, grids = {}, {}, {}
    for name, url in urls.items():
        with Client(url) as client:
            walks[name] = list(client.interpolate(DEMO, [1, 2, 3], frames=7, loop=True, psi=0.8, include_ws=True))
            mixes[name] = client.mix(DEMO, [1, 2], [3, 4], layers=[0, 1, 2], include_ws=True)
            grids[name] = client.mix(DEMO, [1, 2], [3, 4], layers="middle", grid=True, format="webp")
            middle = next(m for m in client.models() if m.name == DEMO).layer_groups["middle"]
    assert [f.index for f in walks["grpc"]] == list(range(7)) and {f.count for f in walks["grpc"]} == {7}
    for http, grpc in zip(walks["http"], walks["grpc"], strict=True):
        assert http.image.data == grpc.image.data
        np.testing.assert_array_equal(http.ws, grpc.ws)
    assert mixes["http"].layers == mixes["grpc"].layers == [0, 1, 2]
    assert [(c.row, c.column, c.image.data) for c in mixes["http"].cells] == [(c.row, c.column, c.image.data) for c in mixes["grpc"].cells]
    assert grids["http"].grid.data == grids["grpc"].grid.data and grids["http"].layers == grids["grpc"].layers == middle


def test_saved_latents_round_trip(url):
    with Client(url) as client:
        saved = client.save_latent(DEMO, 21, kind="w", psi=0.5, name="twenty-one", ttl_s=3600)
        assert (saved.kind, saved.shape, saved.name, saved.source["seed"]) == (LatentKind.w, (256,), "twenty-one", 21)
        assert saved.expires > saved.created
        assert np.array_equal(client.get_latent(saved.id).values, saved.values)
        page = client.list_latents(DEMO, limit=50)
        assert saved.id in [entry.id for entry in page.latents] and page.latents[0].values is None
        (by_id,) = client.generate(DEMO, [saved])  # a SavedLatent is taken as its id
        (by_seed,) = client.generate(DEMO, [21], psi=0.5)
        assert by_id.data == by_seed.data
        walk = list(client.interpolate(DEMO, [saved, Latent.saved(saved.id)], frames=2, latents_only=True))
        assert [f.image for f in walk] == [None, None] and np.allclose(walk[0].ws, walk[1].ws)
        client.delete_latent(saved.id)
        with pytest.raises(NotFound) as raised:
            client.get_latent(saved.id)
    assert raised.value.field == "id"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.generate(DEMO, [Latent.z([1.0, 2.0])]), "latents[0].z"),
        (lambda c: c.generate(DEMO, [1], psi=float("nan")), "psi"),
        (lambda c: c.generate(COND_MODEL, [1], class_="horse"), "class"),
        (lambda c: list(c.interpolate(DEMO, [1, 2], frames=99)), "frames"),
        (lambda c: c.mix(DEMO, [1], [2], layers="teeth"), "layers"),
        (lambda c: c.generate(DEMO, [Latent.seed(1).edited("nope-0", 1.0)]), "latents[0].edits[0].direction"),
        (lambda c: c.generate(DEMO, [1, Latent.seed(1).edited("ganspace-0", 1.0, "teeth")]), "latents[1].edits[0].layers"),
        (lambda c: c.generate(DEMO, [Latent.seed(1).edited("ganspace-0", 1.0).edited("ganspace-1", 1e3)]), "latents[0].edits[1].strength"),
        (lambda c: c.generate(DEMO, [Latent.seed(1).edited("ganspace-0", float("nan"))]), "latents[0].edits[0].strength"),
        (lambda c: c.generate(DEMO, [Latent("seed", 1, (Edit("ganspace-0", 0.1),) * 17)]), "latents[0].edits"),
        (lambda c: list(c.interpolate(DEMO, [1, Latent.seed(2).edited("nope-0", 1.0)], frames=2)), "keyframes[1].edits[0].direction"),
        (lambda c: c.mix(DEMO, [1], [Latent.seed(2).edited("nope-0", 1.0)]), "columns[0].edits[0].direction"),
        (lambda c: c.save_latent(DEMO, Latent.seed(2).edited("nope-0", 1.0)), "latent.edits[0].direction"),
        (lambda c: c.children(DEMO, Latent.seed(1).edited("ganspace-0", 1.0, [0, 99])), "parent.edits[0].layers"),
        (lambda c: c.children(DEMO, 1, count=8, include_parent=True), "count"),
        (lambda c: c.children(DEMO, 1, count=0), "count"),
        (lambda c: c.children(DEMO, 1, spread=float("inf")), "spread"),
        (lambda c: c.children(DEMO, 1, layers="teeth"), "layers"),
    ],
)
def test_invalid_input_names_the_field(url, call, field):
    with Client(url) as client, pytest.raises(InvalidInput) as raised:
        call(client)
    assert raised.value.field == field and field in raised.value.message


def test_unknown_model(url):
    with Client(url) as client:
        for call in (lambda: client.generate("nope", [1]), lambda: client.directions("nope"), lambda: client.children("nope", 1)):
            with pytest.raises(NotFound) as raised:
                call()
            assert raised.value.field == "model"


def test_unreachable_server_is_unavailable():
    for url in ("http://127.0.0.1:9", "grpc://127.0.0.1:9"):
        with Client(url, timeout=5) as client, pytest.raises(Unavailable):
            client.models()


def test_async_client_has_the_same_results(urls):
    async def run(url: str):
        async with AsyncClient(url) as client:
            models = await client.models()
            images = await client.generate(DEMO, [5, 6], psi=0.6, noise="random", noise_seed=3)
            frames = [frame async for frame in client.interpolate(DEMO, [5, 6], frames=4)]
            mixed = await client.mix(DEMO, [5], [6])
            saved = await client.save_latent(DEMO, 5)
            got = await client.get_latent(saved.id)
            page = await client.list_latents(DEMO)
            await client.delete_latent(saved.id)
            with pytest.raises(NotFound):
                await client.get_latent(saved.id)
            return models, images, frames, mixed, got, page

    with Client(urls["grpc"]) as client:
        expected_images = client.generate(DEMO, [5, 6], psi=0.6, noise="random", noise_seed=3)
        expected_frames = list(client.interpolate(DEMO, [5, 6], frames=4))
    for url in urls.values():
        models, images, frames, mixed, got, page = asyncio.run(run(url))
        assert DEMO in [m.name for m in models]
        assert [i.data for i in images] == [i.data for i in expected_images]
        assert [f.image.data for f in frames] == [f.image.data for f in expected_frames]
        assert len(mixed.cells) == 1 and got.kind == LatentKind.z and got.values.shape == (256,)


def test_leaving_a_stream_early_cancels_it_on_the_server(frame_by_frame_server):
    """Closing a walk after its first frame cancels the call on the server, which then stops it: the
    call is recorded as CANCELLED (not as a deadline, nor OK), and the walk's synthesis stops well short
    of its frames (ganserve_images_total), where a server that went on would make them all."""
    server = frame_by_frame_server

    def images(text: str) -> float:
        return metric(text, "ganserve_images_total", model=DEMO)

    def calls(text: str, code: str) -> float:
        return metric(text, "ganserve_grpc_requests_total", method="Interpolate", code=code)

    before = httpx.get(f"{server.base_url}/metrics").text
    with Client(f"grpc://{server.grpc_target}") as client:
        walk = client.interpolate(DEMO, [1, 2], frames=LONG_WALK, format="raw")
        assert next(walk).index == 0
        walk.close()  # leaving the loop: the generator closes and cancels the call
    expected = calls(before, "CANCELLED") + 1
    ended = await_metric(server.base_url, "ganserve_grpc_requests_total", expected, method="Interpolate", code="CANCELLED")
    time.sleep(0.5)
    after = httpx.get(f"{server.base_url}/metrics").text
    made, when_it_ended = images(after) - images(before), images(ended) - images(before)
    assert made == when_it_ended, f"frames were still synthesised after the cancellation: {when_it_ended}, then {made}"
    assert 1 <= made < LONG_WALK // 2, f"{made} of {LONG_WALK} frames synthesised"
    assert [calls(after, code) - calls(before, code) for code in ("CANCELLED", "DEADLINE_EXCEEDED", "OK")] == [1, 0, 0]


def test_stylegan3_view_the_same_over_both_transports(urls):
    """translate/rotate reach the server over both transports and give the seed URL's image."""
    images = {}
    for name, url in urls.items():
        with Client(url) as client:
            (images[name],) = client.generate("sg3r", [6], class_=1, translate=(0.2, -0.1), rotate=25)
            walk = list(client.interpolate("sg3r", [6, 7], frames=2, class_=1, translate=(0.2, -0.1), rotate=25))
            assert walk[0].image.data == images[name].data
    assert images["http"].data == images["grpc"].data
    seed_url = httpx.get(f"{urls['http']}/v1/models/sg3r/seeds/6.png?class=1&translate=0.2,-0.1&rotate=25")
    assert seed_url.content == images["http"].data
    with Client(urls["grpc"]) as client, pytest.raises(InvalidInput) as raised:
        client.generate(DEMO, [6], rotate=25)
    assert raised.value.field == "rotate"


def test_directions_the_same_over_both_transports(urls):
    listings = {}
    for name, url in urls.items():
        with Client(url) as client:
            listings[name] = (client.directions(DEMO), client.directions(COND_MODEL))
    assert listings["http"] == listings["grpc"]  # ids, methods, layers, sigmas, scores: all of it
    demo, cond = listings["grpc"]
    by_id = {d.id: d for d in demo}
    first = by_id["ganspace-0"]
    assert (first.method, first.layers, first.layer_indices) == ("ganspace", "all", list(range(10)))
    assert first.sigma > 0 and 0 < first.explained_variance <= 1 and first.eigenvalue is None
    sefa = [d for d in demo if d.method == "sefa"]
    assert sefa and all(d.eigenvalue is not None and d.explained_variance is None for d in sefa)
    assert not any(d.method == "class" for d in demo) and any(d.method == "class" for d in cond)


def test_edits_and_children_the_same_over_both_transports(urls):
    edited = Latent.seed(7).edited("ganspace-0", 3.0).edited("ganspace-1", -2.0, "coarse")
    results = {}
    for name, url in urls.items():
        with Client(url) as client:
            images = client.generate(DEMO, [edited, Latent.seed(7).edited("ganspace-0", 0.0), 7], psi=0.8, include_ws=True)
            family = client.children(DEMO, edited, count=3, spread=0.7, layers=[0, 1, 2, 3], seed=5, include_parent=True, psi=0.8)
            grid = client.children(DEMO, 7, count=4, grid=True, columns=2, format="webp")
            results[name] = images, family, grid
    for images, family, grid in results.values():
        assert images[1].data == images[2].data and images[0].data != images[2].data  # strength 0 is no edit
        moved = images[0].ws - images[2].ws
        assert np.abs(moved).max() > 0 and np.abs(moved[4:] - moved[4]).max() < 1e-5  # ganspace-1 moved only coarse
        assert len(family.images) == len(family.ws) == 4 and family.grid is None
        assert family.images[0].data == images[0].data  # include_parent: the edited parent first
        np.testing.assert_array_equal(family.ws[0], images[0].ws)
        for child in family.ws[1:]:  # children vary only the layers asked for
            np.testing.assert_array_equal(child[4:], family.ws[0][4:])
            assert not np.allclose(child[:4], family.ws[0][:4])
        assert grid.images == [] and grid.grid.media_type == "image/webp"
    http, grpc = results["http"], results["grpc"]
    assert [i.data for i in http[0]] == [i.data for i in grpc[0]]
    assert [i.data for i in http[1].images] == [i.data for i in grpc[1].images]
    for a, b in zip(http[1].ws, grpc[1].ws, strict=True):
        np.testing.assert_array_equal(a, b)
    assert http[2].grid.data == grpc[2].grid.data
    assert len(grpc[2].ws) == 4 and http[2].ws == []  # a grid's ws come over gRPC only


def test_children_depend_only_on_their_seed(url):
    with Client(url) as client:
        first = client.children(DEMO, 3, count=4, seed=1, latents_only=True)
        again = client.children(DEMO, 3, count=4, seed=1, format="jpeg")
        other = client.children(DEMO, 3, count=4, seed=2, latents_only=True)
        copies = client.children(DEMO, 3, count=2, spread=0, include_parent=True, latents_only=True)
    assert first.images == [] and first.grid is None and [w.shape for w in first.ws] == [(10, 256)] * 4
    for a, b in zip(first.ws, again.ws, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [image.media_type for image in again.images] == ["image/jpeg"] * 4 and len({i.data for i in again.images}) == 4
    assert not any(np.allclose(a, b) for a, b in zip(first.ws, other.ws, strict=True))
    assert len(copies.ws) == 3 and all(np.array_equal(w, copies.ws[0]) for w in copies.ws)  # spread 0: the parent


def test_edited_latents_can_be_saved_and_bred(url):
    with Client(url) as client:
        edited = Latent.seed(11).edited("ganspace-2", 1.5, "0-5")
        saved = client.save_latent(DEMO, edited, psi=0.9)
        assert saved.kind == LatentKind.ws and saved.shape == (10, 256)  # an edit on some layers: ws
        (direct,) = client.generate(DEMO, [edited], psi=0.9)
        (by_id,) = client.generate(DEMO, [saved])
        assert by_id.data == direct.data
        child = client.children(DEMO, saved, count=1, spread=0.3, seed=4)
        assert len(child.images) == 1 and child.images[0].data != direct.data
        client.delete_latent(saved.id)


def test_edit_values():
    edit = Edit("ganspace-3", 2.5, [0, 2, 3])
    assert edit.layers == (0, 2, 3) and edit.layer_spec == "0,2,3" and Edit("sefa-fine-0", 1).layer_spec == ""
    latent = Latent.seed(4).edited("ganspace-3", 2.5, [0, 2, 3])
    assert latent.edits == (edit,) and Latent.seed(4).edits == () and hash(latent)
    assert latent.edited("ganspace-1", -1).edits[1] == Edit("ganspace-1", -1.0)


def test_async_client_edits_and_children(urls):
    async def run(url: str):
        async with AsyncClient(url) as client:
            directions = await client.directions(DEMO)
            family = await client.children(DEMO, Latent.seed(9).edited("ganspace-0", 1.0), count=2, seed=3, grid=True)
            return directions, family

    with Client(urls["http"]) as client:
        expected_directions = client.directions(DEMO)
        expected = client.children(DEMO, Latent.seed(9).edited("ganspace-0", 1.0), count=2, seed=3, grid=True)
    for url in urls.values():
        directions, family = asyncio.run(run(url))
        assert directions == expected_directions and family.grid.data == expected.grid.data
