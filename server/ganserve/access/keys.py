"""API keys: random, high-entropy, shown once, stored only as a hash.

A key reads `gsk_<id>_<secret>`: the id (public, 12 base62 characters) names the key in listings,
logs and as the owner of saved latents; the secret (43 base62 characters, about 256 bits) is never
stored, only its SHA-256. A salted slow hash is for passwords people choose: a 256-bit random
secret cannot be guessed, so one fast hash is enough, and lookups stay cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import time
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

ALPHABET = string.digits + string.ascii_letters
ID_LENGTH, SECRET_LENGTH = 12, 43
KEY_PATTERN = re.compile(rf"gsk_([0-9A-Za-z]{{{ID_LENGTH}}})_([0-9A-Za-z]{{{SECRET_LENGTH}}})")


class Scope(StrEnum):
    generate = "generate"  # images, interpolations, mixes, children, stable URLs, models, directions
    latents_read = "latents:read"  # list one's own saved latents; read any by id (an id is a share link)
    latents_write = "latents:write"  # save, and delete one's own
    metrics = "metrics"  # GET /metrics on the main port
    admin = "admin"  # every scope, and every caller's saved latents


class ApiKey(BaseModel):
    id: str
    name: str = ""
    scopes: list[Scope]
    secret_sha256: str = Field(repr=False)
    created: float
    revoked: float | None = None

    def allows(self, scope: Scope) -> bool:
        return Scope.admin in self.scopes or scope in self.scopes

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_sha256, hash_secret(secret))


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(scopes: list[Scope], name: str = "") -> tuple[str, ApiKey]:
    """(the key's text, shown once; what is stored)."""
    id, secret = _random(ID_LENGTH), _random(SECRET_LENGTH)
    key = ApiKey(id=id, name=name, scopes=sorted(set(scopes)), secret_sha256=hash_secret(secret), created=time.time())
    return f"gsk_{id}_{secret}", key


def parse_key(text: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None."""
    match = KEY_PATTERN.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None


class KeyStore(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, id: str) -> ApiKey | None:
        """Revoked keys too (their `revoked` is set); None when unknown."""

    async def all(self) -> list[ApiKey]:
        """Oldest first, revoked ones included."""

    async def revoke(self, id: str) -> bool:
        """True when a live key was revoked."""

    async def close(self) -> None: ...
