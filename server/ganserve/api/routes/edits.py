"""Latent editing over HTTP: the directions an edit can take, and children of a parent latent.

    GET  /v1/models/{model}/directions
    POST /v1/models/{model}/children
Edits themselves ride on any latent of any request (ganserve.protocol.Edit).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from ganserve.access.keys import Scope
from ganserve.api.access import GenerateCaller, requires
from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State, encode_base64
from ganserve.api.schemas import ERROR_RESPONSES, BatchResponse, LatentsResponse
from ganserve.encode import MEDIA_TYPES, encode_image, tile
from ganserve.operations import children as breeding
from ganserve.operations import cost
from ganserve.operations.directions import list_directions
from ganserve.protocol import ChildrenOutput, ChildrenRequest, DirectionInfo

router = APIRouter(prefix="/v1/models/{model}", tags=["latents"], dependencies=requires(Scope.generate))


class DirectionList(BaseModel):
    model: str
    directions: list[DirectionInfo]


@router.get("/directions", response_model=DirectionList, responses={404: ERROR_RESPONSES[404]}, summary="Directions edits move along")
async def directions(pipeline: Pipeline) -> DirectionList:
    return DirectionList(model=pipeline.config.name, directions=list_directions(pipeline))


@router.post(
    "/children",
    response_model=BatchResponse | LatentsResponse,
    responses={200: {"content": {"application/json": {}, **IMAGE_RESPONSE["content"]}}, **ERROR_RESPONSES},
    summary="Children: random variations of a parent latent",
)
async def children(
    caller: GenerateCaller, body: ChildrenRequest, pipeline: Pipeline, state: State
) -> Response | BatchResponse | LatentsResponse:
    await cost.admit(state, caller, cost.of_children(body, pipeline.config.resolution))
    bred = await breeding.children(state, pipeline, body)
    images = bred.images
    if images is None:
        return LatentsResponse(model=pipeline.config.name, ws=bred.ws.tolist())
    if body.output == ChildrenOutput.grid:
        data = await state.run_blocking(lambda: encode_image(tile(images, body.columns), body.format, state.settings))
        return Response(data, media_type=MEDIA_TYPES[body.format])
    return BatchResponse(model=pipeline.config.name, images=await encode_base64(state, images, body.format, bred.ws))
