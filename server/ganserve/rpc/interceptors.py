"""Cross-cutting concerns of every ganserve.v1 call, kept out of the servicer:

- errors: the request path's exceptions become the gRPC status of ganserve.failures' table, with a
  message that names the field at fault, and the field alone in the trailing metadata key
  "ganserve-field"; anything else (a bug) is INTERNAL, logged with the call's request id;
- request ids: the client's x-request-id metadata when sane, else a new one, sent back in the
  trailing metadata of every call;
- metrics: calls by method and status code, and their latency, in the gateway's /metrics.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ganserve.failures import REQUEST_ID_HEADER, describe, internal_error, request_id
from ganserve.metrics import Metrics

SERVICE_PREFIX = "/ganserve.v1."
FIELD_KEY = "ganserve-field"

Unary = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Streaming = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def status_of(exc: Exception, call_id: str) -> tuple[grpc.StatusCode, str, str | None]:
    """(code, message, field) for a failure of the request path."""
    report = describe(exc) or internal_error(exc, call_id)
    return grpc.StatusCode[report.failure.grpc_status], report.message, report.field


class Calls:
    """Status and latency of one call, recorded once when it ends."""

    def __init__(self, metrics: Metrics, method: str, context: grpc.aio.ServicerContext):
        self.metrics, self.method, self.started = metrics, method, time.perf_counter()
        self.code = grpc.StatusCode.CANCELLED  # until the call ends another way
        sent = dict(context.invocation_metadata() or ()).get(REQUEST_ID_HEADER)
        self.request_id = request_id(sent if isinstance(sent, str) else None)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, self.request_id),))

    def done(self) -> None:
        self.metrics.grpc_requests.labels(self.method, self.code.name).inc()
        self.metrics.grpc_latency.labels(self.method).observe(time.perf_counter() - self.started)


async def _abort(context: grpc.aio.ServicerContext, calls: Calls, exc: Exception) -> None:
    if isinstance(exc, grpc.aio.AbortError):  # the servicer aborted by itself
        calls.code = context.code() or grpc.StatusCode.UNKNOWN
        raise exc
    code, message, field = status_of(exc, calls.request_id)
    calls.code = code
    metadata = [(REQUEST_ID_HEADER, calls.request_id)] + ([(FIELD_KEY, field)] if field else [])
    await context.abort(code, message, trailing_metadata=tuple(metadata))


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Wraps the ganserve.v1 methods (unary and server-streaming); health and reflection pass as they are."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]], details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
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

    def _unary(self, behaviour: Unary, method: str) -> Unary:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            calls = Calls(self.metrics, method, context)
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

    def _stream(self, behaviour: Streaming, method: str) -> Streaming:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            calls = Calls(self.metrics, method, context)
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
