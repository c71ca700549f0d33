"""What is served: everything a client needs to build latents for a model."""

from __future__ import annotations

from ganserve.operations.training_log import has_training_log
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import Limits, ModelInfo, Reload
from ganserve.state import AppState


def model_info(state: AppState, pipeline: ModelPipeline) -> ModelInfo:
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
        default=cfg.name == state.default_model,
        training_log=has_training_log(state, pipeline),
        precision=pipeline.engine.precision,
        precision_reason=pipeline.engine.precision_reason,
    )


def list_models(state: AppState) -> list[ModelInfo]:
    return [model_info(state, pipeline) for pipeline in state.pipelines.values()]


def limits(state: AppState) -> Limits:
    s = state.settings
    return Limits(
        max_images=s.max_images,
        max_frames=s.max_frames,
        max_keyframes=s.max_keyframes,
        max_mix_side=s.max_mix_side,
        max_edits=s.max_edits,
        max_body_bytes=s.max_body_bytes,
    )


async def reload_models(state: AppState) -> Reload:
    """Serve the models folder as it is now (AppState.reload_models): the admin call and SIGHUP."""
    return Reload(models=await state.reload_models())
