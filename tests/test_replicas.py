"""Three gateway processes behind haproxy behave as one service, with real processes: one local
Triton, one Redis pair (the evicting cache, and the durable saved-latents store: AOF, fsync
always), three `ganserve serve` and haproxy (round robin, /readyz checked every 200 ms, a request
sent again elsewhere only when it could not connect). Every replica answers a stable URL with the
same bytes and ETag (and a 304 to another replica's ETag); a latent saved through one is read
through another and deleted through a third; a rate limit holds for the three together; and a
replica killed with -9 under load loses no acknowledged save, the client library's own retries
carry the reads and generations that were in flight on it to another replica, and the only
requests that fail are saves that were in flight on it."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from conftest import served_env
from ganserve_bench.processes import GatewayProcess, HAProxy, RedisServer
from ganserve_client import Client, GanserveError
from ganserve_client.transports import failed_on_the_way

DEMO = "demo64"
NAMES = ("g0", "g1", "g2")
# haproxy's httplog: "... backend/server Tq/Tw/Tc/Tr/Ta status ..." for every request it forwarded.
LOG_LINE = re.compile(r" replicas/(?P<server>\S+) \S+ (?P<status>-?\d+) ")

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (make system-deps installs it)")


@dataclass
class Service:
    gateways: dict[str, GatewayProcess]
    proxy: HAProxy
    env: dict[str, str]
    started_s: float  # the three gateways and haproxy, from nothing to every replica up in haproxy


@contextmanager
def service(env: dict[str, str], root: Path) -> Iterator[Service]:
    """Three gateways with env, started side by side, and haproxy in front of them; all always stopped."""
    gateways = {name: GatewayProcess(root / name, env) for name in NAMES}
    proxy = HAProxy(root / "haproxy", {name: f"127.0.0.1:{server.port}" for name, server in gateways.items()})
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(len(gateways)) as pool:
            startups = list(pool.map(GatewayProcess.start, gateways.values()))
        for startup in startups:
            assert DEMO in startup["readyz_body"]["models"], startup
        proxy.start()
        yield Service(gateways, proxy, env, round(time.monotonic() - started, 2))
    finally:
        proxy.stop()
        for server in gateways.values():
            server.stop()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("redis")
    with RedisServer(root / "cache", durable=False) as cache, RedisServer(root / "store", durable=True) as store:
        yield cache, store


def replica_env(settings, triton_server, stores, workdir: Path, **extra: str) -> dict[str, str]:
    cache, store = stores
    shared = {"engine": "triton", "triton_url": triton_server.grpc_url, "redis_url": cache.url, "redis_store_url": store.url}
    return served_env(settings, workdir, **shared, **extra)


@pytest.fixture(scope="module")
def replicas(settings, triton_server, stores, tmp_path_factory) -> Iterator[Service]:
    """Open access, no rate limits: the service that the tests other than the rate limit's share."""
    root = tmp_path_factory.mktemp("replicas")
    with service(replica_env(settings, triton_server, stores, root), root) as started:
        yield started


def served_by(proxy: HAProxy, before: dict[str, dict[str, str]]) -> dict[str, int]:
    """Requests each replica took through haproxy since `before` (its stats then)."""
    return {name: int(row["stot"]) - int(before[name]["stot"]) for name, row in proxy.stats().items()}


def test_every_replica_answers_a_stable_url_with_the_same_bytes_and_etag(replicas, figures):
    gateways, proxy = replicas.gateways, replicas.proxy
    for fmt, media_type in (("png", "image/png"), ("jpg", "image/jpeg"), ("webp", "image/webp")):
        path = f"/v1/models/{DEMO}/seeds/11.{fmt}?psi=0.7&noise=random&noise_seed=3"
        direct = {name: httpx.get(server.base_url + path) for name, server in gateways.items()}
        before = proxy.stats()
        proxied = [httpx.get(proxy.base_url + path) for _ in NAMES]  # round robin: one per replica
        assert served_by(proxy, before) == dict.fromkeys(NAMES, 1)
        first = direct["g0"]
        assert first.status_code == 200 and first.headers["content-type"] == media_type and first.headers["etag"]
        for response in [*direct.values(), *proxied]:
            assert response.status_code == 200
            assert response.content == first.content and response.headers["etag"] == first.headers["etag"]
        # A browser that got the image from one replica revalidates against whichever it reaches next.
        conditional = {"If-None-Match": first.headers["etag"]}
        not_modified = [httpx.get(gateways[name].base_url + path, headers=conditional) for name in ("g1", "g2")]
        before = proxy.stats()
        not_modified += [httpx.get(proxy.base_url + path, headers=conditional) for _ in NAMES]
        assert served_by(proxy, before) == dict.fromkeys(NAMES, 1)
        for response in not_modified:
            assert response.status_code == 304 and response.content == b""
            assert response.headers["etag"] == first.headers["etag"]
        figures[f"{fmt}_bytes"] = len(first.content)
    figures["service_started_s"] = replicas.started_s


def test_a_latent_saved_on_one_replica_is_read_on_another_and_deleted_on_a_third(replicas):
    a, b, c = (replicas.gateways[name].base_url for name in NAMES)
    body = {"model": DEMO, "latent": {"seed": 42}, "kind": "w", "psi": 0.7, "name": "across replicas"}
    saved = httpx.post(f"{a}/v1/latents", json=body)
    assert saved.status_code == 201, saved.text
    latent_id = saved.json()["id"]
    read = httpx.get(f"{b}/v1/latents/{latent_id}")
    assert read.status_code == 200
    fields = ("id", "model", "kind", "name")
    assert {key: read.json()[key] for key in fields} == {"id": latent_id, "model": DEMO, "kind": "w", "name": "across replicas"}
    again = httpx.get(f"{a}/v1/latents/{latent_id}").json()
    assert len(read.json()["values"]) == 256 and read.json()["values"] == again["values"]
    images = [httpx.get(f"{url}/v1/models/{DEMO}/latents/{latent_id}.png") for url in (a, b, c)]
    assert all(image.status_code == 200 for image in images)
    assert len({image.content for image in images}) == 1 and len({image.headers["etag"] for image in images}) == 1
    deleted = httpx.delete(f"{c}/v1/latents/{latent_id}")
    assert deleted.status_code == 204
    for url in (a, b, c):
        assert httpx.get(f"{url}/v1/latents/{latent_id}").status_code == 404
        assert httpx.get(f"{url}/v1/models/{DEMO}/latents/{latent_id}.png").status_code == 404
        assert httpx.delete(f"{url}/v1/latents/{latent_id}").status_code == 404


def ganserve(*args: str, env: dict[str, str]) -> str:
    command = [sys.executable, "-c", "from ganserve.cli import app; app()", *args]
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_a_rate_limit_holds_for_three_replicas_behind_the_balancer(settings, triton_server, stores, tmp_path, figures):
    per_second, burst_s = 2, 3  # 6 requests in any 3 s, for the three gateways together
    limits = {"auth": "keys", "rate_limit_requests_per_s": str(per_second), "rate_limit_burst_s": str(burst_s)}
    env = replica_env(settings, triton_server, stores, tmp_path, **limits, rate_limit_images_per_s="0")
    created = json.loads(ganserve("keys", "create", "--scope", "generate", "--name", "replicas", "--json", env=env))
    headers = {"Authorization": f"Bearer {created['key']}"}
    with service(env, tmp_path) as limited, httpx.Client(base_url=limited.proxy.base_url, headers=headers) as client:
        before = limited.proxy.stats()
        started = time.monotonic()
        responses = [client.get("/v1/limits") for _ in range(3 * len(NAMES))]
        elapsed = time.monotonic() - started
        spread = served_by(limited.proxy, before)
        figures["service_started_s"] = limited.started_s
    assert elapsed < burst_s, "the requests took longer than the window: too slow a machine for this test"
    assert spread == dict.fromkeys(NAMES, 3)  # each gateway alone would have allowed all of its 3
    codes = [response.status_code for response in responses]
    assert codes == [200] * (per_second * burst_s) + [429] * 3, codes
    for refused in responses[per_second * burst_s :]:
        assert int(refused.headers["retry-after"]) >= 1 and refused.json()["error"]["code"] == "rate_limited"
    figures.update(requests=len(codes), allowed=codes.count(200), refused=codes.count(429), seconds=round(elapsed, 3))


@dataclass
class Outcome:
    operation: str  # generate, read, models or save
    writes: bool
    retries: int  # the client's retries of this call
    error: GanserveError | None = None
    mismatch: str | None = None  # a read that did not give back what its save had stored


LOAD_THREADS = 6
LOAD_BEFORE_KILL_S = 2.0
LOAD_AFTER_KILL_S = 3.0
IN_FLIGHT_READS = 2


def load(url: str, seed: int, acknowledged: list, outcomes: list[Outcome], stop: threading.Event) -> None:
    """Mixed calls through the client library until stop: generations from seeds, reads of saved
    latents and of the model list, and saves, one at a time."""
    rng = random.Random(seed)
    with Client(url, timeout=30, max_retries=3) as client:
        while not stop.is_set():
            operation = rng.choice(["generate", "generate", "read", "models", "save", "save"])
            if operation == "read" and not acknowledged:
                operation = "models"
            before, outcome = client.retries, Outcome(operation, operation == "save", 0)
            try:
                if operation == "generate":
                    client.generate(DEMO, [rng.randrange(2**32)], psi=0.7, format="jpeg")
                elif operation == "read":
                    expected = rng.choice(acknowledged)
                    if not np.array_equal(client.get_latent(expected.id).values, expected.values):
                        outcome.mismatch = expected.id
                elif operation == "models":
                    client.models()
                else:
                    acknowledged.append(client.save_latent(DEMO, rng.randrange(2**32), kind="w", psi=0.7, name=f"load {seed}"))
            except GanserveError as error:
                outcome.error = error
            outcome.retries = client.retries - before
            outcomes.append(outcome)


def kill_with_reads_in_flight(proxy: HAProxy, gateway: GatewayProcess, victim: str) -> tuple[int, dict, dict]:
    """Wait until the victim has IN_FLIGHT_READS GET requests in flight that it has not begun to
    answer (haproxy's streams on it), so that the client has calls to retry, then kill it with -9 at
    once. Returns a bound on the requests in flight on it when it died (its streams then, plus any
    routed to it from just before the kill until the process was gone), and the stats then."""
    deadline = time.monotonic() + 20
    while True:
        before = proxy.stats()[victim]
        streams = [stream for stream in proxy.sessions() if stream["server"] == victim]
        if sum(stream["method"] == "GET" and not stream["answered"] for stream in streams) >= IN_FLIGHT_READS:
            os.kill(gateway.proc.pid, signal.SIGKILL)
            gateway.proc.wait(10)  # dead, its sockets closed: from now on a connection to it is refused
            dead = proxy.stats()[victim]
            return len(streams) + int(dead["stot"]) - int(before["stot"]), before, dead
        assert time.monotonic() < deadline, f"the load never had {IN_FLIGHT_READS} reads in flight on {victim}"
        time.sleep(0.001)


def test_kill_9_under_load_loses_no_acknowledged_save_and_fails_only_requests_in_flight_on_it(replicas, figures):
    proxy, victim = replicas.proxy, "g1"
    survivors = [server for name, server in replicas.gateways.items() if name != victim]
    acknowledged: list = []
    outcomes: list[Outcome] = []
    stop = threading.Event()
    threads = [threading.Thread(target=load, args=(proxy.base_url, i, acknowledged, outcomes, stop)) for i in range(LOAD_THREADS)]
    log_start = proxy.log_path.stat().st_size
    try:
        for thread in threads:
            thread.start()
        time.sleep(LOAD_BEFORE_KILL_S)
        in_flight, before_kill, at_kill = kill_with_reads_in_flight(proxy, replicas.gateways[victim], victim)
        killed = time.monotonic()
        while not proxy.stats()[victim]["status"].startswith("DOWN"):
            assert time.monotonic() - killed < 10, "haproxy never marked the killed replica down"
            time.sleep(0.005)
        down_after_s = time.monotonic() - killed
        at_down = proxy.stats()[victim]
        time.sleep(max(0.0, LOAD_AFTER_KILL_S - down_after_s))
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    after = proxy.stats()
    log = proxy.log_path.read_bytes()[log_start:].decode(errors="replace")

    # (a) Every save that returned an id is in the durable store, whichever replica took it.
    with Client(survivors[0].base_url) as first, Client(survivors[1].base_url) as second:
        for saved in acknowledged:
            for client in (first, second):
                assert np.array_equal(client.get_latent(saved.id).values, saved.values), saved.id
    assert [outcome.mismatch for outcome in outcomes if outcome.mismatch] == []
    failures = [outcome for outcome in outcomes if outcome.error is not None]
    retried = [outcome for outcome in outcomes if outcome.retries]
    # (b) The reads and generations that were in flight on the dead replica were sent again by the
    # client, and another replica answered them. Saves are not resent (the dead replica may have
    # stored them), so they are the only calls that may fail, as failures on the way.
    assert retried, "no call was retried, though reads were in flight on the killed replica"
    assert all(outcome.error is None and not outcome.writes for outcome in retried), retried
    assert all(outcome.writes and failed_on_the_way(outcome.error) for outcome in failures), failures
    # (c) Every try that failed (a failure the caller saw, or one the client retried) was a request
    # in flight on the killed replica. haproxy sent the ones that met it later elsewhere: it could
    # not connect to it, so they had not been sent; haproxy counts them as its retries.
    failed_tries = len(failures) + sum(outcome.retries for outcome in outcomes)
    # haproxy counts a response error for each such request it saw fail (not for one whose client
    # connection it then closed without a word, as a server closing a kept-alive connection would).
    assert int(after[victim]["eresp"]) <= failed_tries <= in_flight, (int(after[victim]["eresp"]), failed_tries, in_flight)
    assert int(after[victim]["stot"]) == int(at_down["stot"])  # nothing reached it once down
    for name in NAMES:
        if name != victim:  # the survivors answered everything they were given
            assert after[name]["status"] == "UP" and int(after[name]["eresp"]) == int(after[name]["econ"]) == 0
    assert [line for line in LOG_LINE.finditer(log) if line["server"] != victim and int(line["status"]) >= 500] == []
    figures.update(
        requests=len(outcomes),
        saves_acknowledged=len(acknowledged),
        in_flight_at_kill=in_flight,
        failed_tries=failed_tries,
        client_retries=sum(outcome.retries for outcome in outcomes),
        failures=len(failures),
        balancer_retries=int(after[victim]["wretr"]) + int(after[victim]["wredis"]),
        routed_to_killed_before_down=int(at_down["stot"]) - int(before_kill["stot"]),
        down_after_s=round(down_after_s, 3),
    )
