"""A model's training run, read-only (the playground's training view):

GET /v1/models/{model}/training?after=N            the metrics log from line N, evaluations
GET /v1/models/{model}/training/samples/{file}     a checkpoint's sample grid (PNG)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from ganserve.access.keys import Scope
from ganserve.api.access import requires
from ganserve.api.deps import Pipeline, State
from ganserve.api.schemas import ERROR_RESPONSES, Responses
from ganserve.operations.training_log import samples_path, training_log
from ganserve.protocol import TrainingLog

router = APIRouter(prefix="/v1/models/{model}/training", tags=["training"], dependencies=requires(Scope.generate))
NOT_FOUND: Responses = {404: {**ERROR_RESPONSES[404], "description": "unknown model, or no training log"}}


@router.get("", response_model=TrainingLog, responses=NOT_FOUND, summary="The model's training log")
async def log(pipeline: Pipeline, state: State, after: Annotated[int, Query(ge=0, description="lines already read")] = 0) -> TrainingLog:
    return await training_log(state, pipeline, after)


@router.get(
    "/samples/{filename}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}}, **NOT_FOUND},
    summary="A checkpoint's sample grid",
)
async def samples(filename: str, pipeline: Pipeline, state: State) -> FileResponse:
    # Sample grids are rewritten only when a checkpoint of the same kimg is written again: cache briefly.
    return FileResponse(samples_path(state, pipeline, filename), media_type="image/png", headers={"Cache-Control": "max-age=60"})
