"""Request and response bodies of /v1/latents, the saved-latent routes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ganserve.api.schemas import ERROR_RESPONSES, ErrorResponse, Psi
from ganserve.pipeline import Latent
from ganserve.store import LatentKind

MAX_TTL_S = 10 * 365 * 24 * 3600


class SaveLatentRequest(BaseModel):
    model_config = {"extra": "forbid", "populate_by_name": True}

    model: str = Field(description="model name, see GET /v1/models")
    latent: Latent = Field(description="a seed, z, w, ws or saved id; e.g. a ws returned by /interpolations (output=latents)")
    kind: LatentKind | None = Field(
        None, description="what to store: z (from a seed or z), w or ws; default: z for a seed, else the latent's own"
    )
    psi: Psi = 1.0
    cutoff: int | None = Field(None, ge=0, description="truncate only ws[:cutoff]")
    class_: int | str | None = Field(None, alias="class", description="class index or name (conditional models)")
    name: str = Field("", max_length=200)
    ttl_s: float | None = Field(None, gt=0, le=MAX_TTL_S, allow_inf_nan=False, description="delete after this many seconds; null: keep")


class SavedLatentEntry(BaseModel):
    """A saved latent in a listing: values only when asked for (include_values=true)."""

    model_config = {"protected_namespaces": ()}

    id: str
    model: str
    model_version: str
    kind: LatentKind
    shape: list[int]
    name: str
    source: dict
    created: float
    expires: float | None
    values: list[float] | list[list[float]] | None = None


class SavedLatentPage(BaseModel):
    latents: list[SavedLatentEntry]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last one")


LATENT_ERRORS = {
    **{status: ERROR_RESPONSES[status] for status in (413, 422)},
    404: {"model": ErrorResponse, "description": "unknown model or latent id"},
    503: {"model": ErrorResponse, "description": "saved-latent store (or engine) unavailable; see Retry-After"},
}
