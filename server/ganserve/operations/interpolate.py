"""Walks through keyframes: lerp in W or slerp in Z, then synthesis of every frame."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from ganserve import latents
from ganserve.api.schemas import InterpolationOutput, InterpolationRequest, InterpolationSpace
from ganserve.encode import AnimationFormat, ImageFormat
from ganserve.errors import InvalidInput
from ganserve.pipeline import ModelPipeline


def check(body: InterpolationRequest, settings) -> ImageFormat | AnimationFormat:
    """Limits and consistency, before any work; the output's format."""
    if body.frames > settings.max_frames:
        raise InvalidInput("frames", f"at most {settings.max_frames} frames (GANSERVE_MAX_FRAMES)")
    if len(body.keyframes) > settings.max_keyframes:
        raise InvalidInput("keyframes", f"at most {settings.max_keyframes} keyframes (GANSERVE_MAX_KEYFRAMES)")
    if body.space == InterpolationSpace.z:
        for i, key in enumerate(body.keyframes):
            if key.kind not in ("seed", "z", "id"):  # a saved id is checked when it is read
                raise InvalidInput(f"keyframes[{i}]", "interpolation in Z needs seeds, z or saved z; use space=w for w or ws")
    if body.output == InterpolationOutput.frame and (body.frame is None or body.frame >= body.frames):
        raise InvalidInput("frame", f"output=frame needs a frame index 0-{body.frames - 1}")
    allowed = AnimationFormat if body.output == InterpolationOutput.animation else ImageFormat
    if body.format not in allowed.__members__:
        raise InvalidInput("format", f"output={body.output} takes format {' | '.join(allowed.__members__)}")
    return allowed(body.format)


async def interpolated_ws(body: InterpolationRequest, pipeline: ModelPipeline) -> np.ndarray:
    """Every frame's final ws [frames, num_ws, w_dim], truncated."""
    class_index = pipeline.class_index(body.class_)
    if body.space == InterpolationSpace.z:
        keys = np.stack([await pipeline.z_of(key, f"keyframes[{i}]") for i, key in enumerate(body.keyframes)])
        z = latents.walk(keys, body.frames, body.loop, spherical=True)
        ws = latents.broadcast_ws(await pipeline.w_from_z(z, class_index), pipeline.config.num_ws)
    else:
        keys = await pipeline.to_ws(body.keyframes, class_index, "keyframes")
        ws = latents.walk(keys, body.frames, body.loop, spherical=False)
    return pipeline.truncate(ws, body.psi, body.cutoff)


async def synthesize_frames(state, pipeline: ModelPipeline, body: InterpolationRequest, ws: np.ndarray) -> np.ndarray:
    """All frames at once. Every frame draws the same noise (noise=random), so only the latent moves."""
    images = await pipeline.synthesize(ws, body.noise, body.noise_seed, same_noise=True, view=body.view)
    state.metrics.images.labels(pipeline.config.name).inc(len(images))
    return images


async def stream_frames(state, pipeline: ModelPipeline, body: InterpolationRequest, ws: np.ndarray) -> AsyncIterator[np.ndarray]:
    """The same frames in chunks of one engine batch, so that the first arrives early and a cancelled
    stream leaves the rest of the walk undone."""
    chunk = state.settings.batch_max_size
    for start in range(0, len(ws), chunk):
        for image in await synthesize_frames(state, pipeline, body, ws[start : start + chunk]):
            yield image
