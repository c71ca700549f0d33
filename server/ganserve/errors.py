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


class Unauthenticated(PermissionError):
    """401: no key, or a key that is malformed, unknown or revoked, where the route needs one."""

    def __init__(self, scope: str, message: str):
        super().__init__(message)
        self.scope, self.message = scope, message


class PermissionDenied(PermissionError):
    """403: the key is good but lacks the scope the route needs (or the resource is another's)."""

    def __init__(self, scope: str, message: str):
        super().__init__(message)
        self.scope, self.message = scope, message


class RateLimited(RuntimeError):
    """429: the caller is over a rate limit; retry after retry_after_s. `headers` are the RateLimit
    fields (IETF draft: RateLimit-Limit, -Remaining, -Reset, -Policy) of the limit that was hit."""

    def __init__(self, message: str, retry_after_s: int, headers: dict[str, str]):
        super().__init__(message)
        self.retry_after_s, self.headers = retry_after_s, headers


class QuotaExceeded(RuntimeError):
    """403 quota_exceeded: the caller's saved latents are at GANSERVE_MAX_SAVED_LATENTS_PER_KEY."""


class Busy(RuntimeError):
    """503: this process is at GANSERVE_MAX_CONCURRENT_REQUESTS; another replica, or a retry, will do."""


def field_path(loc: tuple) -> str:
    """A pydantic error location as the API names fields: ('body', 'latents', 3, 'z') -> 'latents[3].z'."""
    parts = [p for p in loc if p not in ("body", "query", "path")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"
