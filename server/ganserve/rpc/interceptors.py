"""Cross-cutting concerns of every ganserve.v1 call, kept out of the servicer:

- errors: the request path's exceptions become status codes whose message names the field at
  fault, with the field alone in the trailing metadata key "ganserve-field";
- metrics: calls by method and status code, and their latency, in the gateway's /metrics.
"""

from __future__ import annotations

import logging
import time

import grpc
from pydantic import ValidationError

from ganserve.batching import Overloaded
from ganserve.engines import EngineError
from ganserve.errors import InvalidInput, NotFound, field_path
from ganserve.store import StoreUnavailable

log = logging.getLogger("ganserve.rpc")

SERVICE_PREFIX = "/ganserve.v1."
FIELD_KEY = "ganserve-field"


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str, str | None]:
    """(code, message, field) for a failure of the request path."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = field_path(tuple(first["loc"]))
        return grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {first['msg']}", field
    if isinstance(exc, InvalidInput):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc), exc.field
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND, f"{exc.field}: {exc.message}", exc.field
    if isinstance(exc, Overloaded):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), None
    if isinstance(exc, EngineError | StoreUnavailable):
        return grpc.StatusCode.UNAVAILABLE, str(exc), None
    log.exception("unexpected failure", exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__})", None


class Calls:
    """Status and latency of one call, recorded once when it ends."""

    def __init__(self, metrics, method: str):
        self.metrics, self.method, self.started = metrics, method, time.perf_counter()
        self.code = grpc.StatusCode.CANCELLED  # until the call ends another way

    def done(self) -> None:
        self.metrics.grpc_requests.labels(self.method, self.code.name).inc()
        self.metrics.grpc_latency.labels(self.method).observe(time.perf_counter() - self.started)


async def _abort(context: grpc.aio.ServicerContext, calls: Calls, exc: Exception):
    if isinstance(exc, grpc.aio.AbortError):  # the servicer aborted by itself
        calls.code = context.code() or grpc.StatusCode.UNKNOWN
        raise exc
    code, message, field = status_of(exc)
    calls.code = code
    await context.abort(code, message, trailing_metadata=((FIELD_KEY, field),) if field else None)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Wraps the ganserve.v1 methods (unary and server-streaming); health and reflection pass as they are."""

    def __init__(self, metrics):
        self.metrics = metrics

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        handler = await continuation(details)
        if handler is None or not details.method.startswith(SERVICE_PREFIX):
            return handler
        method = details.method.rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream, method), handler.request_deserializer, handler.response_serializer
            )
        return handler

    def _unary(self, behaviour, method: str):
        async def call(request, context):
            calls = Calls(self.metrics, method)
            try:
                response = await behaviour(request, context)
            except Exception as exc:
                await _abort(context, calls, exc)
            else:
                calls.code = grpc.StatusCode.OK
            finally:
                calls.done()  # CANCELLED when neither: the deadline passed or the client went away, and the work stopped
            return response

        return call

    def _stream(self, behaviour, method: str):
        async def call(request, context):
            calls = Calls(self.metrics, method)
            try:
                async for response in behaviour(request, context):
                    yield response
            except Exception as exc:
                await _abort(context, calls, exc)
            else:
                calls.code = grpc.StatusCode.OK
            finally:
                calls.done()

        return call
