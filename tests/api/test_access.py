"""API keys over HTTP, with keys required: every route but health enforces its scope (walked from
the OpenAPI description), saved latents are private to their owner for listing and deletion, and
the rate limits, quota, cost budget and concurrency cap hold at their documented defaults."""

import asyncio
import sqlite3
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import assert_error, make_keys
from ganserve.access.key_stores import SQLiteKeyStore
from ganserve.access.keys import Scope
from ganserve.api.app import create_app
from ganserve.settings import Settings
from ganserve.store import new_id
from ganserve.store.sqlite import SQLiteLatentStore
from ganserve.triton.local import free_port

OPEN_PATHS = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# What each route needs, written out here rather than read from the code under test.
EXPECTED_SCOPE = {
    ("POST", "/v1/latents"): Scope.latents_write,
    ("DELETE", "/v1/latents/{id}"): Scope.latents_write,
    ("GET", "/v1/latents"): Scope.latents_read,
    ("GET", "/v1/latents/{id}"): Scope.latents_read,
    ("GET", "/metrics"): Scope.metrics,
    ("POST", "/v1/admin/reload"): Scope.admin,
    ("POST", "/v1/models/{model}/projections"): Scope.latents_write,  # its result is a saved latent
    ("DELETE", "/v1/projections/{id}"): Scope.latents_write,
    ("GET", "/v1/projections/{id}"): Scope.latents_read,
    ("GET", "/v1/projections/{id}/events"): Scope.latents_read,
}
PATH_VALUES = {"model": "demo64", "filename": "1.png", "id": "0123456789"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def keyed(settings, tmp_path_factory):
    """(client, keys): a gateway with GANSERVE_AUTH=keys and its own store."""
    path = tmp_path_factory.mktemp("keys") / "latents.sqlite3"
    keys = make_keys(
        path,
        alice=[Scope.generate, Scope.latents_read, Scope.latents_write],
        bob=[Scope.generate, Scope.latents_read, Scope.latents_write],
        viewer=[Scope.generate],
        reader=[Scope.latents_read],
        admin=[Scope.admin],
        scraper=[Scope.metrics],
        revoked=[Scope.generate],
    )
    settings = settings.model_copy(update={"auth": "keys", "latents_path": path, "key_cache_s": 0})
    with TestClient(create_app(settings)) as client:
        yield client, keys


def _routes(client):
    spec = client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method in methods:
            yield method.upper(), path


def test_every_route_but_health_needs_a_key_with_its_scope(keyed):
    client, keys = keyed
    checked = 0
    for method, path in _routes(client):
        if path in OPEN_PATHS:
            continue
        url = path.format(**PATH_VALUES)
        scope = EXPECTED_SCOPE.get((method, path), Scope.generate)
        body = {} if method == "POST" else None
        missing = client.request(method, url, json=body)
        assert missing.status_code == 401, (method, path, missing.text)
        assert missing.json()["error"]["scope"] == scope and missing.headers["www-authenticate"].startswith("Bearer")
        wrong = client.request(method, url, json=body, headers=bearer(keys["scraper" if scope != Scope.metrics else "viewer"]))
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "permission_denied", (method, path, wrong.text)
        assert scope in wrong.json()["error"]["message"]
        granted = client.request(method, url, json=body, headers=bearer(keys["admin"]))
        assert granted.status_code not in (401, 403), (method, path, granted.text)
        checked += 1
    assert checked >= 15  # every model route, the latents, /metrics
    for path in ("/healthz", "/readyz"):
        assert client.get(path).status_code == 200


def test_the_refusal_comes_before_the_body_is_read(keyed):
    client, _ = keyed
    refused = client.post("/v1/models/nope/images", content=b"{not json")
    assert_error(refused, 401, "authorization")  # not 404 (unknown model), not 422 (bad JSON): nothing is revealed


@pytest.mark.parametrize(
    "header, message",
    [
        ("Bearer gsk_nope", "malformed API key"),
        ("Basic dXNlcjpwYXNz", "malformed API key"),
        ("Bearer gsk_000000000000_" + "0" * 43, "unknown API key"),
    ],
)
def test_bad_keys_are_refused_with_the_reason(keyed, header, message):
    client, _ = keyed
    error = assert_error(client.get("/v1/models", headers={"Authorization": header}), 401, "authorization")
    assert message in error["message"]


def test_a_wrong_secret_for_a_real_id_is_refused(keyed):
    client, keys = keyed
    forged = keys["alice"][:-4] + ("AAAA" if not keys["alice"].endswith("AAAA") else "BBBB")
    assert "unknown API key" in assert_error(client.get("/v1/models", headers=bearer(forged)), 401)["message"]


def test_a_revoked_key_is_refused(keyed, settings):
    client, keys = keyed
    assert client.get("/v1/models", headers=bearer(keys["revoked"])).status_code == 200
    key_id = keys["revoked"].split("_")[1]
    store = SQLiteKeyStore(client.app.state.ganserve.settings.latents_path)
    assert asyncio.run(store.revoke(key_id))
    asyncio.run(store.close())
    error = assert_error(client.get("/v1/models", headers=bearer(keys["revoked"])), 401)
    assert "revoked" in error["message"]


def test_saved_latents_are_private_to_their_owner_for_listing_and_deletion(keyed):
    client, keys = keyed
    alice, bob, admin, reader = (bearer(keys[name]) for name in ("alice", "bob", "admin", "reader"))
    saved = client.post("/v1/latents", json={"model": "demo64", "latent": {"seed": 5}}, headers=alice)
    assert saved.status_code == 201, saved.text
    latent = saved.json()
    assert latent["owner"] == keys["alice"].split("_")[1]

    def listed(headers) -> set[str]:
        return {entry["id"] for entry in client.get("/v1/latents", headers=headers).json()["latents"]}

    assert latent["id"] in listed(alice) and latent["id"] not in listed(bob) and latent["id"] in listed(admin)
    assert latent["id"] not in listed(reader)
    # An id is a share link: anyone who may read latents reads it, and generates from it.
    assert client.get(f"/v1/latents/{latent['id']}", headers=bob).json()["values"] == latent["values"]
    assert client.get(f"/v1/models/demo64/latents/{latent['id']}.png", headers=bearer(keys["viewer"])).status_code == 200
    error = assert_error(client.delete(f"/v1/latents/{latent['id']}", headers=bob), 403, "authorization")
    assert "belongs to another key" in error["message"]
    assert client.get(f"/v1/latents/{latent['id']}", headers=alice).status_code == 200  # bob's attempt touched nothing
    assert client.delete(f"/v1/latents/{latent['id']}", headers=alice).status_code == 204
    again = client.post("/v1/latents", json={"model": "demo64", "latent": {"seed": 6}}, headers=bob).json()
    assert client.delete(f"/v1/latents/{again['id']}", headers=admin).status_code == 204


# -- limits at their documented defaults -----------------------------------------------------------
DEFAULTS = Settings()


def test_documented_defaults():
    """The figures docs/security.md states."""
    assert (DEFAULTS.rate_limit_requests_per_s, DEFAULTS.rate_limit_images_per_s, DEFAULTS.rate_limit_burst_s) == (50, 50, 4)
    assert DEFAULTS.max_saved_latents_per_key == 10_000 and DEFAULTS.max_concurrent_requests == 64
    assert DEFAULTS.max_request_pixels == 64 * 1024 * 1024 and DEFAULTS.auth == "open"


def _limited(settings, tmp_path, **update) -> TestClient:
    update = {"latents_path": tmp_path / "latents.sqlite3", **update}
    return TestClient(create_app(settings.model_copy(update=update)))


def _burst(client, url: str, count: int, headers=None) -> tuple[list[int], float]:
    started = time.monotonic()
    codes = [client.get(url, headers=headers).status_code for _ in range(count)]
    return codes, time.monotonic() - started


def test_request_rate_limit_at_its_default(settings, tmp_path):
    burst = DEFAULTS.rate_limit_requests_per_s * DEFAULTS.rate_limit_burst_s
    with _limited(settings, tmp_path, rate_limit_requests_per_s=DEFAULTS.rate_limit_requests_per_s, rate_limit_images_per_s=0) as client:
        codes, elapsed = _burst(client, "/v1/limits", burst)
        over = client.get("/v1/limits")
    assert elapsed < DEFAULTS.rate_limit_burst_s, "the burst took longer than its window: this machine is too slow for the test"
    assert codes == [200] * burst
    error = assert_error(over, 429)
    assert error["code"] == "rate_limited" and "GANSERVE_RATE_LIMIT_REQUESTS_PER_S" in error["message"]
    assert 1 <= int(over.headers["retry-after"]) <= DEFAULTS.rate_limit_burst_s
    assert over.headers["ratelimit-limit"] == str(burst) and over.headers["ratelimit-remaining"] == "0"
    assert over.headers["ratelimit-policy"] == f"{burst};w={DEFAULTS.rate_limit_burst_s}"


def test_image_rate_limit_at_its_default(settings, tmp_path):
    burst = DEFAULTS.rate_limit_images_per_s * DEFAULTS.rate_limit_burst_s
    with _limited(settings, tmp_path, rate_limit_requests_per_s=0, rate_limit_images_per_s=DEFAULTS.rate_limit_images_per_s) as client:
        codes, elapsed = _burst(client, "/v1/models/demo64/seeds/3.png", burst)  # one image each (cached after the first)
        over = client.get("/v1/models/demo64/seeds/3.png")
        cheap = client.get("/v1/limits")  # no images: still allowed
    assert elapsed < DEFAULTS.rate_limit_burst_s, "the burst took longer than its window: this machine is too slow for the test"
    assert codes == [200] * burst
    assert "images per second" in assert_error(over, 429)["message"] and cheap.status_code == 200


def test_a_request_larger_than_a_burst_is_invalid_not_retried(settings, tmp_path):
    with _limited(settings, tmp_path, rate_limit_images_per_s=1, rate_limit_burst_s=1) as client:
        refused = client.post("/v1/models/demo64/images", json={"latents": [{"seed": 1}, {"seed": 2}]})
    assert "more than a burst" in assert_error(refused, 422)["message"]


def test_anonymous_callers_are_limited_by_address_where_access_is_open(settings, tmp_path):
    with _limited(settings, tmp_path, rate_limit_requests_per_s=1, rate_limit_burst_s=2, rate_limit_images_per_s=0) as client:
        codes, _ = _burst(client, "/v1/limits", 3)
    assert codes == [200, 200, 429]


def _fill_store(path, owner: str, count: int) -> None:
    """`count` saved latents of `owner`, written straight into the SQLite file in one transaction."""
    asyncio.run(SQLiteLatentStore(path).close())  # creates the schema
    db = sqlite3.connect(path)
    rows = [(new_id(), "demo64", "0" * 16, "z", "[1]", "<f4", b"\0\0\0\0", "", "{}", time.time(), None, owner) for _ in range(count)]
    db.executemany("INSERT INTO latents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


def test_saved_latent_quota_at_its_default(settings, tmp_path):
    quota = DEFAULTS.max_saved_latents_per_key
    path = tmp_path / "latents.sqlite3"
    keys = make_keys(path, alice=[Scope.latents_write, Scope.latents_read], bob=[Scope.latents_write])
    alice_id = keys["alice"].split("_")[1]
    _fill_store(path, alice_id, quota - 1)
    body = {"model": "demo64", "latent": {"seed": 1}}
    with _limited(settings, tmp_path, auth="keys", max_saved_latents_per_key=quota) as client:
        last = client.post("/v1/latents", json=body, headers=bearer(keys["alice"]))
        over = client.post("/v1/latents", json=body, headers=bearer(keys["alice"]))
        other = client.post("/v1/latents", json=body, headers=bearer(keys["bob"]))
        kept = client.get(f"/v1/latents/{last.json()['id']}", headers=bearer(keys["alice"]))
    assert last.status_code == 201, last.text
    error = assert_error(over, 403)
    assert error["code"] == "quota_exceeded" and "GANSERVE_MAX_SAVED_LATENTS_PER_KEY" in error["message"]
    assert other.status_code == 201 and kept.status_code == 200  # the quota is per key, and nothing saved was touched
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM latents WHERE owner = ?", (alice_id,)).fetchone()[0] == quota


def test_the_pixel_budget_refuses_before_any_work(settings, tmp_path):
    with _limited(settings, tmp_path, max_request_pixels=4 * 64 * 64, rate_limit_images_per_s=0) as client:
        fits = client.post("/v1/models/demo64/images", json={"latents": [{"seed": i} for i in range(4)]})
        over = client.post("/v1/models/demo64/images", json={"latents": [{"seed": i} for i in range(5)]})
        animation = client.post("/v1/models/demo64/interpolations", json={"keyframes": [{"seed": 1}, {"seed": 2}], "frames": 5})
        images_made = client.get("/metrics").text
    assert fits.status_code == 200
    assert "GANSERVE_MAX_REQUEST_PIXELS" in assert_error(over, 422, "latents")["message"]
    assert_error(animation, 422, "frames")
    assert 'ganserve_images_total{model="demo64"} 4.0' in images_made  # the refused ones made nothing


def test_concurrency_cap_refuses_past_it(settings, tmp_path):
    with _limited(settings, tmp_path, max_concurrent_requests=1) as client:
        state = client.app.state.ganserve
        state.in_flight.acquire()  # one request in flight, as far as the cap can tell
        try:
            busy = client.get("/v1/limits")
            health = client.get("/readyz")
        finally:
            state.in_flight.release()
        after = client.get("/v1/limits")
    error = assert_error(busy, 503)
    assert error["code"] == "busy" and busy.headers["retry-after"] == "1" and "GANSERVE_MAX_CONCURRENT_REQUESTS" in error["message"]
    assert health.status_code == 200 and after.status_code == 200


def test_metrics_on_a_port_of_their_own_are_open(settings, tmp_path):
    port = free_port()
    with _limited(settings, tmp_path, auth="keys", metrics_port=port) as client:
        assert client.get("/metrics").status_code == 401  # on the main port: scope metrics
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert scraped.status_code == 200 and "ganserve_requests_total" in scraped.text
    with pytest.raises(httpx.TransportError):  # and gone with the gateway
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
