"""/v1/latents: saved latents, z, w or ws kept under a short id until deleted (or their ttl_s).

Save from a seed, from explicit values, or from another saved latent ({"id": ...}, e.g. a saved z
as w). The result of an interpolation or a batch is saved by
posting the ws it returned as `{"latent": {"ws": [...]}}`: /interpolations with output=latents
returns every frame's ws, /images with include_ws=true every image's. Those ws are already
truncated, so save them with psi 1 (the default).

The store is durable and apart from the cache (see ganserve.store); when it cannot be reached these
routes answer 503 with Retry-After, and work again as soon as it is back.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ganserve.api.deps import State, get_pipeline
from ganserve.api.latent_schemas import LATENT_ERRORS, SavedLatentEntry, SavedLatentPage, SaveLatentRequest
from ganserve.errors import InvalidInput, NotFound
from ganserve.pipeline import ModelPipeline
from ganserve.store import LatentKind, SavedLatent, is_valid_id, new_id

router = APIRouter(prefix="/v1/latents", tags=["latents"])

DEFAULT_KIND: dict[str, LatentKind] = {"seed": "z", "z": "z", "w": "w", "ws": "ws"}
LatentId = Annotated[str, Path(description="the id returned when the latent was saved")]


@contextmanager
def _field_renamed(old: str, new: str):
    """The pipeline names fields of a latent list (`latent[0].w`); here the body has one latent."""
    try:
        yield
    except InvalidInput as exc:
        if not exc.field.startswith(old):
            raise
        raise InvalidInput(new + exc.field[len(old) :], exc.message) from None


async def _values(body: SaveLatentRequest, pipeline: ModelPipeline) -> tuple[np.ndarray, dict, LatentKind]:
    """The float32 values to store, how they were made, and their kind."""
    latent = await pipeline.resolve_saved(body.latent, "latent")  # {"id": ...}: a copy, e.g. a saved z as w
    if body.latent.id is not None:
        source: dict = {"saved": body.latent.id}
    elif latent.seed is not None:
        source = {"seed": latent.seed}
    else:
        source = {"explicit": latent.kind}
    kind = body.kind or DEFAULT_KIND[latent.kind]
    if kind == "z":
        if latent.kind not in ("seed", "z"):
            raise InvalidInput("kind", f"kind z needs a seed or z latent; save a {latent.kind} latent as kind w or ws")
        for field, given in (("psi", body.psi != 1), ("cutoff", body.cutoff is not None), ("class", body.class_ is not None)):
            if given:
                raise InvalidInput(field, "applies to kind w or ws only: a saved z is the latent before mapping")
        return await pipeline.z_of(latent, "latent"), source, kind  # a seed's z exactly as seeds_to_z

    class_index = pipeline.class_index(body.class_)
    with _field_renamed("latent[0]", "latent"):
        ws = pipeline.truncate(await pipeline.to_ws([latent], class_index, "latent"), body.psi, body.cutoff)[0]
    source["psi"] = body.psi
    if body.cutoff is not None:
        source["cutoff"] = body.cutoff
    if class_index is not None:
        source["class"] = class_index
    if kind == "w":
        if not np.array_equal(ws, np.broadcast_to(ws[0], ws.shape)):
            raise InvalidInput("kind", "these ws differ between layers (a ws latent, or a cutoff): save them as kind ws")
        return ws[0], source, kind
    return ws, source, kind


@router.post(
    "",
    status_code=201,
    response_model=SavedLatent,
    responses={201: {"headers": {"Location": {"description": "/v1/latents/{id}", "schema": {"type": "string"}}}}, **LATENT_ERRORS},
    summary="Save a z, w or ws from a seed, explicit values or another saved latent",
)
async def save_latent(body: SaveLatentRequest, request: Request, response: Response, state: State) -> SavedLatent:
    pipeline = get_pipeline(request, body.model)
    values, source, kind = await _values(body, pipeline)
    now = time.time()
    latent = SavedLatent(
        id=new_id(),
        model=pipeline.config.name,
        model_version=pipeline.digest[:16],
        kind=kind,
        values=values.tolist(),
        name=body.name,
        source=source,
        created=now,
        expires=None if body.ttl_s is None else now + body.ttl_s,
    )
    saved = await state.latent_store.save(latent)
    response.headers["Location"] = f"{router.prefix}/{saved.id}"
    return saved


@router.get("", response_model=SavedLatentPage, responses=LATENT_ERRORS, summary="Saved latents, newest first, a page at a time")
async def list_latents(
    state: State,
    model: Annotated[str | None, Query(max_length=200, description="only this model's")] = None,
    limit: Annotated[int | None, Query(ge=1, description="page size, at most GANSERVE_MAX_SAVED_LATENTS_PAGE (the default)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    include_values: Annotated[bool, Query(description="include each latent's values (large: num_ws x w_dim numbers for ws)")] = False,
) -> SavedLatentPage:
    most = state.settings.max_saved_latents_page
    if limit is not None and limit > most:
        raise InvalidInput("limit", f"at most {most} per page (GANSERVE_MAX_SAVED_LATENTS_PAGE)")
    page, next_cursor = await state.latent_store.list(model, limit or most, cursor)
    entries = [
        SavedLatentEntry(
            **latent.model_dump(exclude={"values"}),
            shape=list(latent.array().shape),
            values=latent.values if include_values else None,
        )
        for latent in page
    ]
    return SavedLatentPage(latents=entries, next_cursor=next_cursor)


def _not_found(id: str) -> NotFound:
    return NotFound("id", f"no saved latent {id!r} (never saved, deleted or expired)")


@router.get("/{id}", response_model=SavedLatent, responses=LATENT_ERRORS, summary="One saved latent")
async def get_latent(id: LatentId, state: State) -> SavedLatent:
    latent = await state.latent_store.get(id) if is_valid_id(id) else None  # other ids cannot have been saved
    if latent is None:
        raise _not_found(id)
    return latent


@router.delete("/{id}", status_code=204, response_class=Response, responses=LATENT_ERRORS, summary="Delete a saved latent")
async def delete_latent(id: LatentId, state: State) -> Response:
    if not (is_valid_id(id) and await state.latent_store.delete(id)):
        raise _not_found(id)
    return Response(status_code=204)
