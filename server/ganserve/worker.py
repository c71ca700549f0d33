"""`ganserve worker`: runs projection jobs (with torch) from the job queue the gateways fill.

A worker takes a job, optimises a latent for its image (ganserve.projection), reports progress as
it goes (a few times a second at most, and every preview), and saves the result as a latent owned
by the job's key, within the key's quota. A cancelled job stops at its next report. The models are
those in GANSERVE_MODELS_DIR: a job for weights that changed since it was queued fails, naming
both versions, rather than saving a latent of the wrong model.

Stopping (SIGTERM, SIGINT, or the parent gateway gone): no new job is taken; a job running then is
left to be run again by the next worker once it is stale (GANSERVE_PROJECTION_STALE_S).

The job queue or the store out of reach (a Redis restarting, say): the worker waits and tries again,
backing off, instead of exiting. A running job goes on without reporting; one that cannot save its
result or its end is left to run again once stale, like a stopping worker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from typing import Any

from ganserve.artifacts import Artifact, discover
from ganserve.decode import from_png, to_png
from ganserve.errors import QuotaExceeded
from ganserve.jobs import JobEvent, JobQueue, JobRecord, JobsUnavailable, make_job_queue
from ganserve.protocol import ProjectionState
from ganserve.settings import Settings
from ganserve.store import LatentStore, SavedLatent, StoreUnavailable, make_store, new_id

log = logging.getLogger("ganserve.worker")
REPORT_EVERY_S = 0.25  # progress between previews: at most this often
CLAIM_WAIT_S = 1.0
FIRST_RETRY_S, LONGEST_RETRY_S = 0.5, 10.0  # waits while the job queue cannot be reached: doubling, up to the longest


class Outage:
    """How long to wait before the next try while the job queue cannot be reached, doubling from
    FIRST_RETRY_S to LONGEST_RETRY_S; logged once when it starts and once when it ends."""

    def __init__(self, worker: str):
        self.worker = worker
        self.since: float | None = None
        self.next_wait_s = FIRST_RETRY_S

    def failed(self, error: Exception) -> float:
        if self.since is None:
            self.since = time.monotonic()
            log.warning("projection worker %s: %s; trying again, backing off up to %.0f s", self.worker, error, LONGEST_RETRY_S)
        wait_s, self.next_wait_s = self.next_wait_s, min(2 * self.next_wait_s, LONGEST_RETRY_S)
        return wait_s

    def over(self) -> None:
        if self.since is not None:
            log.info("projection worker %s: the job queue is back after %.1f s", self.worker, time.monotonic() - self.since)
            self.since, self.next_wait_s = None, FIRST_RETRY_S


class Worker:
    def __init__(self, settings: Settings, name: str, parent_pid: int | None = None):
        self.settings, self.name, self.parent_pid = settings, name, parent_pid
        self.queue: JobQueue = make_job_queue(settings)
        self.store: LatentStore = make_store(settings)
        self.stopping = asyncio.Event()
        self.projectors: dict[str, tuple[str, Any]] = {}  # model -> (digest, Projector)
        self.jobs_run = 0

    def _projector(self, artifact: Artifact) -> Any:
        from ganserve.projection.method import Projector  # torch: only in the worker

        cached = self.projectors.get(artifact.config.name)
        if cached is None or cached[0] != artifact.digest:
            projector = Projector(artifact, device=self.settings.projection_device, threads=self.settings.threads)
            self.projectors[artifact.config.name] = cached = (artifact.digest, projector)
        return cached[1]

    def _parent_gone(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    async def run(self, max_jobs: int | None = None) -> None:
        """Until stopped (or after max_jobs, for tests)."""
        slots = asyncio.Semaphore(self.settings.projection_worker_jobs)
        running: set[asyncio.Task] = set()
        outage = Outage(self.name)
        log.info("projection worker %s: queue %r, store %r", self.name, self.queue, self.store)
        try:
            while not self.stopping.is_set() and (max_jobs is None or self.jobs_run < max_jobs):
                if self._parent_gone():
                    log.info("projection worker %s: the gateway that started it is gone; stopping", self.name)
                    break
                await slots.acquire()
                try:
                    claimed = await self.queue.claim(self.name, CLAIM_WAIT_S, self.settings.projection_stale_s)
                except JobsUnavailable as exc:
                    slots.release()
                    await self._sleep(outage.failed(exc))
                    continue
                outage.over()
                if claimed is None:
                    slots.release()
                    continue
                self.jobs_run += 1
                task = asyncio.create_task(self._run_job(claimed.record, claimed.target_png))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _: slots.release())
            await asyncio.gather(*running, return_exceptions=True)  # a stopping worker's jobs stop at their next report
        finally:
            await self.queue.close()
            await self.store.close()

    async def _sleep(self, seconds: float) -> None:
        """Wait, but no longer than until the worker is told to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _run_job(self, record: JobRecord, target_png: bytes) -> None:
        steps = record.options.steps
        try:
            latent_id = await self._project(record, target_png)
        except Exception as exc:
            from ganserve.projection.method import ProjectionCancelled

            if isinstance(exc, ProjectionCancelled):
                record.state, record.finished = ProjectionState.cancelled, time.time()
                if await self._finish(record, JobEvent(state=record.state, step=record.step, steps=steps)):
                    log.info("projection %s cancelled at step %d", record.id, record.step)
                return
            if isinstance(exc, _Superseded):
                log.info("projection %s was taken over by another worker", record.id)
                return
            if isinstance(exc, _Stopping):
                log.info("projection %s left at step %d: this worker is stopping; it runs again once stale", record.id, record.step)
                return
            if isinstance(exc, JobsUnavailable | StoreUnavailable):  # its result or its end not saved: nothing to report it to
                log.warning("projection %s left at step %d: %s; it runs again once stale", record.id, record.step, exc)
                return
            message = str(exc) if isinstance(exc, QuotaExceeded | _ModelChanged) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, QuotaExceeded | _ModelChanged):
                log.exception("projection %s failed", record.id)
            record.state, record.error, record.finished = ProjectionState.failed, message, time.time()
            event = JobEvent(
                state=record.state,
                step=record.step,
                steps=steps,
                loss=record.loss,
                psnr=record.psnr,
                elapsed_s=record.elapsed_s,
                error=message,
            )
            await self._finish(record, event)
            return
        record.state, record.latent_id, record.finished = ProjectionState.succeeded, latent_id, time.time()
        event = JobEvent(
            state=record.state,
            step=record.step,
            steps=steps,
            loss=record.loss,
            psnr=record.psnr,
            elapsed_s=record.elapsed_s,
            latent_id=latent_id,
        )
        if await self._finish(record, event):
            psnr = record.psnr or 0
            log.info("projection %s: %d steps, %.2f dB, %.1f s -> latent %s", record.id, steps, psnr, record.elapsed_s, latent_id)

    async def _finish(self, record: JobRecord, event: JobEvent) -> bool:
        """Record the job's end; False when the queue cannot be reached (the job then runs again once stale)."""
        try:
            await self.queue.finish(record, event, self.settings.projection_ttl_s)
        except JobsUnavailable as exc:
            log.warning("projection %s: its end (%s) not recorded: %s; it runs again once stale", record.id, record.state.value, exc)
            return False
        return True

    async def _project(self, record: JobRecord, target_png: bytes) -> str:
        from ganserve.projection.method import ProjectionOptions

        artifact = next((a for a in discover(self.settings.models_dir) if a.config.name == record.model), None)
        if artifact is None or artifact.digest[:16] != record.model_version:
            now = "gone" if artifact is None else f"now {artifact.digest[:16]}"
            raise _ModelChanged(f"model {record.model} changed since the projection was queued (version {record.model_version}, {now})")
        loop = asyncio.get_running_loop()
        projector = await loop.run_in_executor(None, self._projector, artifact)
        options = ProjectionOptions(
            steps=record.options.steps,
            space=record.options.space,
            seed=record.options.seed,
            class_index=record.class_index,
            preview_every=record.options.preview_every,
        )
        last_report = 0.0
        superseded = False

        def on_progress(progress: Any) -> bool:
            """On the projection's thread: report through the event loop, and stop when told to."""
            nonlocal last_report, superseded
            if self.stopping.is_set() or self._parent_gone():
                raise _Stopping()
            record.step, record.loss, record.psnr = progress.step, float(progress.loss), float(progress.psnr)
            now = time.monotonic()
            if progress.preview is None and now - last_report < REPORT_EVERY_S and progress.step < progress.steps:
                return True
            last_report = now
            event = JobEvent(
                state=ProjectionState.running,
                step=progress.step,
                steps=progress.steps,
                loss=record.loss,
                psnr=record.psnr,
                elapsed_s=record.elapsed_s,
                preview_png=None if progress.preview is None else to_png(progress.preview),
            )
            try:
                go_on = asyncio.run_coroutine_threadsafe(self.queue.report(record, event), loop).result()
            except JobsUnavailable:  # the queue out of reach: go on unreported; past the stale time another worker takes the job
                return True
            if not go_on:
                superseded = asyncio.run_coroutine_threadsafe(self._was_superseded(record), loop).result()
            return go_on

        from ganserve.projection.method import ProjectionCancelled

        try:
            result = await loop.run_in_executor(None, projector.project, from_png(target_png), options, on_progress)
        except ProjectionCancelled:
            if superseded:
                raise _Superseded() from None
            raise
        record.loss, record.psnr = float(result.loss), float(result.psnr)
        kind, values = ("w", result.w) if record.options.space == "w" and result.w is not None else ("ws", result.ws)
        source = {"projection": record.id, "space": record.options.space, "steps": record.options.steps, "seed": record.options.seed}
        source["psnr"] = round(record.psnr, 3)
        if record.class_index is not None:
            source["class"] = record.class_index
        latent = SavedLatent(
            id=new_id(),
            model=record.model,
            model_version=record.model_version,
            kind=kind,
            values=values.astype("float32").tolist(),
            name=record.options.name or "projection",
            source=source,
            created=time.time(),
            owner=record.owner,
        )
        await self.store.save(latent, quota=self.settings.max_saved_latents_per_key)
        return latent.id

    async def _was_superseded(self, record: JobRecord) -> bool:
        stored = await self.queue.get(record.id)
        return stored is not None and stored.attempts != record.attempts


class _ModelChanged(RuntimeError):
    pass


class _Stopping(Exception):
    """This worker is stopping: the job is left to run again elsewhere."""


class _Superseded(Exception):
    """Another worker runs this job now: this one stops without a word."""


def run_worker(settings: Settings, name: str, parent_pid: int | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        worker = Worker(settings, name, parent_pid)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stopping.set)
        await worker.run()

    asyncio.run(main())
