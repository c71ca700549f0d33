"""GET /v1/models: what is served, with everything a client needs to build latents."""

from __future__ import annotations

from fastapi import APIRouter

from ganserve.access.keys import Scope
from ganserve.api.access import requires
from ganserve.api.deps import Pipeline, State
from ganserve.api.schemas import ERROR_RESPONSES, ModelList
from ganserve.operations.models import limits as request_limits
from ganserve.operations.models import list_models as served_models
from ganserve.operations.models import model_info
from ganserve.protocol import Limits, ModelInfo

router = APIRouter(prefix="/v1", tags=["models"], dependencies=requires(Scope.generate))


@router.get("/limits", response_model=Limits, summary="The per-request limits")
async def limits(state: State) -> Limits:
    return request_limits(state)


@router.get("/models", response_model=ModelList)
async def list_models(state: State) -> ModelList:
    return ModelList(models=served_models(state))


@router.get("/models/{model}", response_model=ModelInfo, responses={404: ERROR_RESPONSES[404]})
async def get_model(pipeline: Pipeline, state: State) -> ModelInfo:
    return model_info(state, pipeline)
