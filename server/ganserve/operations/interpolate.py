"""Walks through keyframes: lerp in W or slerp in Z, then synthesis of every frame."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from ganserve import latents
from ganserve.errors import InvalidInput
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import AnimationFormat, ImageFormat, InterpolationOutput, InterpolationRequest, InterpolationSpace
from ganserve.settings import Settings
from ganserve.state import AppState


@dataclass
class Interpolation:
    format: ImageFormat | AnimationFormat  # an AnimationFormat exactly for output=animation
    ws: np.ndarray  # the final ws [N, num_ws, w_dim] of every frame returned (one for output=frame)
    images: np.ndarray | None  # uint8 [N, H, W, C]; None for output=latents (no synthesis)


@dataclass
class Frame:
    index: int
    count: int
    ws: np.ndarray  # [num_ws, w_dim], final
    image: np.ndarray | None  # uint8 [H, W, C]; None for output=latents


def check(body: InterpolationRequest, settings: Settings) -> ImageFormat | AnimationFormat:
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
    if body.output == InterpolationOutput.animation:
        if body.format not in AnimationFormat.__members__:
            raise InvalidInput("format", f"output={body.output} takes format {' | '.join(AnimationFormat.__members__)}")
        return AnimationFormat(body.format)
    if body.format not in ImageFormat.__members__:
        raise InvalidInput("format", f"output={body.output} takes format {' | '.join(ImageFormat.__members__)}")
    return ImageFormat(body.format)


async def interpolated_ws(body: InterpolationRequest, pipeline: ModelPipeline) -> np.ndarray:
    """Every frame's final ws [frames, num_ws, w_dim], truncated, then edited: each frame's edit
    offset is the lerp of its keyframes' offsets, so an edited keyframe is reached exactly."""
    class_index = pipeline.class_index(body.class_)
    key_offsets = pipeline.edit_offsets(body.keyframes, "keyframes")
    offsets = None if key_offsets is None else latents.walk(key_offsets, body.frames, body.loop, spherical=False)
    if body.space == InterpolationSpace.z:
        keys = np.stack([await pipeline.z_of(key, f"keyframes[{i}]") for i, key in enumerate(body.keyframes)])
        z = latents.walk(keys, body.frames, body.loop, spherical=True)
        ws = latents.broadcast_ws(await pipeline.w_from_z(z, class_index), pipeline.config.num_ws)
    else:
        keys = await pipeline.to_ws(body.keyframes, class_index, "keyframes")
        ws = latents.walk(keys, body.frames, body.loop, spherical=False)
    return pipeline.truncate(ws, body.psi, body.cutoff, offsets)


async def _synthesize(state: AppState, pipeline: ModelPipeline, body: InterpolationRequest, ws: np.ndarray) -> np.ndarray:
    """Every frame draws the same noise (noise=random), so that only the latent moves."""
    images = await pipeline.synthesize(ws, body.noise, body.noise_seed, same_noise=True, view=body.view)
    state.metrics.images.labels(pipeline.config.name).inc(len(images))
    return images


async def interpolate(state: AppState, pipeline: ModelPipeline, body: InterpolationRequest) -> Interpolation:
    """All frames at once (or the one of output=frame, or only the ws of output=latents)."""
    fmt = check(body, state.settings)
    ws = await interpolated_ws(body, pipeline)
    if body.output == InterpolationOutput.latents:
        return Interpolation(fmt, ws, None)
    if body.output == InterpolationOutput.frame and body.frame is not None:
        ws = ws[body.frame : body.frame + 1]
    return Interpolation(fmt, ws, await _synthesize(state, pipeline, body, ws))


async def stream(state: AppState, pipeline: ModelPipeline, body: InterpolationRequest) -> AsyncIterator[Frame]:
    """Frame by frame, synthesised in chunks of one engine batch, so that the first arrives early and a
    cancelled stream leaves the rest of the walk undone; output=latents: only each frame's ws."""
    check(body, state.settings)
    ws = await interpolated_ws(body, pipeline)
    count = len(ws)
    if body.output == InterpolationOutput.latents:
        for index in range(count):
            yield Frame(index, count, ws[index], None)
        return
    chunk = state.settings.batch_max_size
    for start in range(0, count, chunk):
        images = await _synthesize(state, pipeline, body, ws[start : start + chunk])
        for offset, image in enumerate(images):
            yield Frame(start + offset, count, ws[start + offset], image)
