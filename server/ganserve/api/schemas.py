"""What only the HTTP API has: its JSON response envelopes (images as base64), the saved-latent
page, and the error body with the OpenAPI error documentation of the routes. The requests and
the rest of the contract are in ganserve.protocol."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ganserve.protocol import ModelInfo, SavedLatentEntry


class ModelList(BaseModel):
    models: list[ModelInfo]


class EncodedImage(BaseModel):
    index: int
    media_type: str
    data: str = Field(description="base64")
    ws: list[list[float]] | None = None


class BatchResponse(BaseModel):
    model: str
    images: list[EncodedImage]


class FramesResponse(BaseModel):
    model: str
    frames: list[EncodedImage]


class LatentsResponse(BaseModel):
    model: str
    ws: list[list[list[float]]]


class MixCell(EncodedImage):
    row: int
    column: int


class MixResponse(BaseModel):
    model: str
    layers: list[int]
    cells: list[MixCell]


class SavedLatentPage(BaseModel):
    latents: list[SavedLatentEntry]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last one")


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


Responses = dict[int | str, dict[str, Any]]  # FastAPI's `responses`

# Validation errors and unknown models are documented on every model route.
ERROR_RESPONSES: Responses = {
    404: {"model": ErrorResponse, "description": "unknown model"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    422: {"model": ErrorResponse, "description": "invalid input; `field` names it"},
    503: {"model": ErrorResponse, "description": "engine overloaded or unavailable; see Retry-After"},
}

LATENT_ERRORS: Responses = {
    **{status: ERROR_RESPONSES[status] for status in (413, 422)},
    404: {"model": ErrorResponse, "description": "unknown model or latent id"},
    503: {"model": ErrorResponse, "description": "saved-latent store (or engine) unavailable; see Retry-After"},
}
