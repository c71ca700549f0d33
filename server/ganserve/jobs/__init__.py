"""Projection jobs: queued by a gateway, run by a worker (`ganserve worker`, with torch), followed by anyone.

Two implementations behind one protocol, like the saved-latent store: a Redis stream on the durable
instance (GANSERVE_REDIS_STORE_URL) so that any gateway can take a job, any worker can run it, and a
job outlives the gateway that took it; else a local SQLite file (GANSERVE_JOBS_PATH) that the
embedded gateway shares with the worker subprocess it starts.

A job is its record (state, progress, result), the target image (PNG bytes of the decoded, resized
upload) and an append-only list of events (one per progress report) that a follower reads from any
point: Server-Sent Events resume from Last-Event-ID. A worker reports progress as it goes; a
running job whose worker stopped reporting for GANSERVE_PROJECTION_STALE_S is taken by another
worker and run again from the start. Finished jobs and their events expire after
GANSERVE_PROJECTION_TTL_S.
"""

from __future__ import annotations

import time
from typing import Protocol

from pydantic import BaseModel, Field

from ganserve.protocol import ProjectionOptions, ProjectionState
from ganserve.settings import Settings

FINISHED = (ProjectionState.succeeded, ProjectionState.failed, ProjectionState.cancelled)


class TooManyJobs(RuntimeError):
    """429: the caller already has GANSERVE_PROJECTION_MAX_JOBS_PER_KEY jobs queued or running."""

    def __init__(self, limit: int):
        super().__init__(
            f"this caller has {limit} projections queued or running (GANSERVE_PROJECTION_MAX_JOBS_PER_KEY): "
            "wait for one to finish, or cancel one"
        )


class QueueFull(RuntimeError):
    """503: GANSERVE_PROJECTION_MAX_QUEUED jobs are queued or running in all; retry later."""

    def __init__(self, limit: int):
        super().__init__(f"{limit} projections are queued or running (GANSERVE_PROJECTION_MAX_QUEUED): retry later")


class JobsUnavailable(RuntimeError):
    """503: the job queue cannot be reached."""


class JobRecord(BaseModel):
    model_config = {"protected_namespaces": ()}

    id: str
    model: str
    model_version: str
    owner: str  # the key id ("" without a key): owner of the saved latent it makes
    submitter: str  # the caller's rate key: whose job count it is in
    options: ProjectionOptions
    class_index: int | None = None
    state: ProjectionState = ProjectionState.queued
    step: int = 0
    loss: float | None = None
    psnr: float | None = None
    created: float = Field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    latent_id: str | None = None
    attempts: int = 0  # runs started: more than one when a worker stopped mid-run

    @property
    def elapsed_s(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started


class JobEvent(BaseModel):
    model_config = {"ser_json_bytes": "base64", "val_json_bytes": "base64"}

    seq: int = 0  # 1, 2, ... in the order the queue wrote them (it numbers them): the SSE event id
    state: ProjectionState
    step: int
    steps: int
    loss: float | None = None
    psnr: float | None = None
    elapsed_s: float = 0.0
    preview_png: bytes | None = None  # the current reconstruction, every preview_every steps
    latent_id: str | None = None
    error: str | None = None


class Claimed(BaseModel):
    record: JobRecord
    target_png: bytes


class JobQueue(Protocol):
    # -- gateways ----------------------------------------------------------------------------------
    async def submit(self, record: JobRecord, target_png: bytes, max_per_submitter: int, max_queued: int) -> None:
        """Queue a new job, atomically with the counts: TooManyJobs, QueueFull."""

    async def get(self, id: str) -> JobRecord | None:
        """None when unknown or expired."""

    async def events(self, id: str, after: int, wait_s: float) -> list[JobEvent]:
        """Events after seq `after`, waiting up to wait_s for the first one."""

    async def cancel(self, id: str, ttl_s: float) -> JobRecord | None:
        """A queued job is cancelled at once (and expires after ttl_s); a running one when its worker next
        reports. Returns the record as it was; None: unknown."""

    # -- workers -----------------------------------------------------------------------------------
    async def claim(self, worker: str, wait_s: float, stale_s: float) -> Claimed | None:
        """The oldest queued job (or a running one whose worker stopped reporting), now running here."""

    async def report(self, record: JobRecord, event: JobEvent) -> bool:
        """Progress: updates the record and appends the event. False: stop (cancelled, or taken over by
        another worker after this one fell silent)."""

    async def finish(self, record: JobRecord, event: JobEvent, ttl_s: float) -> None:
        """The last event (succeeded, failed or cancelled): the job leaves the counts and expires after ttl_s."""

    async def close(self) -> None: ...


def make_job_queue(settings: Settings) -> JobQueue:
    """Redis streams on the durable instance when GANSERVE_REDIS_STORE_URL is set, else SQLite at GANSERVE_JOBS_PATH."""
    if settings.redis_store_url:
        from ganserve.jobs.redis import RedisJobQueue

        return RedisJobQueue(settings.redis_store_url, settings.store_timeout_s)
    from ganserve.jobs.sqlite import SQLiteJobQueue

    return SQLiteJobQueue(settings.jobs_path, settings.store_timeout_s)
