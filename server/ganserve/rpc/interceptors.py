"""Cross-cutting concerns of every ganserve.v1 call, kept out of the servicer:

- errors: the request path's exceptions become the gRPC status of ganserve.failures' table, with a
  message that names the field at fault, and the field alone in the trailing metadata key
  "ganserve-field"; anything else (a bug) is INTERNAL, logged with the call's request id;
- request ids: the client's x-request-id metadata when sane, else a new one, sent back in the
  trailing metadata of every call;
- metrics: calls by method and status code, and their latency, in the gateway's /metrics;
- access: the call's key (metadata `authorization: Bearer <key>`) against its method's scope, its
  caller's request rate, and the gateway's cap on requests in flight, before the servicer runs;
  the Caller is left for the servicer in ganserve.rpc.callers. Refusals carry `retry-after`
  (seconds) in the trailing metadata where a retry can help.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ganserve.failures import REQUEST_ID_HEADER, ErrorReport, describe, internal_error, request_id
from ganserve.metrics import Metrics
from ganserve.operations.cost import requested_deadline
from ganserve.rpc.callers import peer_address, scope_of, set_caller
from ganserve.state import AppState

SERVICE_PREFIX = "/ganserve.v1."
FIELD_KEY = "ganserve-field"
SCOPE_KEY = "ganserve-scope"
CODE_KEY = "ganserve-code"  # the JSON error's code (busy, overloaded, rate_limited...): what a status alone cannot tell

Unary = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Streaming = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def report_of(exc: Exception, call_id: str) -> ErrorReport:
    return describe(exc) or internal_error(exc, call_id)


def trailing_metadata(report: ErrorReport, call_id: str) -> tuple[tuple[str, str], ...]:
    """The request id, the error's code, the field at fault, the scope, and what a client needs to retry: retry-after
    (seconds) and the RateLimit fields, as lower-case keys."""
    metadata = [(REQUEST_ID_HEADER, call_id), (CODE_KEY, report.failure.code)]
    if report.field:
        metadata.append((FIELD_KEY, report.field))
    if report.scope:
        metadata.append((SCOPE_KEY, report.scope))
    if report.failure.retry:
        metadata.append(("retry-after", str(report.retry_after_s)))
    metadata += [(name.lower(), value) for name, value in report.headers]
    return tuple(metadata)


def status_of(exc: Exception, call_id: str) -> tuple[grpc.StatusCode, str, str | None]:
    """(code, message, field) for a failure of the request path."""
    report = report_of(exc, call_id)
    return grpc.StatusCode[report.failure.grpc_status], report.message, report.field


class Calls:
    """Status and latency of one call, recorded once when it ends."""

    def __init__(self, metrics: Metrics, method: str, context: grpc.aio.ServicerContext):
        self.metrics, self.method, self.started, self.context = metrics, method, time.perf_counter(), context
        self.code: grpc.StatusCode | None = None  # the call's own status, once it has one
        sent = dict(context.invocation_metadata() or ()).get(REQUEST_ID_HEADER)
        self.request_id = request_id(sent if isinstance(sent, str) else None)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, self.request_id),))

    def stopped(self) -> grpc.StatusCode:
        """The status of a call stopped before it had one (called from its `finally`): DEADLINE_EXCEEDED
        once its deadline has passed, CANCELLED when gRPC cancelled it (the client went away, or a
        shutdown's grace ran out), UNKNOWN for anything else."""
        remaining = self.context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        if isinstance(sys.exception(), asyncio.CancelledError | GeneratorExit):
            return grpc.StatusCode.CANCELLED
        return grpc.StatusCode.UNKNOWN

    def done(self) -> None:
        code = self.code if self.code is not None else self.stopped()
        self.metrics.grpc_requests.labels(self.method, code.name).inc()
        self.metrics.grpc_latency.labels(self.method).observe(time.perf_counter() - self.started)


async def _abort(context: grpc.aio.ServicerContext, calls: Calls, exc: Exception) -> None:
    if isinstance(exc, grpc.aio.AbortError):  # the servicer aborted by itself
        calls.code = context.code() or grpc.StatusCode.UNKNOWN
        raise exc
    report = report_of(exc, calls.request_id)
    calls.code = grpc.StatusCode[report.failure.grpc_status]
    await context.abort(calls.code, report.message, trailing_metadata=trailing_metadata(report, calls.request_id))


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Wraps the ganserve.v1 methods (unary and server-streaming); health and reflection pass as they are."""

    def __init__(self, state: AppState):
        self.state, self.metrics = state, state.metrics

    async def _admit(self, method: str, context: grpc.aio.ServicerContext) -> None:
        """The key against the method's scope, and the caller's request rate; raises when refused."""
        authorization = dict(context.invocation_metadata() or ()).get("authorization")
        text = authorization if isinstance(authorization, str) else None
        set_caller(await self.state.access.authenticate(text, peer_address(context), scope_of(method)))
        remaining = context.time_remaining()  # gRPC's own deadline; None without one
        if remaining is not None:
            requested_deadline.set(time.monotonic() + remaining)

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
                with self.state.in_flight.slot():
                    await self._admit(method, context)
                    response = await behaviour(request, context)
            except Exception as exc:
                await _abort(context, calls, exc)
            else:
                calls.code = grpc.StatusCode.OK
            finally:
                calls.done()  # neither: the deadline passed or the client went away, and the work stopped
            return response

        return call

    def _stream(self, behaviour: Streaming, method: str) -> Streaming:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            calls = Calls(self.metrics, method, context)
            try:
                with self.state.in_flight.slot():
                    await self._admit(method, context)
                    async for response in behaviour(request, context):
                        yield response
            except Exception as exc:
                await _abort(context, calls, exc)
            else:
                calls.code = grpc.StatusCode.OK
            finally:
                calls.done()

        return call
