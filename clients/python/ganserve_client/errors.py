"""One exception class per failure, the same over HTTP and gRPC. Each names the field at fault
where the server named one."""

from __future__ import annotations


class GanserveError(Exception):
    """Anything the server (or the way to it) refused. `field` names the request field at fault."""

    def __init__(self, message: str, field: str | None = None, status: int | str | None = None):
        super().__init__(message)
        self.message, self.field, self.status = message, field, status  # status: HTTP code or gRPC code name


class InvalidInput(GanserveError):
    """A value the server cannot use (HTTP 422, gRPC INVALID_ARGUMENT)."""


class NotFound(GanserveError):
    """An unknown model or saved-latent id (HTTP 404, gRPC NOT_FOUND)."""


class RequestTooLarge(GanserveError):
    """The request is over the server's size limit (HTTP 413, gRPC RESOURCE_EXHAUSTED on message size)."""


class Overloaded(GanserveError):
    """The server's queue is full: retry shortly (HTTP 503 overloaded, gRPC RESOURCE_EXHAUSTED)."""


class Unavailable(GanserveError):
    """The server, its engine or its latent store cannot be reached: retry (HTTP 503, gRPC UNAVAILABLE)."""


class DeadlineExceeded(GanserveError):
    """The call took longer than its timeout; the server drops its work."""
