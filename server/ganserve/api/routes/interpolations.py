"""POST /v1/models/{model}/interpolations: walks through keyframes (lerp in W or slerp in Z)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ganserve.access.keys import Scope
from ganserve.api.access import GenerateCaller, requires
from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State, encode_base64
from ganserve.api.schemas import ERROR_RESPONSES, FramesResponse, LatentsResponse
from ganserve.encode import MEDIA_TYPES, encode_animation, encode_image
from ganserve.operations import cost
from ganserve.operations import interpolate as interpolating
from ganserve.protocol import AnimationFormat, InterpolationOutput, InterpolationRequest

router = APIRouter(prefix="/v1/models/{model}", tags=["latents"], dependencies=requires(Scope.generate))

ANIMATION_CONTENT: dict[str, Any] = {"image/webp": {}, "image/gif": {}}


@router.post(
    "/interpolations",
    response_model=None,  # JSON of two shapes or image bytes, by `output`: no one response model
    responses={200: {"content": {"application/json": {}, **ANIMATION_CONTENT, **IMAGE_RESPONSE["content"]}}, **ERROR_RESPONSES},
    summary="Interpolate between keyframes: animation, frames, one frame, or the latents",
)
async def interpolate(
    caller: GenerateCaller, body: InterpolationRequest, pipeline: Pipeline, state: State
) -> Response | LatentsResponse | FramesResponse:
    await cost.admit(state, caller, cost.of_interpolation(body, pipeline.config.resolution))
    walk = await interpolating.interpolate(state, pipeline, body)
    fmt, images, settings = walk.format, walk.images, state.settings
    if images is None:
        return LatentsResponse(model=pipeline.config.name, ws=walk.ws.tolist())
    if isinstance(fmt, AnimationFormat):
        return Response(await state.run_blocking(encode_animation, images, fmt, body.fps, settings), media_type=MEDIA_TYPES[fmt])
    if body.output == InterpolationOutput.frame:
        return Response(await state.run_blocking(encode_image, images[0], fmt, settings), media_type=MEDIA_TYPES[fmt])
    frames = await encode_base64(state, images, fmt, walk.ws if body.include_ws else None)
    return FramesResponse(model=pipeline.config.name, frames=frames)
