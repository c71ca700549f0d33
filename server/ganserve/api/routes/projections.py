"""Projection over HTTP: upload an image, follow the job, get a saved latent (docs/projection.md).

POST   /v1/models/{model}/projections   the image's bytes as the body (PNG, JPEG or WebP, at most
                                        GANSERVE_PROJECTION_MAX_UPLOAD_BYTES), options as query
                                        parameters -> 202 and the job, Location /v1/projections/{id}
GET    /v1/projections/{id}             the job: state, step, loss, PSNR, elapsed, and its result
GET    /v1/projections/{id}/events      progress as Server-Sent Events (resumes from Last-Event-ID):
                                        each event's data is JSON, with the reconstruction as a data
                                        URL every preview_every steps; the last one is succeeded
                                        (with latent_id and image_url), failed or cancelled
DELETE /v1/projections/{id}             cancel it (its submitter, or an admin)

The logic is in ganserve.operations.projections.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from ganserve.api.access import LatentReader, LatentWriter
from ganserve.api.deps import State
from ganserve.api.schemas import ErrorResponse, Responses
from ganserve.jobs import FINISHED
from ganserve.operations import projections
from ganserve.protocol import Projection, ProjectionOptions

router = APIRouter(tags=["projections"])

ProjectionId = Annotated[str, Path(description="the id returned when the projection was submitted")]
ERRORS: Responses = {
    404: {"model": ErrorResponse, "description": "unknown model or projection"},
    413: {"model": ErrorResponse, "description": "the upload is larger than GANSERVE_PROJECTION_MAX_UPLOAD_BYTES"},
    422: {"model": ErrorResponse, "description": "not a usable image, or invalid options; `field` names it"},
    429: {"model": ErrorResponse, "description": "the caller has GANSERVE_PROJECTION_MAX_JOBS_PER_KEY projections running"},
    503: {"model": ErrorResponse, "description": "the job queue is full or unavailable; see Retry-After"},
}
IMAGE_BODY = {
    "required": True,
    "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in ("image/png", "image/jpeg", "image/webp")},
}


@router.post(
    "/v1/models/{model}/projections",
    status_code=202,
    response_model=Projection,
    responses=ERRORS,
    openapi_extra={"requestBody": IMAGE_BODY},
    summary="Find the latent of an uploaded image: a job with progress",
)
async def submit_projection(
    request: Request,
    caller: LatentWriter,
    state: State,
    response: Response,
    model: Annotated[str, Path(max_length=200)],
    options: Annotated[ProjectionOptions, Query()],
) -> Projection:
    job = await projections.submit(state, caller, model, await request.body(), options)
    response.headers["Location"] = f"/v1/projections/{job.id}"
    return job


@router.get("/v1/projections/{id}", response_model=Projection, responses=ERRORS, summary="A projection job")
async def get_projection(caller: LatentReader, id: ProjectionId, state: State) -> Projection:
    return await projections.get(state, id)


@router.delete("/v1/projections/{id}", response_model=Projection, responses=ERRORS, summary="Cancel a projection job")
async def cancel_projection(caller: LatentWriter, id: ProjectionId, state: State) -> Projection:
    return await projections.cancel(state, caller, id)


@router.get(
    "/v1/projections/{id}/events",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "progress events"}},
    summary="A projection's progress as Server-Sent Events",
)
async def projection_events(
    caller: LatentReader,
    id: ProjectionId,
    state: State,
    last_event_id: Annotated[str | None, Header(description="resume after this event")] = None,
    after: Annotated[int, Query(ge=0, description="resume after this event (as Last-Event-ID)")] = 0,
) -> StreamingResponse:
    resume = int(last_event_id) if last_event_id and last_event_id.isdigit() else after
    job = await projections.get(state, id)  # 404 before the stream starts
    events = projections.follow(state, id, resume)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        async for event in events:
            if event is None:
                yield b": keep-alive\n\n"
                continue
            data = json.dumps(projections.event_json(event, job.model), separators=(",", ":"))
            kind = event.state.value if event.state in FINISHED else "progress"
            yield f"id: {event.seq}\nevent: {kind}\ndata: {data}\n\n".encode()

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
