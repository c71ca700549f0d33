"""One exception class per failure, the same over HTTP and gRPC. Each names the field at fault
where the server named one. transports.py maps HTTP statuses and gRPC codes to these classes."""

from __future__ import annotations


class GanserveError(Exception):
    """Anything the server (or the way to it) refused. `field` names the request field at fault;
    `code` is the server's error code where it said one (HTTP: "busy", "overloaded", ...);
    `retry_after_s` is the server's Retry-After, when it said a retry can help."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        status: int | str | None = None,
        *,
        code: str | None = None,
        retry_after_s: float | None = None,
        scope: str | None = None,
        rate_limit: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message, self.field, self.status = message, field, status  # status: HTTP code or gRPC code name
        self.code, self.retry_after_s = code, retry_after_s
        self.scope = scope  # Unauthenticated and PermissionDenied: the scope the call needs
        self.rate_limit = rate_limit or {}  # RateLimited: the RateLimit fields, e.g. {"limit": "8", "policy": "8;w=4"}


class InvalidInput(GanserveError):
    """A value the server cannot use (HTTP 422, gRPC INVALID_ARGUMENT)."""


class NotFound(GanserveError):
    """An unknown model or saved-latent id (HTTP 404, gRPC NOT_FOUND)."""


class RequestTooLarge(GanserveError):
    """The request is over the server's size limit (HTTP 413, gRPC RESOURCE_EXHAUSTED on message size)."""


class Unauthenticated(GanserveError):
    """No API key where the server needs one, or a key it does not know or has revoked (HTTP 401,
    gRPC UNAUTHENTICATED). `scope`: the scope the call needs."""


class PermissionDenied(GanserveError):
    """The key is good but lacks the call's scope, `scope` (HTTP 403, gRPC PERMISSION_DENIED)."""


class QuotaExceeded(GanserveError):
    """The key has as many saved latents as its quota allows: delete some first (HTTP 403
    quota_exceeded, gRPC RESOURCE_EXHAUSTED on SaveLatent without retry-after)."""


class RateLimited(GanserveError):
    """Over the key's (or address's) rate limit, even after the client's retries: retry after
    `retry_after_s` (HTTP 429, gRPC RESOURCE_EXHAUSTED with retry-after and ratelimit-* metadata)."""


class Overloaded(GanserveError):
    """The server's queue is full: retry shortly (HTTP 503 overloaded, gRPC RESOURCE_EXHAUSTED)."""


class Unavailable(GanserveError):
    """The server, its engine or its latent store cannot be reached, or the gateway is at its cap on
    requests in flight (503 busy): retry (HTTP 503, gRPC UNAVAILABLE)."""


class DeadlineExceeded(GanserveError):
    """The call took longer than its timeout; the server drops its work."""
