"""Access with real gateway processes: rate limits shared by two gateways through one Redis, keys
made with `ganserve keys` seen by a running gateway, and the cap on concurrent requests with
requests really in flight (held open mid-body, so that the count is exact)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import hold_request, served_env
from ganserve.access.key_stores import make_key_store
from ganserve.settings import Settings
from ganserve_bench.processes import RedisServer, gateway

DEFAULTS = Settings()


def ganserve(*args: str, env: dict[str, str]) -> str:
    command = [sys.executable, "-c", "from ganserve.cli import app; app()", *args]
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


@pytest.fixture(scope="module")
def redis_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("redis")
    with RedisServer(root / "cache", durable=False) as cache, RedisServer(root / "store", durable=True) as store:
        yield cache, store


def test_rate_limits_hold_across_two_gateways_sharing_redis(settings, redis_pair, tmp_path):
    cache, store = redis_pair
    per_second, burst_s = 2, 3  # 6 requests in any 3 s, for the two gateways together
    shared = {
        "redis_url": cache.url,
        "redis_store_url": store.url,
        "auth": "keys",
        "rate_limit_requests_per_s": str(per_second),
        "rate_limit_burst_s": str(burst_s),
        "rate_limit_images_per_s": "0",
    }
    env = served_env(settings, tmp_path, **shared)
    created = json.loads(ganserve("keys", "create", "--scope", "generate", "--name", "shared", "--json", env=env))
    headers = {"Authorization": f"Bearer {created['key']}"}
    with gateway(env, tmp_path / "a", "demo64") as (first, _), gateway(env, tmp_path / "b", "demo64") as (second, _):
        started = time.monotonic()
        codes = [httpx.get(f"{server.base_url}/v1/limits", headers=headers).status_code for server in (first, second) * 4]
        elapsed = time.monotonic() - started
        over = httpx.get(f"{second.base_url}/v1/limits", headers=headers)
    assert elapsed < burst_s, "the requests took longer than the window: too slow a machine for this test"
    assert codes == [200] * (per_second * burst_s) + [429, 429], codes  # each gateway alone would have allowed 6
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1


def test_concurrency_cap_at_its_default_with_requests_really_in_flight(settings, tmp_path):
    cap = DEFAULTS.max_concurrent_requests
    with gateway(served_env(settings, tmp_path), tmp_path, "demo64") as (server, _):
        held = [hold_request(server.port) for _ in range(cap - 1)]
        try:
            time.sleep(0.5)
            just_under = httpx.get(f"{server.base_url}/v1/limits")  # the 64th
            held.append(hold_request(server.port))
            time.sleep(0.5)
            just_over = httpx.get(f"{server.base_url}/v1/limits")  # the 65th
            health = httpx.get(f"{server.base_url}/readyz")
        finally:
            for connection in held:
                connection.close()
        time.sleep(0.5)
        after = httpx.get(f"{server.base_url}/v1/limits")
    assert just_under.status_code == 200
    assert just_over.status_code == 503 and just_over.json()["error"]["code"] == "busy"
    assert health.status_code == 200 and after.status_code == 200


def test_keys_cli_create_list_revoke_against_a_running_gateway(settings, tmp_path):
    env = served_env(settings, tmp_path, auth="keys", key_cache_s="0")
    created = json.loads(ganserve("keys", "create", "--scope", "generate", "--name", "app one", "--json", env=env))
    assert created["key"].startswith(f"gsk_{created['id']}_") and created["scopes"] == ["generate"]
    listing = ganserve("keys", "list", env=env)
    assert created["id"] in listing and "app one" in listing and created["key"] not in listing  # shown once, never again
    headers = {"Authorization": f"Bearer {created['key']}"}
    with gateway(env, tmp_path, "demo64") as (server, _):
        assert httpx.get(f"{server.base_url}/v1/models", headers=headers).status_code == 200
        assert ganserve("keys", "revoke", created["id"], env=env).strip() == f"revoked {created['id']}"
        refused = httpx.get(f"{server.base_url}/v1/models", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
    assert "revoked" in ganserve("keys", "list", env=env)
    stored = Path(env["GANSERVE_LATENTS_PATH"]).read_bytes()
    assert created["key"].split("_")[2].encode() not in stored  # only the hash is kept


def test_a_keys_file_made_by_the_cli_is_honoured_read_only(settings, tmp_path):
    """GANSERVE_KEYS_FILE (a Kubernetes Secret's file): keys made with `create --file` hold hashes
    only, a gateway accepts them with their scopes, and they cannot be revoked through the store."""
    keys_file = tmp_path / "keys.json"
    env = served_env(settings, tmp_path, auth="keys", key_cache_s="0")
    admin = json.loads(ganserve("keys", "create", "--scope", "admin", "--name", "ops", "--json", "--file", str(keys_file), env=env))
    viewer = json.loads(ganserve("keys", "create", "--scope", "generate", "--json", "--file", str(keys_file), env=env))
    records = json.loads(keys_file.read_text())
    assert [r["id"] for r in records] == [admin["id"], viewer["id"]] and records[0]["scopes"] == ["admin"]
    assert admin["key"].split("_")[2] not in keys_file.read_text()  # the secret is never written
    env["GANSERVE_KEYS_FILE"] = str(keys_file)
    assert admin["id"] in ganserve("keys", "list", env=env)
    with gateway(env, tmp_path, "demo64") as (server, _):
        as_viewer = {"Authorization": f"Bearer {viewer['key']}"}
        assert httpx.get(f"{server.base_url}/v1/models", headers=as_viewer).status_code == 200
        assert httpx.get(f"{server.base_url}/v1/latents", headers=as_viewer).status_code == 403  # its scope only
        as_admin = {"Authorization": f"Bearer {admin['key']}"}
        assert httpx.get(f"{server.base_url}/v1/latents", headers=as_admin).status_code == 200
        made_up = {"Authorization": f"Bearer gsk_{admin['id']}_{'x' * 43}"}
        assert httpx.get(f"{server.base_url}/v1/models", headers=made_up).status_code == 401
    command = [sys.executable, "-c", "from ganserve.cli import app; app()", "keys", "revoke", admin["id"]]
    refused = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "take it out of that file" in refused.stderr


def test_a_keys_file_that_is_not_a_list_of_keys_is_refused_with_its_name(settings, tmp_path):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match=f"GANSERVE_KEYS_FILE {keys_file}: not a JSON list of key records"):
        make_key_store(settings.model_copy(update={"keys_file": keys_file, "latents_path": tmp_path / "l.sqlite3"}))
