"""GET /v1/models: what is served, with everything a client needs to build latents."""

from __future__ import annotations

from fastapi import APIRouter

from ganserve.api.deps import Pipeline, State
from ganserve.api.schemas import ERROR_RESPONSES, ModelInfo, ModelList
from ganserve.pipeline import ModelPipeline

router = APIRouter(prefix="/v1/models", tags=["models"])


def model_info(pipeline: ModelPipeline) -> ModelInfo:
    cfg = pipeline.config
    return ModelInfo(
        name=cfg.name,
        architecture=cfg.architecture,
        resolution=cfg.resolution,
        img_channels=cfg.img_channels,
        z_dim=cfg.z_dim,
        w_dim=cfg.w_dim,
        num_ws=cfg.num_ws,
        c_dim=cfg.c_dim,
        class_names=cfg.class_names,
        layer_groups=cfg.layer_groups,
        version=pipeline.digest[:16],
        engine=pipeline.engine.name,
        source=cfg.source.model_dump(),
    )


@router.get("", response_model=ModelList)
async def list_models(state: State) -> ModelList:
    return ModelList(models=[model_info(p) for p in state.pipelines.values()])


@router.get("/{model}", response_model=ModelInfo, responses={404: ERROR_RESPONSES[404]})
async def get_model(pipeline: Pipeline) -> ModelInfo:
    return model_info(pipeline)
