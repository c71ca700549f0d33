"""Moving a Call (calls.py) over HTTP (httpx) or gRPC (grpcio), sync or async, and turning every
failure into one of ganserve_client.errors (this module is the one place that maps HTTP statuses
and gRPC codes to them). Every request carries the API key, if any; a refusal that says when to
retry (Retry-After), and a failure on the way to the server (no connection, a connection lost, a
proxy's 502/503/504), are retried by Retrying / AsyncRetrying, as their RetryPolicy allows."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterable, Iterator
from contextlib import aclosing, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import grpc
import httpx

from ganserve_client import errors
from ganserve_client.calls import Call, HttpCall
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

API_KEY_ENV = "GANSERVE_API_KEY"
FIELD_KEY = "ganserve-field"  # trailing metadata: the request field a gRPC error is about
SCOPE_KEY = "ganserve-scope"  # trailing metadata: the scope an UNAUTHENTICATED or PERMISSION_DENIED call needs
CODE_KEY = "ganserve-code"  # trailing metadata: the error's code, as HTTP's JSON error names it (busy, rate_limited...)
RETRY_AFTER_KEY = "retry-after"  # header and trailing metadata: seconds until a retry can pass
RATE_LIMIT_PREFIX = "ratelimit-"  # RateLimit-Limit, -Remaining, -Reset, -Policy (gRPC: lower-case keys)
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# round_robin: when the target's name resolves to several gateways (a Kubernetes headless Service),
# calls are spread over all of them instead of all going down the first connection (pick_first).
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.lb_policy_name", "round_robin"),
]

HTTP_ERRORS: dict[int, type[errors.GanserveError]] = {
    400: errors.InvalidInput,
    401: errors.Unauthenticated,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    413: errors.RequestTooLarge,
    422: errors.InvalidInput,
    429: errors.RateLimited,
    503: errors.Unavailable,  # engine_unavailable, store_unavailable, busy
}
HTTP_CODES = {"overloaded": errors.Overloaded, "quota_exceeded": errors.QuotaExceeded}  # codes that say more than their status
GRPC_ERRORS: dict[grpc.StatusCode, type[errors.GanserveError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidInput,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.Overloaded,  # or a rate limit, a quota, the message size: grpc_error
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
}
# The server's refusals made before any work is done: a retry cannot do anything twice, so even a
# save or a delete may be retried after them (RetryPolicy).
GRPC_CODES = {"rate_limited": errors.RateLimited, "body_too_large": errors.RequestTooLarge}  # by ganserve-code
REFUSED_BEFORE_WORK = frozenset({"rate_limited", "busy", "overloaded"})
# What a load balancer answers when the replica it chose is down or died mid-request; the gateway's
# own 503s always carry a code and a Retry-After.
PROXY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class Connection:
    """How to reach the server, whatever the transport."""

    target: str  # http(s)://host:port, or host:port for gRPC
    timeout: float  # seconds per try of a call
    api_key: str | None = dataclasses.field(default=None, repr=False)  # never in a log line
    tls: bool = False  # gRPC over TLS (over HTTP, https:// says so)
    root_certificates: bytes | None = None  # PEM: the certificate authorities to trust instead of the system's

    @property
    def authorization(self) -> str | None:
        return f"Bearer {self.api_key}" if self.api_key else None


def connection(
    url: str,
    timeout: float,
    api_key: str | None = None,
    tls: bool = False,
    root_certificates: bytes | str | os.PathLike[str] | None = None,
) -> tuple[str, Connection]:
    """('http', Connection('http://host:8000', ...)) or ('grpc', Connection('host:50051', ...)).
    api_key None: $GANSERVE_API_KEY when set ("" sends no key); grpcs:// is grpc:// with tls.
    root_certificates: PEM (bytes or text), or a PEM file's path."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if api_key is None:
        api_key = os.environ.get(API_KEY_ENV)
    pem = root_certificates
    if isinstance(pem, str) and pem.lstrip().startswith("-----BEGIN"):
        pem = pem.encode()
    elif isinstance(pem, str | os.PathLike):
        pem = Path(pem).read_bytes()
    options: dict[str, Any] = {"api_key": (api_key or "").strip() or None, "root_certificates": pem}
    if parts.scheme in ("http", "https"):
        if tls and parts.scheme == "http":
            raise ValueError(f"tls over HTTP: use an https:// URL, not {url!r}")
        return "http", Connection(url.rstrip("/"), timeout, **options)
    if parts.scheme in ("grpc", "grpcs"):
        return "grpc", Connection(parts.netloc, timeout, tls=tls or parts.scheme == "grpcs" or pem is not None, **options)
    raise ValueError(f"unknown URL scheme {parts.scheme!r}: use http(s)://host:8000 or grpc://host:50051")


def _seconds(value: str | bytes | None) -> float | None:
    """A Retry-After in seconds (the server sends whole seconds; an HTTP date counts as none)."""
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _rate_limit(pairs: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """{"limit": ..., "remaining": ..., "reset": ..., "policy": ...} of the RateLimit-* headers or metadata."""
    return {name.lower()[len(RATE_LIMIT_PREFIX) :]: str(value) for name, value in pairs if name.lower().startswith(RATE_LIMIT_PREFIX)}


def http_error(response: httpx.Response) -> errors.GanserveError:
    try:
        error = response.json()["error"]
        message, field, code, scope = error["message"], error.get("field"), error.get("code"), error.get("scope")
    except (ValueError, KeyError, TypeError):
        message, field, code, scope = response.text or response.reason_phrase, None, None, None
    kind = HTTP_CODES.get(code) or HTTP_ERRORS.get(response.status_code, errors.GanserveError)
    retry_after_s = _seconds(response.headers.get(RETRY_AFTER_KEY))
    return kind(
        message,
        field,
        response.status_code,
        code=code,
        retry_after_s=retry_after_s,
        scope=scope,
        rate_limit=_rate_limit(response.headers.items()),
    )


def http_result(http: HttpCall, response: httpx.Response):
    if response.status_code >= 400:
        raise http_error(response)
    return http.parse(response)


def grpc_error(error: grpc.RpcError, trailing_metadata=None, method: str = "") -> errors.GanserveError:
    """The exception of a failed call to `method`; RESOURCE_EXHAUSTED is read from what comes with it."""
    code, message = error.code(), error.details() or ""
    metadata = dict(trailing_metadata or ())
    retry_after_s, rate_limit = _seconds(metadata.get(RETRY_AFTER_KEY)), _rate_limit(metadata.items())
    kind, server_code = GRPC_ERRORS.get(code, errors.GanserveError), metadata.get(CODE_KEY)
    if server_code is not None:  # the server names its error: the JSON error's code over HTTP
        kind = HTTP_CODES.get(server_code) or GRPC_CODES.get(server_code) or kind
    elif code == grpc.StatusCode.RESOURCE_EXHAUSTED:  # a server without ganserve-code: read what comes with it
        if "larger than max" in message:
            kind = errors.RequestTooLarge  # the message size limit, not the queue
        elif rate_limit:
            kind, server_code = errors.RateLimited, "rate_limited"
        elif retry_after_s is not None:
            kind, server_code = errors.Overloaded, "overloaded"  # the queue is full: refused before any work
        elif method == "SaveLatent":  # the only call with a quota, which no wait cures (hence no retry-after)
            kind, server_code = errors.QuotaExceeded, "quota_exceeded"
    return kind(
        message,
        metadata.get(FIELD_KEY),
        code.name,
        code=server_code,
        retry_after_s=retry_after_s,
        scope=metadata.get(SCOPE_KEY),
        rate_limit=rate_limit,
    )


def transport_error(exc: httpx.HTTPError) -> errors.GanserveError:
    if isinstance(exc, httpx.TimeoutException):
        return errors.DeadlineExceeded(f"no answer in time: {exc}")
    return errors.Unavailable(f"cannot reach the server: {exc}")


def failed_on_the_way(error: errors.GanserveError) -> bool:
    """Whether `error` came from the way to the server rather than from a ganserve server: no
    connection (refused, reset), a connection lost before the whole response (httpx's network and
    remote protocol errors), a proxy's 502/503/504, or gRPC UNAVAILABLE from the channel. None of
    them carries a server's error code or a Retry-After. Another replica may answer the call, but
    the one that failed may have done it first."""
    if error.code is not None or error.retry_after_s is not None:
        return False
    if error.status is None:  # transport_error: a timeout is DeadlineExceeded, everything else Unavailable
        return isinstance(error, errors.Unavailable)
    return error.status in PROXY_STATUSES or error.status == grpc.StatusCode.UNAVAILABLE.name


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed call is sent again, up to max_retries times and max_retry_wait_s seconds of
    waiting in all; past either bound the error is raised, at once when the wait it asks for is
    longer than what is left: the caller learns of it now rather than after a wait that would not
    be enough.

    - A refusal with a Retry-After (429 rate limited, 503 busy or overloaded, gRPC RESOURCE_EXHAUSTED
      or UNAVAILABLE with retry-after) is retried after that many seconds.
    - A failure on the way (failed_on_the_way: connection refused or lost, a proxy's 502/503/504,
      gRPC UNAVAILABLE without retry-after) is retried after backoff_s, doubling with each retry,
      for calls that do not write only."""

    max_retries: int = 3
    max_retry_wait_s: float = 10.0
    backoff_s: float = 0.1  # the first wait after a failure on the way; doubling gives a balancer's health check time to act

    def wait_s(self, call: Call, error: errors.GanserveError, retries: int, waited_s: float) -> float | None:
        """Seconds to wait before sending `call` again after `error`, `retries` retries and `waited_s`
        seconds of waiting into it; None: raise it."""
        if retries >= self.max_retries:
            return None
        # Generation is deterministic and reads change nothing: sending them twice is harmless. A save
        # or a delete may have been done before a 503 engine_unavailable or store_unavailable (the store
        # timed out after writing), so it is retried only after 429 rate_limited, 503 busy and the
        # queue's 503 overloaded, which the server answers before any work. gRPC's UNAVAILABLE does not
        # say which 503 it was, so a write over gRPC is not retried after it. For the same reason a
        # write is never retried after a failure on the way: the replica may have saved before it died.
        if error.retry_after_s is not None:
            if call.writes and error.code not in REFUSED_BEFORE_WORK:
                return None
            wait_s = error.retry_after_s
        elif failed_on_the_way(error) and not call.writes:
            wait_s = self.backoff_s * 2**retries
        else:
            return None
        if waited_s + wait_s > self.max_retry_wait_s:
            return None
        return wait_s


class SyncTransport(Protocol):
    def unary(self, call: Call) -> Any: ...

    def stream(self, call: Call) -> Generator[Any]: ...

    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def unary(self, call: Call) -> Any: ...

    def stream(self, call: Call) -> AsyncGenerator[Any]: ...

    async def close(self) -> None: ...


class Retrying:
    """A sync transport whose calls are retried as `policy` allows; a stream only while none of its
    items has arrived (after that, a retry would repeat them). `retries`: how many times a call has
    been sent again, over the transport's life (Client.retries), for monitoring and tests; updated
    without a lock, so exact when one thread uses the transport at a time."""

    def __init__(self, transport: SyncTransport, policy: RetryPolicy):
        self.transport, self.policy = transport, policy
        self.retries = 0

    def unary(self, call: Call):
        retries, waited_s = 0, 0.0
        while True:
            try:
                return self.transport.unary(call)
            except errors.GanserveError as error:
                wait_s = self.policy.wait_s(call, error, retries, waited_s)
                if wait_s is None:
                    raise
            time.sleep(wait_s)
            retries, waited_s = retries + 1, waited_s + wait_s
            self.retries += 1

    def stream(self, call: Call) -> Generator:
        retries, waited_s = 0, 0.0
        while True:
            received = False
            try:
                with closing(self.transport.stream(call)) as items:  # closing it cancels the call
                    for item in items:
                        received = True
                        yield item
                return
            except errors.GanserveError as error:
                wait_s = None if received else self.policy.wait_s(call, error, retries, waited_s)
                if wait_s is None:
                    raise
            time.sleep(wait_s)
            retries, waited_s = retries + 1, waited_s + wait_s
            self.retries += 1

    def close(self) -> None:
        self.transport.close()


class AsyncRetrying:
    """Retrying, for the async transports (`retries` likewise)."""

    def __init__(self, transport: AsyncTransport, policy: RetryPolicy):
        self.transport, self.policy = transport, policy
        self.retries = 0

    async def unary(self, call: Call):
        retries, waited_s = 0, 0.0
        while True:
            try:
                return await self.transport.unary(call)
            except errors.GanserveError as error:
                wait_s = self.policy.wait_s(call, error, retries, waited_s)
                if wait_s is None:
                    raise
            await asyncio.sleep(wait_s)
            retries, waited_s = retries + 1, waited_s + wait_s
            self.retries += 1

    async def stream(self, call: Call) -> AsyncGenerator:
        retries, waited_s = 0, 0.0
        while True:
            received = False
            try:
                async with aclosing(self.transport.stream(call)) as items:  # closing it cancels the call
                    async for item in items:
                        received = True
                        yield item
                return
            except errors.GanserveError as error:
                wait_s = None if received else self.policy.wait_s(call, error, retries, waited_s)
                if wait_s is None:
                    raise
            await asyncio.sleep(wait_s)
            retries, waited_s = retries + 1, waited_s + wait_s
            self.retries += 1

    async def close(self) -> None:
        await self.transport.close()


def _http_options(connection: Connection) -> dict[str, Any]:
    headers = {"authorization": connection.authorization} if connection.authorization else {}
    options: dict[str, Any] = {"base_url": connection.target, "timeout": connection.timeout, "headers": headers}
    if connection.root_certificates is not None:  # https:// with a private certificate authority
        options["verify"] = ssl.create_default_context(cadata=connection.root_certificates.decode())
    return options


def _grpc_metadata(connection: Connection) -> tuple[tuple[str, str], ...]:
    return (("authorization", connection.authorization),) if connection.authorization else ()


def _grpc_credentials(connection: Connection) -> grpc.ChannelCredentials | None:
    """TLS credentials (the system's certificate authorities unless root_certificates), or None: plaintext."""
    return grpc.ssl_channel_credentials(root_certificates=connection.root_certificates) if connection.tls else None


class _SseParser:
    """Server-Sent Events line by line: feed() gives an event's JSON data when a blank line ends it
    (comments and keep-alives, which carry no data, give nothing)."""

    def __init__(self) -> None:
        self.pending: list[str] = []

    def feed(self, line: str) -> dict | None:
        if line:
            self.pending.append(line)
            return None
        data = "\n".join(text[5:].lstrip() for text in self.pending if text.startswith("data:"))
        self.pending = []
        return json.loads(data) if data else None


def sse_data(lines: Iterable[str]) -> Iterator[dict]:
    """The JSON data of each Server-Sent Event."""
    parser = _SseParser()
    for line in lines:
        if (event := parser.feed(line)) is not None:
            yield event


async def async_sse_data(lines: AsyncIterator[str]) -> AsyncIterator[dict]:
    parser = _SseParser()
    async for line in lines:
        if (event := parser.feed(line)) is not None:
            yield event


class SyncHttp:
    def __init__(self, connection: Connection):
        self.client = httpx.Client(**_http_options(connection))

    def _request(self, call: Call) -> httpx.Response:
        http = call.over_http()
        try:
            return self.client.request(http.method, http.path, json=http.json, params=http.params, content=http.content)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from None
        except ValueError as exc:  # JSON has no NaN or infinity
            raise errors.InvalidInput(f"request: {exc}") from None

    def _send(self, call: Call):
        return http_result(call.over_http(), self._request(call))

    def unary(self, call: Call):
        return self._send(call)

    def stream(self, call: Call) -> Generator:
        http = call.over_http()
        if http.events_path is None:
            yield from self._send(call)  # HTTP answers a walk in one response
            return
        response = self._request(call)
        yield http_result(http, response)
        assert http.parse_event is not None
        try:
            with self.client.stream("GET", http.events_path(response)) as events:
                if events.status_code >= 400:
                    events.read()
                    raise http_error(events)
                for data in sse_data(events.iter_lines()):
                    yield http.parse_event(data)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from None

    def close(self) -> None:
        self.client.close()


class AsyncHttp:
    def __init__(self, connection: Connection):
        self.client = httpx.AsyncClient(**_http_options(connection))

    async def _request(self, call: Call) -> httpx.Response:
        http = call.over_http()
        try:
            return await self.client.request(http.method, http.path, json=http.json, params=http.params, content=http.content)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from None
        except ValueError as exc:  # JSON has no NaN or infinity
            raise errors.InvalidInput(f"request: {exc}") from None

    async def _send(self, call: Call):
        return http_result(call.over_http(), await self._request(call))

    async def unary(self, call: Call):
        return await self._send(call)

    async def stream(self, call: Call) -> AsyncGenerator:
        http = call.over_http()
        if http.events_path is None:
            for item in await self._send(call):
                yield item
            return
        response = await self._request(call)
        yield http_result(http, response)
        assert http.parse_event is not None
        try:
            async with self.client.stream("GET", http.events_path(response)) as events:
                if events.status_code >= 400:
                    await events.aread()
                    raise http_error(events)
                async for data in async_sse_data(events.aiter_lines()):
                    yield http.parse_event(data)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from None

    async def close(self) -> None:
        await self.client.aclose()


class SyncGrpc:
    def __init__(self, connection: Connection):
        credentials = _grpc_credentials(connection)
        if credentials is None:
            self.channel = grpc.insecure_channel(connection.target, options=GRPC_OPTIONS)
        else:
            self.channel = grpc.secure_channel(connection.target, credentials, options=GRPC_OPTIONS)
        self.stub, self.timeout = ganserve_pb2_grpc.GeneratorStub(self.channel), connection.timeout
        self.metadata = _grpc_metadata(connection)

    def unary(self, call: Call):
        method = getattr(self.stub, call.grpc.method)
        try:
            response = method(call.grpc.request, timeout=self.timeout, metadata=self.metadata)
        except grpc.RpcError as error:
            raise grpc_error(error, error.trailing_metadata(), call.grpc.method) from None
        return call.grpc.parse(response)

    def stream(self, call: Call) -> Generator:
        """Messages as they arrive; closing the iterator early cancels the call on the server."""
        responses = getattr(self.stub, call.grpc.method)(call.grpc.request, timeout=self.timeout, metadata=self.metadata)
        try:
            for message in responses:
                yield call.grpc.parse(message)
        except grpc.RpcError as error:
            raise grpc_error(error, error.trailing_metadata(), call.grpc.method) from None
        finally:
            responses.cancel()

    def close(self) -> None:
        self.channel.close()


class AsyncGrpc:
    def __init__(self, connection: Connection):
        credentials = _grpc_credentials(connection)
        if credentials is None:
            self.channel = grpc.aio.insecure_channel(connection.target, options=GRPC_OPTIONS)
        else:
            self.channel = grpc.aio.secure_channel(connection.target, credentials, options=GRPC_OPTIONS)
        self.stub, self.timeout = ganserve_pb2_grpc.GeneratorStub(self.channel), connection.timeout
        self.metadata = _grpc_metadata(connection)

    async def unary(self, call: Call):
        rpc = getattr(self.stub, call.grpc.method)(call.grpc.request, timeout=self.timeout, metadata=self.metadata)
        try:
            response = await rpc
        except grpc.RpcError as error:
            raise grpc_error(error, await rpc.trailing_metadata(), call.grpc.method) from None
        return call.grpc.parse(response)

    async def stream(self, call: Call) -> AsyncGenerator:
        rpc = getattr(self.stub, call.grpc.method)(call.grpc.request, timeout=self.timeout, metadata=self.metadata)
        try:
            async for message in rpc:
                yield call.grpc.parse(message)
        except grpc.RpcError as error:
            raise grpc_error(error, await rpc.trailing_metadata(), call.grpc.method) from None
        finally:
            rpc.cancel()

    async def close(self) -> None:
        await self.channel.close()


def sync_transport(name: str, connection: Connection, policy: RetryPolicy) -> Retrying:
    return Retrying((SyncHttp if name == "http" else SyncGrpc)(connection), policy)


def async_transport(name: str, connection: Connection, policy: RetryPolicy) -> AsyncRetrying:
    return AsyncRetrying((AsyncHttp if name == "http" else AsyncGrpc)(connection), policy)
