"""Saved latents: a z, w or ws kept under a short id until deleted (or its ttl_s).

Save from a seed, from explicit values, or from another saved latent ({"id": ...}, e.g. a saved z
as w). A saved latent belongs to the key that saved it: a key lists and deletes only its own (an
admin key, or anyone where access is open without a key, sees all), within its quota of
GANSERVE_MAX_SAVED_LATENTS_PER_KEY; anyone who may read latents reads one by its id (a share link).

The result of an interpolation or a batch is saved by posting the ws it returned: those ws are
already truncated, so save them with psi 1 (the default).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ganserve.access.gate import Caller
from ganserve.access.keys import Scope
from ganserve.errors import InvalidInput, NotFound, PermissionDenied
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import LatentKind, SavedLatentEntry, SaveLatentRequest
from ganserve.state import AppState
from ganserve.store import SavedLatent, is_valid_id, new_id

DEFAULT_KIND: dict[str, LatentKind] = {"seed": "z", "z": "z", "w": "w", "ws": "ws"}


@contextmanager
def _field_renamed(old: str, new: str) -> Iterator[None]:
    """The pipeline names fields of a latent list (`latent[0].w`); here the body has one latent."""
    try:
        yield
    except InvalidInput as exc:
        if not exc.field.startswith(old):
            raise
        raise InvalidInput(new + exc.field[len(old) :], exc.message) from None


async def _values(body: SaveLatentRequest, pipeline: ModelPipeline) -> tuple[np.ndarray, dict[str, Any], LatentKind]:
    """The float32 values to store, how they were made, and their kind."""
    offsets = pipeline.edit_offset(body.latent, "latent")  # checked before anything is read
    latent = await pipeline.resolve_saved(body.latent, "latent")  # {"id": ...}: a copy, e.g. a saved z as w
    if body.latent.id is not None:
        source: dict[str, Any] = {"saved": body.latent.id}
    elif latent.seed is not None:
        source = {"seed": latent.seed}
    else:
        source = {"explicit": latent.kind}
    kind = body.kind or DEFAULT_KIND[latent.kind]
    # An edited seed or z is no longer a z: by default it is kept as w, or as ws when its edits moved only some layers.
    edited_default = offsets is not None and body.kind is None and latent.kind in ("seed", "z")
    if edited_default:
        kind = "ws"
    if kind == "z":
        if offsets is not None:
            raise InvalidInput("latent.edits", "edits move w: save an edited latent as kind w or ws")
        if latent.kind not in ("seed", "z"):
            raise InvalidInput("kind", f"kind z needs a seed or z latent; save a {latent.kind} latent as kind w or ws")
        for field, given in (("psi", body.psi != 1), ("cutoff", body.cutoff is not None), ("class", body.class_ is not None)):
            if given:
                raise InvalidInput(field, "applies to kind w or ws only: a saved z is the latent before mapping")
        return await pipeline.z_of(latent, "latent"), source, kind  # a seed's z exactly as seeds_to_z

    class_index = pipeline.class_index(body.class_)
    with _field_renamed("latent[0]", "latent"):
        ws = pipeline.truncate(await pipeline.to_ws([latent], class_index, "latent"), body.psi, body.cutoff, offsets)[0]
    source["psi"] = body.psi
    if body.latent.edits:
        source["edits"] = [edit.model_dump(exclude_none=True) for edit in body.latent.edits]
    if body.cutoff is not None:
        source["cutoff"] = body.cutoff
    if class_index is not None:
        source["class"] = class_index
    one_w = np.array_equal(ws, np.broadcast_to(ws[0], ws.shape))
    if edited_default and one_w:
        kind = "w"
    if kind == "w":
        if not one_w:
            raise InvalidInput("kind", "these ws differ between layers (a ws latent, or a cutoff): save them as kind ws")
        return ws[0], source, kind
    return ws, source, kind


async def save(state: AppState, caller: Caller, body: SaveLatentRequest) -> SavedLatent:
    pipeline = state.pipeline(body.model)
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
        owner=caller.owner,
    )
    return await state.latent_store.save(latent, state.settings.max_saved_latents_per_key)


def _not_found(id: str) -> NotFound:
    return NotFound("id", f"no saved latent {id!r} (never saved, deleted or expired)")


async def get(state: AppState, id: str) -> SavedLatent:
    latent = await state.latent_store.get(id) if is_valid_id(id) else None  # other ids cannot have been saved
    if latent is None:
        raise _not_found(id)
    return latent


async def delete(state: AppState, caller: Caller, id: str) -> None:
    latent = await get(state, id)
    if not caller.sees_everything and latent.owner != caller.owner:
        raise PermissionDenied(
            Scope.latents_write, f"saved latent {id} belongs to another key: only its owner (or an admin key) deletes it"
        )
    if not await state.latent_store.delete(id):
        raise _not_found(id)


async def list_page(
    state: AppState, caller: Caller, model: str | None, limit: int | None, cursor: str | None, include_values: bool
) -> tuple[list[SavedLatentEntry], str | None]:
    """The caller's own (all of them for an admin), newest first, a page at a time; the cursor of the next page (None on the last)."""
    most = state.settings.max_saved_latents_page
    if limit is not None and limit > most:
        raise InvalidInput("limit", f"at most {most} per page (GANSERVE_MAX_SAVED_LATENTS_PAGE)")
    owner = None if caller.sees_everything else caller.owner
    page, next_cursor = await state.latent_store.list(model, limit or most, cursor, owner)
    entries = [
        SavedLatentEntry(
            **latent.model_dump(exclude={"values"}),
            shape=list(latent.array().shape),
            values=latent.values if include_values else None,
        )
        for latent in page
    ]
    return entries, next_cursor
