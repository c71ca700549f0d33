"""One error table for every transport: each failure of the request path -> (HTTP status, error
code, gRPC status), used by the HTTP exception handlers (ganserve.api.errors) and the gRPC
interceptor (ganserve.rpc.interceptors) alike, so that a failure reads the same on both.

Anything not in the table is a bug: it becomes "internal" (HTTP 500, gRPC INTERNAL) with a request
id, and is logged with that id and its traceback, so that a report from a client can be found in
the log. Request ids come from the client (X-Request-ID, or the gRPC metadata key x-request-id)
when they are sane, else they are made here.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ganserve.batching import DeadlinePassed, Overloaded
from ganserve.engines import EngineError
from ganserve.errors import (
    BodyTooLarge,
    Busy,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    Unauthenticated,
    field_path,
)
from ganserve.jobs import JobsUnavailable, QueueFull, TooManyJobs
from ganserve.store import StoreUnavailable

log = logging.getLogger("ganserve")

REQUEST_ID_HEADER = "x-request-id"  # HTTP header and gRPC metadata key (gRPC keys are lower case)
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class Failure:
    http_status: int
    code: str  # the JSON error's "code"
    grpc_status: str  # a grpc.StatusCode name: the gRPC front end resolves it (grpc stays a transport's import)
    retry: bool = False  # transient: HTTP answers with Retry-After


INTERNAL = Failure(500, "internal", "INTERNAL")
INVALID_INPUT = Failure(422, "invalid_input", "INVALID_ARGUMENT")

# Looked up along the exception's class hierarchy (its own class first), so a subclass may have its own row.
FAILURES: dict[type[Exception], Failure] = {
    InvalidInput: INVALID_INPUT,
    ValidationError: INVALID_INPUT,  # a request model built by the gRPC front end
    NotFound: Failure(404, "not_found", "NOT_FOUND"),
    BodyTooLarge: Failure(413, "body_too_large", "RESOURCE_EXHAUSTED"),
    Overloaded: Failure(503, "overloaded", "RESOURCE_EXHAUSTED", retry=True),  # full queue, or a deadline it cannot meet
    DeadlinePassed: Failure(504, "deadline_exceeded", "DEADLINE_EXCEEDED"),
    EngineError: Failure(503, "engine_unavailable", "UNAVAILABLE", retry=True),
    StoreUnavailable: Failure(503, "store_unavailable", "UNAVAILABLE", retry=True),
    Unauthenticated: Failure(401, "unauthenticated", "UNAUTHENTICATED"),
    PermissionDenied: Failure(403, "permission_denied", "PERMISSION_DENIED"),
    QuotaExceeded: Failure(403, "quota_exceeded", "RESOURCE_EXHAUSTED"),
    RateLimited: Failure(429, "rate_limited", "RESOURCE_EXHAUSTED", retry=True),
    Busy: Failure(503, "busy", "UNAVAILABLE", retry=True),
    TooManyJobs: Failure(429, "too_many_projections", "RESOURCE_EXHAUSTED", retry=True),
    QueueFull: Failure(503, "projections_full", "RESOURCE_EXHAUSTED", retry=True),
    JobsUnavailable: Failure(503, "jobs_unavailable", "UNAVAILABLE", retry=True),
}


@dataclass(frozen=True)
class ErrorReport:
    """What a client is told: the table's row, a message naming the problem, and the field at fault."""

    failure: Failure
    message: str
    field: str | None = None
    scope: str | None = None  # the scope a 401 or 403 is about
    retry_after_s: int = 1  # for the failures that may be retried (Retry-After; gRPC metadata retry-after)
    headers: tuple[tuple[str, str], ...] = ()  # more response headers (HTTP) or trailing metadata (gRPC)


def failure_of(exc: BaseException) -> Failure:
    for cls in type(exc).__mro__:
        if cls in FAILURES:
            return FAILURES[cls]
    return INTERNAL


def invalid_fields(errors: Sequence[Mapping[str, Any]]) -> ErrorReport:
    """pydantic's validation errors (of a request model, or of FastAPI's request parsing): the first one."""
    first = errors[0]
    field = field_path(tuple(first["loc"]))
    message = "request body is not valid JSON" if first["type"] == "json_invalid" else first["msg"]
    return ErrorReport(INVALID_INPUT, f"{field}: {message}", field)


def describe(exc: Exception) -> ErrorReport | None:
    """The report of a known failure of the request path; None for anything else (a bug: see internal_error)."""
    if isinstance(exc, ValidationError):
        return invalid_fields(exc.errors())
    failure = failure_of(exc)
    if failure is INTERNAL:
        return None
    if isinstance(exc, InvalidInput | NotFound):
        return ErrorReport(failure, f"{exc.field}: {exc.message}", exc.field)
    if isinstance(exc, Unauthenticated | PermissionDenied):
        return ErrorReport(failure, exc.message, "authorization", scope=exc.scope)
    if isinstance(exc, RateLimited):
        return ErrorReport(failure, str(exc), retry_after_s=exc.retry_after_s, headers=tuple(exc.headers.items()))
    if isinstance(exc, Overloaded):
        return ErrorReport(failure, str(exc), retry_after_s=exc.retry_after_s)
    return ErrorReport(failure, str(exc))


def internal_error(exc: BaseException, request_id: str) -> ErrorReport:
    """Logs the traceback under the request id; the client learns only the exception's type and the id."""
    log.error("internal error (request id %s)", request_id, exc_info=exc, extra={"request_id": request_id})
    return ErrorReport(INTERNAL, f"internal error ({type(exc).__name__}); request id {request_id}")


def request_id(incoming: str | None) -> str:
    """The client's id when it is short and made of [A-Za-z0-9-] (safe to log and echo), else a new one."""
    if incoming and SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(8)
