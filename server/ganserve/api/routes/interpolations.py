"""POST /v1/models/{model}/interpolations: walks through keyframes (lerp in W or slerp in Z)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State, encode_base64
from ganserve.api.schemas import ERROR_RESPONSES, FramesResponse, InterpolationOutput, InterpolationRequest, LatentsResponse
from ganserve.encode import MEDIA_TYPES, encode_animation, encode_image
from ganserve.operations.interpolate import check, interpolated_ws, synthesize_frames

router = APIRouter(prefix="/v1/models/{model}", tags=["latents"])

ANIMATION_CONTENT = {"image/webp": {}, "image/gif": {}}


@router.post(
    "/interpolations",
    responses={200: {"content": {"application/json": {}, **ANIMATION_CONTENT, **IMAGE_RESPONSE["content"]}}, **ERROR_RESPONSES},
    summary="Interpolate between keyframes: animation, frames, one frame, or the latents",
)
async def interpolate(body: InterpolationRequest, pipeline: Pipeline, state: State):
    fmt = check(body, state.settings)
    ws = await interpolated_ws(body, pipeline)
    if body.output == InterpolationOutput.latents:
        return LatentsResponse(model=pipeline.config.name, ws=ws.tolist())
    if body.output == InterpolationOutput.frame:
        ws = ws[body.frame : body.frame + 1]
    images = await synthesize_frames(state, pipeline, body, ws)
    if body.output == InterpolationOutput.animation:
        data = await state.run_blocking(encode_animation, images, fmt, body.fps, state.settings)
        return Response(data, media_type=MEDIA_TYPES[fmt])
    if body.output == InterpolationOutput.frame:
        data = await state.run_blocking(encode_image, images[0], fmt, state.settings)
        return Response(data, media_type=MEDIA_TYPES[fmt])
    return FramesResponse(model=pipeline.config.name, frames=await encode_base64(state, images, fmt, ws if body.include_ws else None))
