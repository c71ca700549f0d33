"""`ganserve worker` as production runs it: gateways and workers apart, sharing a real, durable
redis-server. A job outlives the gateway that took it, a worker killed mid-run (-9) loses no job:
another worker takes it over once it is stale and runs it to the end, and a worker waits out the
store's redis-server killed and restarted, idle and mid-job."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ganserve.api.app import create_app
from ganserve.jobs.local_workers import settings_env
from ganserve.settings import REPO_ROOT
from ganserve_bench.processes import RedisServer

MODEL = "emoji32"
STALE_S = 3.0


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("worker-store"), durable=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared(settings, store, tmp_path_factory):
    root = tmp_path_factory.mktemp("worker")
    shutil.copytree(REPO_ROOT / "models" / MODEL, root / "models" / MODEL)
    return settings.model_copy(
        update={
            "models_dir": root / "models",
            "model_repository": REPO_ROOT / "model_repository",
            "default_model": MODEL,
            "redis_store_url": store.url,
            "projection_local_workers": 0,  # workers apart, as in production
            "projection_stale_s": STALE_S,
            "threads": 1,
        }
    )


class Worker:
    def __init__(self, settings, name: str, log_dir):
        env = {**os.environ, **settings_env(settings)}
        self.log = (log_dir / f"{name}.log").open("wb")
        command = [sys.executable, "-c", "from ganserve.cli import app; app()", "worker", "--name", name]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(30)
        self.log.close()
        return code


def wait_for_log(worker: "Worker", text: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in Path(worker.log.name).read_text(errors="replace"):
        assert worker.process.poll() is None, f"the worker exited with {worker.process.returncode}"
        assert time.monotonic() < deadline, f"the worker never logged {text!r}"
        time.sleep(0.05)


def wait_for(api, id: str, until, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = api.get(f"/v1/projections/{id}").json()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"projection {id} is still {job}"
        time.sleep(0.1)


def emoji(api, seed: int) -> bytes:
    return api.get(f"/v1/models/{MODEL}/seeds/{seed}.png", params={"class": 2}).content


def test_a_job_outlives_the_gateway_that_took_it(shared, tmp_path):
    with TestClient(create_app(shared)) as first:
        target = emoji(first, 11)
        job = first.post(f"/v1/models/{MODEL}/projections", content=target, params={"steps": 20}).json()
        assert job["state"] == "queued"
    # That gateway is gone; a worker starts, and another gateway follows the job to its end.
    worker = Worker(shared, "w1", tmp_path)
    try:
        with TestClient(create_app(shared)) as second:
            done = wait_for(second, job["id"], lambda j: j["state"] == "succeeded")
            latent = second.get(f"/v1/latents/{done['latent_id']}").json()
            assert latent["kind"] == "w" and latent["source"]["projection"] == job["id"]
            image = second.get(done["image_url"])
            assert image.status_code == 200
    finally:
        assert worker.stop() == 0  # SIGTERM: it stops cleanly


def test_a_job_whose_worker_is_killed_is_taken_over_and_finished(shared, tmp_path):
    with TestClient(create_app(shared)) as api:
        job = api.post(f"/v1/models/{MODEL}/projections", content=emoji(api, 12), params={"steps": 150}).json()
        doomed = Worker(shared, "doomed", tmp_path)
        wait_for(api, job["id"], lambda j: j["state"] == "running" and j["step"] >= 3)
        doomed.stop(signal.SIGKILL)
        killed_at = api.get(f"/v1/projections/{job['id']}").json()["step"]
        assert killed_at < 150
        rescuer = Worker(shared, "rescuer", tmp_path)
        try:
            done = wait_for(api, job["id"], lambda j: j["state"] == "succeeded", timeout_s=240)
        finally:
            rescuer.stop()
        assert done["step"] == 150 and done["latent_id"]
        assert done["attempts"] == 2  # run again from the start by the second worker
        assert np.isfinite(done["psnr"])


def test_a_worker_waits_out_the_store_killed_and_restarted_idle_and_mid_job(shared, tmp_path):
    with RedisServer(tmp_path / "store", durable=True) as store:
        settings = shared.model_copy(update={"redis_store_url": store.url})
        worker = Worker(settings, "patient", tmp_path)
        try:
            wait_for_log(worker, "projection worker patient: queue")
            store.kill()  # idle: the worker is waiting for a job
            wait_for_log(worker, "trying again")
            time.sleep(2.0)  # a few tries, backing off
            assert worker.process.poll() is None
            store.start()
            with TestClient(create_app(settings)) as api:
                job = api.post(f"/v1/models/{MODEL}/projections", content=emoji(api, 13), params={"steps": 150}).json()
                wait_for(api, job["id"], lambda j: j["state"] == "running" and j["step"] >= 3)
                store.kill()  # mid-job: its reports fail, the projection goes on
                time.sleep(1.0)
                assert worker.process.poll() is None
                store.start()
                done = wait_for(api, job["id"], lambda j: j["state"] == "succeeded", timeout_s=240)
                assert api.get(f"/v1/latents/{done['latent_id']}").status_code == 200
            assert done["step"] == 150 and done["attempts"] == 1  # the same run, not taken over: back within the stale time
        finally:
            code = worker.stop()
        assert code == 0
        assert "the job queue is back after" in Path(worker.log.name).read_text(errors="replace")


async def test_a_job_for_weights_that_changed_since_it_was_queued_fails_naming_both(shared, tmp_path):
    from ganserve.jobs import JobRecord
    from ganserve.jobs.sqlite import SQLiteJobQueue
    from ganserve.protocol import ProjectionOptions
    from ganserve.worker import Worker as InProcessWorker

    settings = shared.model_copy(
        update={"redis_store_url": None, "jobs_path": tmp_path / "jobs.sqlite3", "latents_path": tmp_path / "l.db"}
    )
    queue = SQLiteJobQueue(settings.jobs_path)
    old = JobRecord(id="OldWeights", model=MODEL, model_version="0123456789abcdef", owner="", submitter="x", options=ProjectionOptions())
    await queue.submit(old, b"png", 2, 10)
    await InProcessWorker(settings, "w").run(max_jobs=1)
    failed = await queue.get(old.id)
    assert failed.state == "failed" and "changed since the projection was queued (version 0123456789abcdef, now" in failed.error
    await queue.close()
