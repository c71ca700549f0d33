"""POST /v1/models/{model}/mixes: style mixing, rows x columns (NVlabs style_mixing.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ganserve.access.keys import Scope
from ganserve.api.access import GenerateCaller, requires
from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State, encode_base64
from ganserve.api.schemas import ERROR_RESPONSES, MixCell, MixResponse
from ganserve.encode import MEDIA_TYPES, encode_image
from ganserve.operations import cost
from ganserve.operations import mix as mixing
from ganserve.protocol import MixOutput, MixRequest

router = APIRouter(prefix="/v1/models/{model}", tags=["latents"], dependencies=requires(Scope.generate))


@router.post(
    "/mixes",
    response_model=MixResponse,
    responses={200: {"content": {"application/json": {}, **IMAGE_RESPONSE["content"]}}, **ERROR_RESPONSES},
    summary="Style mixing: row latents with chosen layers taken from column latents",
)
async def mix(caller: GenerateCaller, body: MixRequest, pipeline: Pipeline, state: State) -> Response | MixResponse:
    await cost.admit(state, caller, cost.of_mix(body, pipeline.config.resolution))
    mixed = await mixing.mix(state, pipeline, body)
    media_type = MEDIA_TYPES[body.format]
    if body.output in (MixOutput.grid, MixOutput.cell):
        data = await state.run_blocking(encode_image, mixed.images[0], body.format, state.settings)
        headers = {"X-Mix-Layers": ",".join(map(str, mixed.layers))} if body.output == MixOutput.grid else None
        return Response(data, media_type=media_type, headers=headers)
    cols = len(body.columns)
    encoded = await encode_base64(state, mixed.images, body.format, mixed.ws if body.include_ws else None)
    cells = [MixCell(row=i // cols, column=i % cols, **e.model_dump()) for i, e in enumerate(encoded)]
    return MixResponse(model=pipeline.config.name, layers=mixed.layers, cells=cells)
