"""GET /v1/models: what is served, with everything a client needs to build latents."""

from __future__ import annotations

from fastapi import APIRouter

from ganserve.api.deps import Pipeline, State
from ganserve.api.schemas import ERROR_RESPONSES, ModelInfo, ModelList
from ganserve.operations.models import model_info

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelList)
async def list_models(state: State) -> ModelList:
    return ModelList(models=[model_info(p) for p in state.pipelines.values()])


@router.get("/{model}", response_model=ModelInfo, responses={404: ERROR_RESPONSES[404]})
async def get_model(pipeline: Pipeline) -> ModelInfo:
    return model_info(pipeline)
