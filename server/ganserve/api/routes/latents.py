"""/v1/latents: saved latents, z, w or ws kept under a short id until deleted (or their ttl_s).

The logic is in ganserve.operations.saved_latents. The result of an interpolation or a batch is
saved by posting the ws it returned as `{"latent": {"ws": [...]}}`: /interpolations with
output=latents returns every frame's ws, /images with include_ws=true every image's.

The store is durable and apart from the cache (see ganserve.store); when it cannot be reached these
routes answer 503 with Retry-After, and work again as soon as it is back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from ganserve.api.access import LatentReader, LatentWriter
from ganserve.api.deps import State
from ganserve.api.schemas import LATENT_ERRORS, SavedLatentPage
from ganserve.operations import saved_latents
from ganserve.protocol import SaveLatentRequest
from ganserve.store import SavedLatent

router = APIRouter(prefix="/v1/latents", tags=["latents"])

LatentId = Annotated[str, Path(description="the id returned when the latent was saved")]


@router.post(
    "",
    status_code=201,
    response_model=SavedLatent,
    responses={201: {"headers": {"Location": {"description": "/v1/latents/{id}", "schema": {"type": "string"}}}}, **LATENT_ERRORS},
    summary="Save a z, w or ws from a seed, explicit values or another saved latent",
)
async def save_latent(caller: LatentWriter, body: SaveLatentRequest, response: Response, state: State) -> SavedLatent:
    saved = await saved_latents.save(state, caller, body)
    response.headers["Location"] = f"{router.prefix}/{saved.id}"
    return saved


@router.get(
    "", response_model=SavedLatentPage, responses=LATENT_ERRORS, summary="The caller's saved latents, newest first, a page at a time"
)
async def list_latents(
    caller: LatentReader,
    state: State,
    model: Annotated[str | None, Query(max_length=200, description="only this model's")] = None,
    limit: Annotated[int | None, Query(ge=1, description="page size, at most GANSERVE_MAX_SAVED_LATENTS_PAGE (the default)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    include_values: Annotated[bool, Query(description="include each latent's values (large: num_ws x w_dim numbers for ws)")] = False,
) -> SavedLatentPage:
    entries, next_cursor = await saved_latents.list_page(state, caller, model, limit, cursor, include_values)
    return SavedLatentPage(latents=entries, next_cursor=next_cursor)


@router.get("/{id}", response_model=SavedLatent, responses=LATENT_ERRORS, summary="One saved latent")
async def get_latent(caller: LatentReader, id: LatentId, state: State) -> SavedLatent:
    return await saved_latents.get(state, id)


@router.delete("/{id}", status_code=204, response_class=Response, responses=LATENT_ERRORS, summary="Delete a saved latent")
async def delete_latent(caller: LatentWriter, id: LatentId, state: State) -> Response:
    await saved_latents.delete(state, caller, id)
    return Response(status_code=204)
