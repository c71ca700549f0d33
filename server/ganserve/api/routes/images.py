"""POST /v1/models/{model}/images: a batch from seeds, z, w or ws, as JSON or one grid image."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ganserve.access.keys import Scope
from ganserve.api.access import GenerateCaller, requires
from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State, encode_base64
from ganserve.api.schemas import ERROR_RESPONSES, BatchResponse
from ganserve.encode import MEDIA_TYPES, encode_image, tile
from ganserve.operations import cost
from ganserve.operations.generate import generate
from ganserve.protocol import BatchOutput, BatchRequest

router = APIRouter(prefix="/v1/models/{model}", tags=["images"], dependencies=requires(Scope.generate))


@router.post(
    "/images",
    response_model=BatchResponse,
    responses={200: {"content": {"application/json": {}, **IMAGE_RESPONSE["content"]}}, **ERROR_RESPONSES},
    summary="A batch of images from seeds or explicit latents",
)
async def generate_images(caller: GenerateCaller, body: BatchRequest, pipeline: Pipeline, state: State) -> Response | BatchResponse:
    await cost.admit(state, caller, cost.of_batch(body, pipeline.config.resolution))
    images, ws = await generate(state, pipeline, body)
    if body.output == BatchOutput.grid:
        data = await state.run_blocking(lambda: encode_image(tile(images, body.columns), body.format, state.settings))
        return Response(data, media_type=MEDIA_TYPES[body.format])
    encoded = await encode_base64(state, images, body.format, ws if body.include_ws else None)
    return BatchResponse(model=pipeline.config.name, images=encoded)
