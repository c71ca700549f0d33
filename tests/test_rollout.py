"""Rolling out new weights without dropping a request, with real processes: a tritonserver in
explicit model control and two gateways on it, under a steady load. New weights are compiled into
the repository as a new version beside the old; gateway A is asked to reload (it has Triton load
the new version), gateway B is sent SIGHUP. Every request succeeds, each gateway switches once from
the old ETag to the new, both versions are served side by side in between, and each ETag's bytes
are exactly those the embedded engine makes from its weights."""

import hashlib
import os
import shutil
import signal
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import COND_MODEL, make_keys, retrain, served_env
from ganserve.access.keys import Scope
from ganserve.api.app import create_app
from ganserve.compile import compile_model
from ganserve.repository import Target
from ganserve.settings import Settings
from ganserve.triton import local
from ganserve.triton.config import BatchingOptions
from ganserve_bench.processes import RedisServer, gateway

URL = f"/v1/models/{COND_MODEL}/seeds/5.png?class=dog"
BATCH = {"latents": [{"seed": 6}, {"seed": 7}], "class": "cat", "output": "grid"}
LOAD_THREADS = 4


def embedded_bytes(settings: Settings, url: str = URL) -> bytes:
    """What the embedded engine makes from the weights in the models folder now."""
    with TestClient(create_app(settings)) as client:
        response = client.get(url)
    assert response.status_code == 200
    return response.content


class Load:
    """Threads that alternate over the gateways: a stable URL and a batch, recording every outcome."""

    def __init__(self, base_urls: list[str], headers: dict[str, str]):
        self.base_urls, self.headers = base_urls, headers
        self.records: list[tuple[float, str, int, str, str]] = []  # (time, gateway, status, etag, sha256 of body)
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(LOAD_THREADS)]

    def _run(self, index: int) -> None:
        with httpx.Client(headers=self.headers, timeout=30) as client:
            turn = index
            while not self.stopping.is_set():
                base = self.base_urls[turn % len(self.base_urls)]
                turn += 1
                try:
                    stable = turn % 3 != 0
                    response = client.get(base + URL) if stable else client.post(f"{base}/v1/models/{COND_MODEL}/images", json=BATCH)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{base}: {type(exc).__name__} {exc}")
                    continue
                etag = response.headers.get("etag", "") if stable else "batch"
                self.records.append((time.monotonic(), base, response.status_code, etag, hashlib.sha256(response.content).hexdigest()))

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()


def version_of(base_url: str, headers: dict[str, str]) -> str:
    return httpx.get(f"{base_url}/v1/models/{COND_MODEL}", headers=headers).json()["version"]


@pytest.fixture
def fleet(settings, tmp_path):
    """(settings of the copy, keys, Triton, gateway A, gateway B) on a copy of cond16 and its graphs."""
    if not local.available(settings.triton_env):
        pytest.skip(f"no local tritonserver: {local.INSTALL_HINT}")
    models, repository = tmp_path / "models", tmp_path / "repo"
    shutil.copytree(settings.models_dir / COND_MODEL, models / COND_MODEL)
    for target in (Target.onnx, Target.python):
        for entry in (settings.model_repository / target).glob(f"{COND_MODEL}_*"):
            shutil.copytree(entry, repository / target / entry.name)
    own = settings.model_copy(update={"models_dir": models, "model_repository": repository, "latents_path": tmp_path / "l.sqlite3"})
    keys = make_keys(tmp_path / "keys.sqlite3", admin=[Scope.admin], app=[Scope.generate])
    with local.LocalTriton(repository / Target.python, tmp_path / "triton", settings.triton_env, explicit_model_control=True) as triton:
        env = served_env(
            own,
            tmp_path,
            engine="triton",
            triton_url=triton.grpc_url,
            auth="keys",
            latents_path=str(tmp_path / "keys.sqlite3"),
            model_retire_grace_s="1",
            image_cache_bytes="0",  # every image made in Triton: the version each gateway asks for decides every response
        )
        with gateway(env, tmp_path / "a", COND_MODEL) as (first, _), gateway(env, tmp_path / "b", COND_MODEL) as (second, _):
            yield own, {name: {"Authorization": f"Bearer {key}"} for name, key in keys.items()}, triton, first, second


def test_new_weights_roll_out_across_gateways_without_a_failed_request(fleet, figures):
    settings, keys, triton, first, second = fleet
    old = embedded_bytes(settings)
    with Load([first.base_url, second.base_url], keys["app"]) as load:
        time.sleep(1.0)
        artifact = retrain(settings.models_dir / COND_MODEL, 1.5)
        compile_model(artifact, settings.model_repository, [Target.onnx, Target.python], BatchingOptions())
        new = embedded_bytes(settings)
        time.sleep(0.5)  # compiled, not reloaded: both gateways still serve the old weights

        started = time.monotonic()
        reloaded = httpx.post(f"{first.base_url}/v1/admin/reload", headers=keys["admin"], timeout=120)
        first_switched = time.monotonic()
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["models"] == [{"model": COND_MODEL, "outcome": "loaded", "version": artifact.digest[:16], "error": ""}]
        index = httpx.post(f"http://127.0.0.1:{triton.http_port}/v2/repository/index", json={"ready": True}).json()
        loaded = sorted(int(m["version"]) for m in index if m["name"] == f"{COND_MODEL}_synthesis")
        time.sleep(1.0)  # A serves the new version, B the old, both from one Triton

        os.kill(second.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while version_of(second.base_url, keys["app"]) != artifact.digest[:16]:
            assert time.monotonic() < deadline, "gateway B did not reload on SIGHUP"
            time.sleep(0.05)
        second_switched = time.monotonic()
        time.sleep(1.0)

    assert not load.errors, load.errors[:5]
    statuses = [status for _, _, status, _, _ in load.records]
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    # The bytes are the embedded engine's from each version's weights; the ETags are Triton's own
    # (an ETag names the engine too), one per version, the same from both gateways.
    version_of_body = {hashlib.sha256(old).hexdigest(): "old", hashlib.sha256(new).hexdigest(): "new"}
    stable = [(b, etag, version_of_body.get(body, "neither")) for _, b, _, etag, body in load.records if etag != "batch"]
    tags = {version: {etag for _, etag, v in stable if v == version} for version in ("old", "new", "neither")}
    assert not tags["neither"], "bytes of neither version's weights were served"
    assert len(tags["old"]) == len(tags["new"]) == 1 and tags["old"] != tags["new"], tags
    old_tag, new_tag = tags["old"].pop(), tags["new"].pop()
    for base in (first.base_url, second.base_url):
        versions = [v for b, _, v in stable if b == base]
        assert set(versions) == {"old", "new"}, f"{base} served {set(versions)}"
        assert versions == sorted(versions, key=lambda v: v == "new"), f"{base} went back to the old weights"  # one switch
    between = [etag for at, b, _, etag, _ in load.records if first_switched + 0.2 < at < second_switched and etag != "batch"]
    assert {old_tag, new_tag} <= set(between), "the two versions were not served side by side"
    batches = {b: {body for _, base, _, e, body in load.records if e == "batch" and base == b} for b in (first.base_url, second.base_url)}
    assert all(len(bodies) == 2 for bodies in batches.values())  # each gateway's batch: old, then new weights
    figures["requests"] = len(load.records)
    figures["failed"] = len(load.errors) + sum(status != 200 for status in statuses)
    figures["reload_call_s"] = round(first_switched - started, 2)
    figures["sighup_switch_s"] = round(second_switched - first_switched - 1.0, 2)
    assert loaded == [1, 2], index
    figures["versions_ready_in_triton"] = loaded


def test_a_new_model_rolls_out_across_gateways_without_a_failed_request(fleet, settings, figures):
    """A model Triton has never seen is compiled into its repository: one admin call has Triton load
    it for gateway A, SIGHUP makes gateway B serve it too, and the model under load meanwhile never fails."""
    own, keys, triton, first, second = fleet
    new_url = "/v1/models/demo64/seeds/3.png?psi=0.7"
    shutil.copytree(settings.models_dir / "demo64", own.models_dir / "demo64")
    for target in (Target.onnx, Target.python):  # the committed output of `ganserve compile models/demo64`
        for entry in (settings.model_repository / target).glob("demo64_*"):
            shutil.copytree(entry, own.model_repository / target / entry.name)
    expected = embedded_bytes(own, new_url)
    with Load([first.base_url, second.base_url], keys["app"]) as load:
        time.sleep(0.5)
        for server in (first, second):  # compiled, not reloaded: not served yet
            assert httpx.get(server.base_url + new_url, headers=keys["app"]).status_code == 404
        started = time.monotonic()
        reloaded = httpx.post(f"{first.base_url}/v1/admin/reload", headers=keys["admin"], timeout=120)
        reload_s = time.monotonic() - started
        assert reloaded.status_code == 200, reloaded.text
        outcomes = {change["model"]: change["outcome"] for change in reloaded.json()["models"]}
        assert outcomes == {COND_MODEL: "unchanged", "demo64": "loaded"}, reloaded.json()
        assert httpx.get(second.base_url + new_url, headers=keys["app"]).status_code == 404  # B was not told
        os.kill(second.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while httpx.get(f"{second.base_url}/v1/models/demo64", headers=keys["app"]).status_code != 200:
            assert time.monotonic() < deadline, "gateway B did not reload on SIGHUP"
            time.sleep(0.05)
        time.sleep(0.5)
    for server in (first, second):
        served = httpx.get(server.base_url + new_url, headers=keys["app"])
        assert served.status_code == 200 and served.content == expected  # made in Triton, equal to the embedded engine's
    index = httpx.post(f"http://127.0.0.1:{triton.http_port}/v2/repository/index", json={"ready": True}).json()
    assert {"demo64_mapping", "demo64_synthesis"} <= {m["name"] for m in index}, index
    assert not load.errors, load.errors[:5]
    statuses = [status for _, _, status, _, _ in load.records]
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    figures.update(requests=len(statuses), failed=len(load.errors) + sum(s != 200 for s in statuses), reload_call_s=round(reload_s, 2))


@pytest.fixture
def embedded_pair(settings, tmp_path):
    """(models folder, keys, gateway A, gateway B): two embedded gateways on one models folder and
    repository (copies of demo64 and cond16), sharing a cache Redis, with keys required."""
    models, repository = tmp_path / "models", tmp_path / "repo"
    for name in ("demo64", COND_MODEL):
        shutil.copytree(settings.models_dir / name, models / name)
        for entry in (settings.model_repository / Target.onnx).glob(f"{name}_*"):
            shutil.copytree(entry, repository / Target.onnx / entry.name)
    keys = make_keys(tmp_path / "keys.sqlite3", admin=[Scope.admin])
    with RedisServer(tmp_path / "redis", durable=False) as cache:
        env = served_env(
            settings,
            tmp_path,
            models_dir=str(models),
            model_repository=str(repository),
            redis_url=cache.url,
            auth="keys",
            latents_path=str(tmp_path / "keys.sqlite3"),
        )
        with gateway(env, tmp_path / "a", COND_MODEL) as (first, _), gateway(env, tmp_path / "b", COND_MODEL) as (second, _):
            yield models, {"Authorization": f"Bearer {keys['admin']}"}, first, second


def served_models(server) -> list[str]:
    return httpx.get(f"{server.base_url}/readyz").json()["models"]


def await_models(server, expected: list[str], timeout_s: float = 30) -> float:
    """Seconds until the gateway serves exactly `expected`."""
    started = time.monotonic()
    while served_models(server) != expected:
        assert time.monotonic() - started < timeout_s, f"still serving {served_models(server)}"
        time.sleep(0.02)
    return time.monotonic() - started


def test_one_admin_call_reloads_every_gateway_sharing_redis(embedded_pair, tmp_path, figures):
    models, admin, first, second = embedded_pair
    shutil.move(models / COND_MODEL, tmp_path / "aside")
    reloaded = httpx.post(f"{first.base_url}/v1/admin/reload", headers=admin, timeout=60).json()
    assert {m["model"]: m["outcome"] for m in reloaded["models"]} == {"demo64": "unchanged", COND_MODEL: "removed"}
    assert reloaded["notified"] == 1  # B, through the cache Redis
    assert served_models(first) == ["demo64"]
    figures["other_gateway_reloaded_s"] = round(await_models(second, ["demo64"]), 3)


def test_sighup_reloads_one_gateway(embedded_pair, tmp_path, figures):
    models, _, first, second = embedded_pair
    shutil.move(models / COND_MODEL, tmp_path / "aside")
    os.kill(second.proc.pid, signal.SIGHUP)
    figures["sighup_reloaded_s"] = round(await_models(second, ["demo64"]), 3)
    assert served_models(first) == sorted(["demo64", COND_MODEL])  # a signal is for its own process only
    shutil.move(tmp_path / "aside", models / COND_MODEL)
    os.kill(second.proc.pid, signal.SIGHUP)
    await_models(second, sorted(["demo64", COND_MODEL]))
