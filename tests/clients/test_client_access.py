"""ganserve_client against real gateways that need API keys and limit rates: the key goes out over
HTTP and gRPC (sync and async, from the argument, $GANSERVE_API_KEY or the CLI's --api-key), the
server's refusals arrive as Unauthenticated / PermissionDenied / RateLimited, and the client waits
out Retry-After: a burst through it all succeeds, unless its retries are turned off. TLS is left to
the tests of the gateway's TLS (GatewayProcess waits for it over plain HTTP)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from typer.testing import CliRunner

from conftest import hold_request, served_env
from ganserve_bench.processes import gateway
from ganserve_client import (
    AsyncClient,
    Client,
    GanserveError,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from ganserve_client.calls import delete_latent, list_models, save_latent
from ganserve_client.cli import app
from ganserve_client.transports import RetryPolicy

DEMO = "demo64"
PER_SECOND, BURST_S = 2, 2
LIMIT = PER_SECOND * BURST_S  # requests in any BURST_S seconds, per key
ALL = ("generate", "latents:read", "latents:write")
# Every key the tests use, by name: each test that spends a key's rate limit has its own.
KEYS = {
    **{f"{t}-all": ALL for t in ("http", "grpc")},
    **{f"{t}-generate": ("generate",) for t in ("http", "grpc")},
    **{f"{t}-burst": ALL for t in ("http", "grpc")},
    **{f"{t}-limited": ALL for t in ("http", "grpc")},
    **{f"{t}-async": ("generate",) for t in ("http", "grpc")},
    "grpc-stream": ("generate",),
    "cli": ("generate",),
}


def create_key(env: dict[str, str], scopes: tuple[str, ...]) -> str:
    """A new key from `ganserve keys create`, in the store the gateway of `env` reads."""
    command = [sys.executable, "-c", "from ganserve.cli import app; app()", "keys", "create", "--json"]
    command += [arg for scope in scopes for arg in ("--scope", scope)]
    for _ in range(3):  # the SQLite store waits 1 s for a lock: several at once may miss it
        result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
        if result.returncode == 0:
            return json.loads(result.stdout)["key"]
    raise RuntimeError(f"ganserve keys create failed: {result.stderr}")


@pytest.fixture(scope="module")
def keyed(settings, tmp_path_factory):
    """(a gateway with GANSERVE_AUTH=keys and LIMIT requests per BURST_S seconds per key, its keys by name)."""
    workdir = tmp_path_factory.mktemp("keyed")
    limits = {"rate_limit_requests_per_s": str(PER_SECOND), "rate_limit_burst_s": str(BURST_S), "rate_limit_images_per_s": "0"}
    env = served_env(settings, workdir, auth="keys", **limits)
    with gateway(env, workdir, DEMO) as (server, _):  # started first: it makes the store's tables
        with ThreadPoolExecutor(3) as pool:
            keys = dict(zip(KEYS, pool.map(lambda scopes: create_key(env, scopes), KEYS.values()), strict=True))
        yield server, keys


@pytest.fixture(scope="module", params=["http", "grpc"])
def transport(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def url(keyed, transport) -> str:
    server, _ = keyed
    return server.base_url if transport == "http" else f"grpc://{server.grpc_target}"


@pytest.fixture(scope="module")
def keys(keyed) -> dict[str, str]:
    return keyed[1]


def test_the_key_is_sent_and_needed(url, keys, transport, monkeypatch):
    key = keys[f"{transport}-all"]
    with Client(url, api_key=key) as client:
        (image,) = client.generate(DEMO, [7])
        saved = client.save_latent(DEMO, 7, kind="w")
        assert client.get_latent(saved.id).shape == (256,)
        client.delete_latent(saved.id)
    monkeypatch.setenv("GANSERVE_API_KEY", key)
    with Client(url) as client:  # the key from the environment
        assert client.generate(DEMO, [7])[0].data == image.data
    for api_key in ("", "gsk_000000000000_" + "0" * 43):  # no key ("" overrides the environment), an unknown one
        with Client(url, api_key=api_key) as client, pytest.raises(Unauthenticated) as raised:
            client.generate(DEMO, [7])
        assert (raised.value.field, raised.value.scope) == ("authorization", "generate")
        assert raised.value.status in (401, "UNAUTHENTICATED")


def test_a_key_without_the_scope_is_denied(url, keys, transport):
    with Client(url, api_key=keys[f"{transport}-generate"]) as client:
        assert DEMO in [m.name for m in client.models()]
        with pytest.raises(PermissionDenied) as saving:
            client.save_latent(DEMO, 7)
        with pytest.raises(PermissionDenied) as listing:
            client.list_latents()
    assert (saving.value.scope, listing.value.scope) == ("latents:write", "latents:read")
    assert saving.value.status in (403, "PERMISSION_DENIED") and "lacks scope latents:write" in saving.value.message


def test_a_burst_through_the_client_waits_out_the_rate_limit(url, keys, transport):
    """Twice and a bit the limit in a row: all succeed, the client waiting twice for the window to move."""
    durations = []
    with Client(url, api_key=keys[f"{transport}-burst"]) as client:
        started = time.monotonic()
        for _ in range(2 * LIMIT + 1):
            call_started = time.monotonic()
            assert DEMO in [m.name for m in client.models()]
            durations.append(time.monotonic() - call_started)
        elapsed = time.monotonic() - started
    # The last call is allowed once the (LIMIT+1)th is BURST_S old, which was once the first was.
    assert elapsed >= 2 * BURST_S - 0.1, durations
    assert sum(d >= 0.9 for d in durations) >= 2, f"the client did not wait out Retry-After: {durations}"


def test_without_retries_rate_limited_is_raised_and_with_them_waited_out(url, keys, transport):
    key = keys[f"{transport}-limited"]
    with Client(url, api_key=key, max_retries=0) as eager, pytest.raises(RateLimited) as raised:
        for _ in range(LIMIT + 1):
            eager.models()
    error = raised.value
    assert error.retry_after_s >= 1 and error.status in (429, "RESOURCE_EXHAUSTED"), error
    assert (error.rate_limit["limit"], error.rate_limit["policy"]) == (str(LIMIT), f"{LIMIT};w={BURST_S}")

    # A wait longer than the client may wait in all: raised at once, not after waiting.
    with Client(url, api_key=key, max_retry_wait_s=0.5) as impatient, pytest.raises(RateLimited):
        started = time.monotonic()
        impatient.models()
    assert time.monotonic() - started < 0.9

    # Retried: it waits about Retry-After (at most the one seen above: the window has moved since), then passes.
    with Client(url, api_key=key) as patient:
        started = time.monotonic()
        saved = patient.save_latent(DEMO, 11, kind="w", name=f"once-{transport}")  # a 429 is refused before any work: safe to retry
        waited = time.monotonic() - started
        assert 0.9 <= waited <= error.retry_after_s + 2.0, (waited, error.retry_after_s)
        time.sleep(BURST_S)  # the window frees up, so that listing needs no retry
        names = [entry.name for entry in patient.list_latents(DEMO).latents]
    assert names.count(f"once-{transport}") == 1 and saved.name == f"once-{transport}"


def test_a_stream_is_retried_before_its_first_frame(keyed):
    server, keys = keyed
    url = f"grpc://{server.grpc_target}"
    with Client(url, api_key=keys["grpc-stream"], max_retries=0) as eager, pytest.raises(RateLimited):
        for _ in range(LIMIT + 1):
            eager.models()
    with Client(url, api_key=keys["grpc-stream"]) as client:
        started = time.monotonic()
        frames = list(client.interpolate(DEMO, [1, 2], frames=3, latents_only=True))
        waited = time.monotonic() - started
    assert [f.index for f in frames] == [0, 1, 2] and waited >= 0.9


def test_the_async_client_sends_the_key_and_waits_out_the_rate_limit(url, keys, transport):
    async def burst() -> list:
        async with AsyncClient(url, api_key=keys[f"{transport}-async"]) as client:
            return await asyncio.gather(*(client.models() for _ in range(LIMIT + 2)))

    async def without_key() -> None:
        async with AsyncClient(url, api_key="") as client:
            await client.models()

    started = time.monotonic()
    results = asyncio.run(burst())
    assert all(DEMO in [m.name for m in models] for models in results)
    assert time.monotonic() - started >= 0.9  # the last two waited for the window to move
    with pytest.raises(Unauthenticated):
        asyncio.run(without_key())


def test_the_cli_sends_its_api_key(keyed):
    server, keys = keyed
    runner = CliRunner()
    for url in (server.base_url, f"grpc://{server.grpc_target}"):
        given = runner.invoke(app, ["--url", url, "--api-key", keys["cli"], "models"])
        assert given.exit_code == 0 and DEMO in given.output, given.output
        from_env = runner.invoke(app, ["--url", url, "models"], env={"GANSERVE_API_KEY": keys["cli"]})
        assert from_env.exit_code == 0 and DEMO in from_env.output, from_env.output
        missing = runner.invoke(app, ["--url", url, "models"], env={"GANSERVE_API_KEY": ""})
        assert missing.exit_code == 1 and "Unauthenticated" in missing.output, missing.output


def test_busy_is_retried_also_for_a_save(settings, tmp_path):
    """With one request allowed in flight and one held open, the gateway answers 503 busy (gRPC
    UNAVAILABLE, with ganserve-code busy) and Retry-After 1: calls wait and pass once it is let go.
    Busy is refused before any work, so even a save is retried, over both transports; a save refused
    with a bare UNAVAILABLE (no code: a store failure after a write, perhaps) is not."""
    with gateway(served_env(settings, tmp_path, max_concurrent_requests="1"), tmp_path, DEMO) as (server, _):
        for url in (server.base_url, f"grpc://{server.grpc_target}"):
            held = hold_request(server.port)
            time.sleep(0.5)  # the server has it
            threading.Timer(1.5, held.close).start()
            with Client(url) as client:
                started = time.monotonic()
                assert DEMO in [m.name for m in client.models()]
                assert time.monotonic() - started >= 1.4
        held = hold_request(server.port)
        try:
            time.sleep(0.5)
            for url in (f"grpc://{server.grpc_target}", server.base_url):
                threading.Timer(1.5, held.close).start()
                with Client(url) as client:
                    started = time.monotonic()
                    assert client.save_latent(DEMO, 3).source["seed"] == 3
                    assert time.monotonic() - started >= 0.9  # it waited for the held request to go
                held = hold_request(server.port)
                time.sleep(0.5)
        finally:
            held.close()


def test_retry_policy_keeps_writes_from_being_done_twice():
    """Which refusals are retried for which calls (the rest is tested against gateways above)."""
    policy = RetryPolicy(max_retries=3, max_retry_wait_s=10)
    read, save, delete = list_models(), save_latent(DEMO, 1, None, 1.0, None, None, "", None), delete_latent("x")

    def refusal(code: str | None, retry_after_s: float | None = 1.0) -> GanserveError:
        return GanserveError("refused", code=code, retry_after_s=retry_after_s)

    for code in ("rate_limited", "busy", "overloaded"):  # refused before any work
        assert [policy.wait_s(call, refusal(code), 0, 0.0) for call in (read, save, delete)] == [1.0, 1.0, 1.0]
    for code in ("store_unavailable", "engine_unavailable", None):  # may have been done
        assert [policy.wait_s(call, refusal(code), 0, 0.0) for call in (read, save, delete)] == [1.0, None, None]
    assert policy.wait_s(read, refusal("rate_limited", None), 0, 0.0) is None  # no Retry-After: nothing to wait for
    assert policy.wait_s(read, refusal("rate_limited"), 3, 0.0) is None  # out of retries
    assert policy.wait_s(read, refusal("rate_limited", 4.0), 1, 7.0) is None  # over the total wait
