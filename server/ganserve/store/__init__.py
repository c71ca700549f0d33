"""Saved latents: z, w or ws kept under a short id, durably, apart from the cache.

Two implementations behind one protocol: Redis (the durable instance: AOF, no eviction) when
GANSERVE_REDIS_STORE_URL is set, else a local SQLite file (GANSERVE_LATENTS_PATH) so that an
embedded server keeps its saved latents across restarts. Values are stored as raw little-endian
float32 bytes with their shape, never pickled, so they come back bit for bit.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import string
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field, model_validator

from ganserve.errors import InvalidInput
from ganserve.protocol import LatentKind
from ganserve.settings import Settings

DTYPE = "<f4"
ID_ALPHABET = string.digits + string.ascii_letters
ID_LENGTH = 10  # 62**10 ≈ 2**59.5: unguessable, and short enough for a URL


class StoreUnavailable(RuntimeError):
    """503: the saved-latent store cannot be reached (or cannot write); retry later."""


class SavedLatent(BaseModel):
    model_config = {"protected_namespaces": ()}

    id: str
    model: str
    model_version: str = Field(pattern=r"^[0-9a-f]{16}$", description="the model's version when saved (GET /v1/models)")
    kind: LatentKind
    values: list[float] | list[list[float]] = Field(description="z [z_dim], w [w_dim] or ws [num_ws][w_dim], float32 values")
    name: str = ""
    source: dict = Field(description='how it was made, e.g. {"seed": 42, "psi": 0.7} or {"explicit": "ws"}')
    created: float = Field(description="unix time, seconds")
    expires: float | None = Field(None, description="unix time, seconds; null: kept until deleted")
    owner: str = Field("", description="the id of the API key that saved it; empty: saved without a key")

    @model_validator(mode="after")
    def _shape_fits_kind(self) -> SavedLatent:
        nested = bool(self.values) and isinstance(self.values[0], list)
        if nested != (self.kind == "ws"):
            raise ValueError(f"kind {self.kind} needs {'rows of numbers' if self.kind == 'ws' else 'a flat list of numbers'}")
        if nested and len({len(row) for row in self.values if isinstance(row, list)}) > 1:
            raise ValueError("ws rows must all have the same length")
        return self

    def array(self) -> np.ndarray:
        """The values as float32: [z_dim], [w_dim] or [num_ws, w_dim]."""
        return np.asarray(self.values, dtype=np.float32)

    def is_expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now


class LatentStore(Protocol):
    async def save(self, latent: SavedLatent, quota: int = 0) -> SavedLatent:
        """Store durably (acknowledged = kept), under latent.id, which must be new (see new_id).
        With a quota, raises QuotaExceeded when latent.owner already has that many live latents,
        atomically with the write (gateways sharing the store cannot overshoot it together)."""

    async def get(self, id: str) -> SavedLatent | None:
        """None when unknown, deleted or expired."""

    async def list(
        self, model: str | None, limit: int, cursor: str | None, owner: str | None = None
    ) -> tuple[list[SavedLatent], str | None]:
        """Newest first (then by id), optionally one model's and one owner's; returns the page and the
        cursor of the next one (None on the last page). Raises InvalidInput("cursor") for a cursor it did not make."""

    async def delete(self, id: str) -> bool:
        """True when something was deleted."""

    async def close(self) -> None: ...


def quota_message(quota: int) -> str:
    return f"this key has {quota} saved latents, its quota (GANSERVE_MAX_SAVED_LATENTS_PER_KEY): delete some first"


def new_id() -> str:
    """Short, URL-safe and unguessable: ID_LENGTH characters of base62 from `secrets`."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def is_valid_id(value: str) -> bool:
    """Ids this store makes; anything else cannot be stored, so it is answered 404 without a lookup."""
    return len(value) == ID_LENGTH and all(c in ID_ALPHABET for c in value)


# -- values <-> bytes, shared by the implementations --------------------------------------------
def encode_values(latent: SavedLatent) -> tuple[list[int], bytes]:
    array = np.ascontiguousarray(latent.array(), dtype=DTYPE)
    return list(array.shape), array.tobytes()


def decode_values(shape: list[int], dtype: str, data: bytes) -> list[float] | list[list[float]]:
    if dtype != DTYPE:
        raise ValueError(f"unsupported stored dtype {dtype!r}")
    return np.frombuffer(data, dtype=DTYPE).reshape(shape).tolist()


# -- paging cursors: the (created, id) of the last item of a page, opaque to clients -----------
def encode_cursor(created: float, id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created, id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        created, id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(created, bool) or not isinstance(created, int | float) or not math.isfinite(created) or not isinstance(id, str):
            raise ValueError(cursor)
        return float(created), id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "not a cursor from a previous page (next_cursor)") from None


def page_cursor(page: list[SavedLatent], more: bool) -> str | None:
    return encode_cursor(page[-1].created, page[-1].id) if more and page else None


def make_store(settings: Settings) -> LatentStore:
    """Redis when GANSERVE_REDIS_STORE_URL is set, else SQLite at GANSERVE_LATENTS_PATH."""
    if settings.redis_store_url:
        from ganserve.store.redis import RedisLatentStore

        return RedisLatentStore(settings.redis_store_url, settings.store_timeout_s)
    from ganserve.store.sqlite import SQLiteLatentStore

    return SQLiteLatentStore(settings.latents_path, settings.store_timeout_s)
