"""ganserve_client against a running `ganserve serve`: every operation round-trips over HTTP and
gRPC, sync and async, with the same results on both transports, and failures arrive as the same
exception classes naming the same fields."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from conftest import COND_MODEL
from ganserve_client import AsyncClient, Client, ImageFormat, InvalidInput, Latent, LatentKind, NotFound, Unavailable

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
    ],
)
def test_invalid_input_names_the_field(url, call, field):
    with Client(url) as client, pytest.raises(InvalidInput) as raised:
        call(client)
    assert raised.value.field == field and field in raised.value.message


def test_unknown_model(url):
    with Client(url) as client, pytest.raises(NotFound) as raised:
        client.generate("nope", [1])
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


def test_leaving_a_stream_early_cancels_it_on_the_server(live_server):
    def cancelled() -> float:
        for line in httpx.get(f"{live_server.base_url}/metrics").text.splitlines():
            if line.startswith('ganserve_grpc_requests_total{code="CANCELLED",method="Interpolate"}'):
                return float(line.split()[-1])
        return 0.0

    before = cancelled()
    with Client(f"grpc://{live_server.grpc_target}") as client:
        walk = client.interpolate(DEMO, [1, 2], frames=16, format="raw")
        assert next(walk).index == 0
        walk.close()  # leaving the loop: the generator closes and cancels the call
    for _ in range(50):
        if cancelled() > before:
            break
        asyncio.run(asyncio.sleep(0.1))
    assert cancelled() == before + 1


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
