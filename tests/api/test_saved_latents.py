"""/v1/latents: saved latents on the SQLite store and on a real, durable redis-server (killed and
restarted here: 503 with Retry-After while it is down, then service resumes by itself)."""

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import COND_MODEL, assert_error
from ganserve import latents
from ganserve.api.app import create_app
from ganserve.store import new_id
from ganserve_bench.processes import RedisServer

URL = "/v1/latents"
PAGE_MAX = 5


@pytest.fixture(scope="module")
def redis_store(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("latent-store"), durable=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def api(request, settings, tmp_path_factory) -> TestClient:
    if request.param == "redis":
        store = {"redis_store_url": request.getfixturevalue("redis_store").url}
    else:
        store = {"redis_store_url": None, "latents_path": tmp_path_factory.mktemp("latents") / "latents.sqlite3"}
    settings = settings.model_copy(update={**store, "store_timeout_s": 0.25, "max_saved_latents_page": PAGE_MAX})
    with TestClient(create_app(settings)) as client:
        yield client


def save(api, **body) -> dict:
    response = api.post(URL, json={"model": "demo64", **body})
    assert response.status_code == 201, response.text
    saved = response.json()
    assert response.headers["location"] == f"{URL}/{saved['id']}"
    return saved


def final_ws(api, latent, **options) -> np.ndarray:
    body = {"latents": [latent], "include_ws": True, **options}
    return np.asarray(api.post("/v1/models/demo64/images", json=body).json()["images"][0]["ws"], dtype=np.float32)


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def test_save_a_seed_as_z_w_or_ws(api):
    version = api.get("/v1/models/demo64").json()["version"]
    z = save(api, latent={"seed": 42}, name="forty-two")
    assert z["kind"] == "z" and z["name"] == "forty-two" and z["source"] == {"seed": 42}
    assert z["model"] == "demo64" and z["model_version"] == version and z["expires"] is None
    assert abs(z["created"] - time.time()) < 60
    np.testing.assert_array_equal(f32(z["values"]), latents.seeds_to_z([42], 256)[0])

    w = save(api, latent={"seed": 42}, kind="w", psi=0.7)
    assert w["source"] == {"seed": 42, "psi": 0.7}
    np.testing.assert_array_equal(f32(w["values"]), final_ws(api, {"seed": 42}, psi=0.7)[0])

    ws = save(api, latent={"seed": 42}, kind="ws", psi=0.7, cutoff=4)
    assert ws["source"] == {"seed": 42, "psi": 0.7, "cutoff": 4} and np.shape(ws["values"]) == (10, 256)
    np.testing.assert_array_equal(f32(ws["values"]), final_ws(api, {"seed": 42}, psi=0.7, cutoff=4))

    # What was saved generates what the seed does.
    by_saved = api.post("/v1/models/demo64/images", json={"latents": [{"ws": ws["values"]}], "output": "grid"}).content
    assert by_saved == api.get("/v1/models/demo64/seeds/42.png?psi=0.7&cutoff=4").content


def test_save_explicit_z_w_and_ws_bit_for_bit(api):
    z, w = latents.seeds_to_z([7], 256)[0], np.random.default_rng(0).standard_normal(256).astype(np.float32)
    ws = np.random.default_rng(1).standard_normal((10, 256)).astype(np.float32)
    saved = save(api, latent={"z": z.tolist()})
    assert saved["kind"] == "z" and saved["source"] == {"explicit": "z"}
    np.testing.assert_array_equal(f32(saved["values"]), z)
    saved = save(api, latent={"w": w.tolist()})
    assert saved["kind"] == "w" and saved["source"] == {"explicit": "w", "psi": 1.0}
    assert f32(saved["values"]).tobytes() == w.tobytes()
    saved = save(api, latent={"ws": ws.tolist()})
    assert saved["kind"] == "ws" and f32(saved["values"]).tobytes() == ws.tobytes()
    # w as ws (every layer), and a ws whose layers are equal as w.
    assert f32(save(api, latent={"w": w.tolist()}, kind="ws")["values"]).tobytes() == np.tile(w, (10, 1)).tobytes()
    assert f32(save(api, latent={"ws": [w.tolist()] * 10}, kind="w")["values"]).tobytes() == w.tobytes()
    # A conditional model, by class name: the class index is recorded.
    cond = api.post(URL, json={"model": COND_MODEL, "latent": {"seed": 3}, "kind": "w", "class": "dog"}).json()
    assert cond["model"] == COND_MODEL and cond["source"] == {"seed": 3, "psi": 1.0, "class": 1}


def test_default_app_serves_saved_latents(client):
    """Through the session's app (embedded engine and Triton; SQLite store): a seed's w is what /images maps."""
    saved = save(client, latent={"seed": 8}, kind="w")
    np.testing.assert_array_equal(f32(saved["values"]), final_ws(client, {"seed": 8})[0])
    assert client.get(f"{URL}/{saved['id']}").json() == saved


def test_save_from_a_saved_latent(api):
    z = save(api, latent={"seed": 12})
    w = save(api, latent={"id": z["id"]}, kind="w", psi=0.5)
    assert w["source"] == {"saved": z["id"], "psi": 0.5}
    np.testing.assert_array_equal(f32(w["values"]), final_ws(api, {"seed": 12}, psi=0.5)[0])
    assert save(api, latent={"id": z["id"]})["values"] == z["values"]
    assert_error(api.post(URL, json={"model": "demo64", "latent": {"id": new_id()}}), 404, "latent.id")
    assert_error(api.post(URL, json={"model": COND_MODEL, "latent": {"id": z["id"]}}), 422, "latent.id")
    assert_error(api.post(URL, json={"model": "demo64", "latent": {"id": w["id"]}, "kind": "z"}), 422, "kind")


def test_save_an_interpolation_frame(api):
    body = {"keyframes": [{"seed": 1}, {"seed": 2}], "frames": 5, "output": "latents", "psi": 0.5}
    frame = api.post("/v1/models/demo64/interpolations", json=body).json()["ws"][2]
    saved = save(api, latent={"ws": frame})
    assert api.get(f"{URL}/{saved['id']}").json()["values"] == frame


def test_get_list_and_delete(api):
    ids = [save(api, latent={"seed": s}, name=f"s{s}")["id"] for s in range(7)]
    cond = api.post(URL, json={"model": COND_MODEL, "latent": {"seed": 0}}).json()
    assert api.get(f"{URL}/{ids[3]}").json()["name"] == "s3"

    def walk(query):
        entries, cursor, pages = [], None, 0
        while True:
            page = api.get(URL, params={**query, **({"cursor": cursor} if cursor else {})}).json()
            assert len(page["latents"]) <= query.get("limit", PAGE_MAX)
            entries, cursor, pages = entries + page["latents"], page["next_cursor"], pages + 1
            if cursor is None:
                return entries, pages

    everything, pages = walk({"limit": 2})
    assert pages == (len(everything) + 1) // 2
    created = [(e["created"], e["id"]) for e in everything]
    assert created == sorted(created, reverse=True)  # newest first, every item once
    listed = [e["id"] for e in everything]
    assert len(set(listed)) == len(listed) and listed[0] == cond["id"]
    assert [i for i in listed if i in ids] == ids[::-1]
    entry = next(e for e in everything if e["id"] == ids[0])
    assert entry["values"] is None and entry["shape"] == [256] and entry["kind"] == "z"

    by_model, _ = walk({"model": COND_MODEL, "include_values": "true"})
    assert {e["model"] for e in by_model} == {COND_MODEL} and by_model[0]["values"] == cond["values"]
    assert api.get(URL, params={"model": "nobody"}).json() == {"latents": [], "next_cursor": None}

    response = api.delete(f"{URL}/{ids[3]}")
    assert response.status_code == 204 and not response.content
    assert_error(api.get(f"{URL}/{ids[3]}"), 404, "id")
    assert_error(api.delete(f"{URL}/{ids[3]}"), 404, "id")
    assert ids[3] not in [e["id"] for e in walk({})[0]]


def test_ttl_expires(api):
    saved = save(api, latent={"seed": 5}, ttl_s=0.3)
    assert saved["expires"] == pytest.approx(saved["created"] + 0.3)
    assert api.get(f"{URL}/{saved['id']}").status_code == 200
    time.sleep(0.35)
    assert_error(api.get(f"{URL}/{saved['id']}"), 404, "id")


BAD_BODIES = [
    ({"model": "nope", "latent": {"seed": 1}}, 404, "model"),
    ({"latent": {"seed": 1}}, 422, "model"),
    ({"model": "demo64"}, 422, "latent"),
    ({"model": "demo64", "latent": {}}, 422, "latent"),
    ({"model": "demo64", "latent": {"seed": 1, "z": [0.0]}}, 422, "latent"),
    ({"model": "demo64", "latent": {"seed": -1}}, 422, "latent.seed"),
    ({"model": "demo64", "latent": {"z": [0.5] * 255}}, 422, "latent.z"),
    pytest.param(
        {"model": "demo64", "latent": {"z": [1e39] * 256}},  # inf as float32
        422,
        "latent.z",
        marks=pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning"),  # numpy warns, then _finite refuses
    ),
    ({"model": "demo64", "latent": {"w": [0.5] * 257}}, 422, "latent.w"),
    ({"model": "demo64", "latent": {"ws": [[0.5] * 256] * 9}}, 422, "latent.ws"),
    ({"model": "demo64", "latent": {"ws": [[0.5] * 256] * 3 + [[0.5] * 255] + [[0.5] * 256] * 6}}, 422, "latent.ws[3]"),
    ({"model": "demo64", "latent": {"w": [0.5] * 256}, "kind": "z"}, 422, "kind"),
    ({"model": "demo64", "latent": {"ws": [[0.5] * 256, [0.25] * 256] * 5}, "kind": "w"}, 422, "kind"),
    ({"model": "demo64", "latent": {"seed": 1}, "kind": "w", "psi": 0.5, "cutoff": 4}, 422, "kind"),
    ({"model": "demo64", "latent": {"seed": 1}, "kind": "q"}, 422, "kind"),
    ({"model": "demo64", "latent": {"seed": 1}, "psi": 0.5}, 422, "psi"),  # kind z: no truncation
    ({"model": "demo64", "latent": {"seed": 1}, "kind": "ws", "psi": 11}, 422, "psi"),
    ({"model": "demo64", "latent": {"seed": 1}, "kind": "ws", "cutoff": 11}, 422, "cutoff"),
    ({"model": "demo64", "latent": {"seed": 1}, "kind": "w", "class": 1}, 422, "class"),
    ({"model": COND_MODEL, "latent": {"seed": 1}, "kind": "w"}, 422, "class"),
    ({"model": "demo64", "latent": {"seed": 1}, "ttl_s": 0}, 422, "ttl_s"),
    ({"model": "demo64", "latent": {"seed": 1}, "name": "x" * 201}, 422, "name"),
    ({"model": "demo64", "latent": {"seed": 1}, "colour": "red"}, 422, "colour"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_BODIES)
def test_bad_saves_name_the_field(api, body, status, field):
    assert_error(api.post(URL, json=body), status, field)


def test_nan_is_refused(api):
    body = '{"model": "demo64", "latent": {"w": [NaN' + ", 0.5" * 255 + "]}}"
    assert_error(api.post(URL, content=body, headers={"content-type": "application/json"}), 422, "latent.w")


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": 0}, "limit"), ({"limit": PAGE_MAX + 1}, "limit"), ({"limit": "many"}, "limit"), ({"cursor": "bad"}, "cursor")],
)
def test_bad_list_queries_name_the_field(api, query, field):
    assert_error(api.get(URL, params=query), 422, field)


@pytest.mark.parametrize("id", [new_id(), "not-an-id", "x" * 300])
def test_unknown_ids_are_404(api, id):
    assert_error(api.get(f"{URL}/{id}"), 404, "id")
    assert_error(api.delete(f"{URL}/{id}"), 404, "id")


@pytest.mark.parametrize("api", ["redis"], indirect=True)
def test_redis_down_answers_503_then_recovers(api, redis_store):
    server = redis_store
    saved = save(api, latent={"seed": 9})
    server.kill()
    try:
        for response in (
            api.post(URL, json={"model": "demo64", "latent": {"seed": 9}}),
            api.get(f"{URL}/{saved['id']}"),
            api.get(URL),
            api.delete(f"{URL}/{saved['id']}"),
        ):
            error = assert_error(response, 503)
            assert error["code"] == "store_unavailable" and "saved-latent store unavailable" in error["message"]
            assert response.headers["retry-after"] == "1"
        assert api.get("/v1/models/demo64/seeds/9.png").status_code == 200  # images do not need the store
    finally:
        server.start()
    assert api.get(f"{URL}/{saved['id']}").json() == saved  # the first request after the restart
    save(api, latent={"seed": 9})


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_saved_latents_survive_gateway_and_redis_restarts_and_generate(settings, tmp_path, backend):
    """Acknowledged saves are still there after the gateway restarts and Redis is killed (-9) and
    restarted, and they generate the same image as before."""
    server = RedisServer(tmp_path / "redis", durable=True).start() if backend == "redis" else None
    store = {"redis_store_url": server.url} if server else {"redis_store_url": None, "latents_path": tmp_path / "latents.sqlite3"}
    settings = settings.model_copy(update=store)
    try:
        with TestClient(create_app(settings)) as first_gateway:
            saved = [save(first_gateway, latent={"seed": seed}, kind=kind) for seed in range(5) for kind in ("z", "w", "ws")]
            images = [first_gateway.get(f"/v1/models/demo64/latents/{s['id']}.png").content for s in saved]
        if server:
            server.kill()
            server.start()
        with TestClient(create_app(settings)) as second_gateway:
            for latent, image in zip(saved, images, strict=True):
                assert second_gateway.get(f"{URL}/{latent['id']}").json() == latent
                assert second_gateway.get(f"/v1/models/demo64/latents/{latent['id']}.png").content == image
            listed = second_gateway.get(URL, params={"model": "demo64", "limit": PAGE_MAX}).json()
            assert listed["latents"] and listed["next_cursor"]
    finally:
        if server:
            server.stop()
