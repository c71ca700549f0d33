"""Failures the request path can raise; ganserve.failures maps each to an HTTP and a gRPC status."""

from __future__ import annotations


class InvalidInput(ValueError):
    """422: the request is well-formed JSON but a field's value cannot be used."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class NotFound(LookupError):
    """404: an unknown model (or other named resource)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


class BodyTooLarge(ValueError):
    """413: the request body is larger than GANSERVE_MAX_BODY_BYTES."""


def field_path(loc: tuple) -> str:
    """A pydantic error location as the API names fields: ('body', 'latents', 3, 'z') -> 'latents[3].z'."""
    parts = [p for p in loc if p not in ("body", "query", "path")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"
