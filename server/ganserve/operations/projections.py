"""Projection: an uploaded image -> the latent that reproduces it, as a job (ganserve.jobs).

Everything a request can get wrong is refused before the job is queued: an unknown model, too many
steps, an unusable upload (ganserve.decode), too many of the caller's jobs at once (429), a full
queue (503). The gateway only decodes and queues; a worker with torch (`ganserve worker`, or the
subprocesses the embedded gateway starts) runs the optimisation and saves the result as a latent
owned by the caller's key: kind w when projecting in W, ws in W+.

A job is read by its id by anyone who may read latents (the id is unguessable, like a saved
latent's: a share link); only its submitter (or an admin) cancels it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

from ganserve.access.gate import Caller
from ganserve.decode import decode_upload, to_png
from ganserve.errors import InvalidInput, NotFound, PermissionDenied
from ganserve.jobs import FINISHED, JobEvent, JobRecord
from ganserve.protocol import Projection, ProjectionOptions
from ganserve.state import AppState
from ganserve.store import is_valid_id, new_id

EVENT_WAIT_S = 15.0  # a follower with nothing new hears a keep-alive this often


def _view(record: JobRecord) -> Projection:
    return Projection(
        id=record.id,
        model=record.model,
        state=record.state,
        step=record.step,
        steps=record.options.steps,
        loss=record.loss,
        psnr=record.psnr,
        elapsed_s=round(record.elapsed_s, 3),
        attempts=record.attempts,
        created=record.created,
        options=record.options,
        error=record.error,
        latent_id=record.latent_id,
        image_url=f"/v1/models/{record.model}/latents/{record.latent_id}.png" if record.latent_id else None,
        events_url=f"/v1/projections/{record.id}/events",
    )


async def submit(state: AppState, caller: Caller, model: str, upload: bytes, options: ProjectionOptions) -> Projection:
    settings = state.settings
    pipeline = state.pipeline(model)
    if options.steps > settings.projection_max_steps:
        raise InvalidInput("steps", f"{options.steps} steps is more than {settings.projection_max_steps} (GANSERVE_PROJECTION_MAX_STEPS)")
    if len(upload) > settings.projection_max_upload_bytes:  # gRPC; over HTTP the body limit stopped it already
        raise InvalidInput(
            "image", f"the file is larger than {settings.projection_max_upload_bytes} bytes (GANSERVE_PROJECTION_MAX_UPLOAD_BYTES)"
        )
    class_index = None if options.class_ is None else pipeline.class_index(options.class_)
    target = await state.run_blocking(decode_upload, upload, pipeline.config.resolution, settings.projection_max_image_pixels)
    record = JobRecord(
        id=new_id(),
        model=model,
        model_version=pipeline.digest[:16],
        owner=caller.owner,
        submitter=caller.rate_key,
        options=options,
        class_index=class_index,
    )
    target_png = await state.run_blocking(to_png, target)
    await state.jobs.submit(record, target_png, settings.projection_max_jobs_per_key, settings.projection_max_queued)
    state.local_workers.ensure_running()
    return _view(record)


async def _record(state: AppState, id: str) -> JobRecord:
    record = await state.jobs.get(id) if is_valid_id(id) else None
    if record is None:
        raise NotFound("id", f"no projection {id!r} (unknown, or finished more than GANSERVE_PROJECTION_TTL_S ago)")
    return record


async def get(state: AppState, id: str) -> Projection:
    return _view(await _record(state, id))


async def cancel(state: AppState, caller: Caller, id: str) -> Projection:
    record = await _record(state, id)
    if record.submitter != caller.rate_key and not caller.sees_everything:
        raise PermissionDenied("latents:write", f"projection {id} was submitted by another caller")
    await state.jobs.cancel(id, state.settings.projection_ttl_s)
    return _view(await _record(state, id))


async def follow(state: AppState, id: str, after: int = 0) -> AsyncIterator[JobEvent | None]:
    """The job's events after seq `after`, until its last one; None when nothing came for EVENT_WAIT_S."""
    await _record(state, id)
    while True:
        events = await state.jobs.events(id, after, EVENT_WAIT_S)
        if not events:
            if await state.jobs.get(id) is None:  # expired meanwhile
                return
            yield None
            continue
        for event in events:
            yield event
            after = event.seq
            if event.state in FINISHED:
                return


def event_json(event: JobEvent, model: str) -> dict[str, object]:
    """An event as the API shows it: the preview as a data URL, the result as URLs."""
    body = event.model_dump(exclude={"preview_png"}, exclude_none=True)
    if event.preview_png is not None:
        body["preview"] = "data:image/png;base64," + base64.b64encode(event.preview_png).decode()
    if event.latent_id is not None:
        body["image_url"] = f"/v1/models/{model}/latents/{event.latent_id}.png"
    body["time"] = time.time()
    return body
