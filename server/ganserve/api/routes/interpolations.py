"""POST /v1/models/{model}/interpolations: walks through keyframes (lerp in W or slerp in Z)."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response

from ganserve import latents
from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State, encode_base64
from ganserve.api.schemas import (
    ERROR_RESPONSES,
    FramesResponse,
    InterpolationOutput,
    InterpolationRequest,
    InterpolationSpace,
    LatentsResponse,
)
from ganserve.encode import MEDIA_TYPES, AnimationFormat, ImageFormat, encode_animation, encode_image
from ganserve.errors import InvalidInput

router = APIRouter(prefix="/v1/models/{model}", tags=["latents"])

ANIMATION_CONTENT = {"image/webp": {}, "image/gif": {}}


def _check(body: InterpolationRequest, settings) -> ImageFormat | AnimationFormat:
    if body.frames > settings.max_frames:
        raise InvalidInput("frames", f"at most {settings.max_frames} frames (GANSERVE_MAX_FRAMES)")
    if len(body.keyframes) > settings.max_keyframes:
        raise InvalidInput("keyframes", f"at most {settings.max_keyframes} keyframes")
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


async def interpolated_ws(body: InterpolationRequest, pipeline) -> np.ndarray:
    class_index = pipeline.class_index(body.class_)
    if body.space == InterpolationSpace.z:
        keys = np.stack([await pipeline.z_of(key, f"keyframes[{i}]") for i, key in enumerate(body.keyframes)])
        z = latents.walk(keys, body.frames, body.loop, spherical=True)
        ws = latents.broadcast_ws(await pipeline.w_from_z(z, class_index), pipeline.config.num_ws)
    else:
        keys = await pipeline.to_ws(body.keyframes, class_index, "keyframes")
        ws = latents.walk(keys, body.frames, body.loop, spherical=False)
    return pipeline.truncate(ws, body.psi, body.cutoff)


@router.post(
    "/interpolations",
    responses={200: {"content": {"application/json": {}, **ANIMATION_CONTENT, **IMAGE_RESPONSE["content"]}}, **ERROR_RESPONSES},
    summary="Interpolate between keyframes: animation, frames, one frame, or the latents",
)
async def interpolate(body: InterpolationRequest, pipeline: Pipeline, state: State):
    fmt = _check(body, state.settings)
    ws = await interpolated_ws(body, pipeline)
    if body.output == InterpolationOutput.latents:
        return LatentsResponse(model=pipeline.config.name, ws=ws.tolist())
    if body.output == InterpolationOutput.frame:
        ws = ws[body.frame : body.frame + 1]
    images = await pipeline.synthesize(ws, body.noise, body.noise_seed, same_noise=True)
    state.metrics.images.labels(pipeline.config.name).inc(len(images))
    if body.output == InterpolationOutput.animation:
        data = await state.run_blocking(encode_animation, images, fmt, body.fps, state.settings)
        return Response(data, media_type=MEDIA_TYPES[fmt])
    if body.output == InterpolationOutput.frame:
        data = await state.run_blocking(encode_image, images[0], fmt, state.settings)
        return Response(data, media_type=MEDIA_TYPES[fmt])
    return FramesResponse(model=pipeline.config.name, frames=await encode_base64(state, images, fmt))
