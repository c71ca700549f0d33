"""Moving a Call (calls.py) over HTTP (httpx) or gRPC (grpcio), sync or async, and turning every
failure into one of ganserve_client.errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import grpc
import httpx

from ganserve_client import errors
from ganserve_client.calls import Call, HttpCall
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

FIELD_KEY = "ganserve-field"  # trailing metadata: the request field a gRPC error is about
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
GRPC_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]

HTTP_ERRORS = {400: errors.InvalidInput, 404: errors.NotFound, 413: errors.RequestTooLarge, 422: errors.InvalidInput}
GRPC_ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidInput,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.Overloaded,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
}


def parse_url(url: str) -> tuple[str, str]:
    """('http', 'http://host:8000') or ('grpc', 'host:50051')."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme in ("http", "https"):
        return "http", url.rstrip("/")
    if parts.scheme == "grpc":
        return "grpc", parts.netloc
    raise ValueError(f"unknown URL scheme {parts.scheme!r}: use http://host:8000 or grpc://host:50051")


def http_error(response: httpx.Response) -> errors.GanserveError:
    try:
        error = response.json()["error"]
        message, field, code = error["message"], error.get("field"), error.get("code")
    except (ValueError, KeyError, TypeError):
        message, field, code = response.text or response.reason_phrase, None, None
    kind: type[errors.GanserveError]
    if response.status_code == 503:
        kind = errors.Overloaded if code == "overloaded" else errors.Unavailable
    else:
        kind = HTTP_ERRORS.get(response.status_code, errors.GanserveError)
    return kind(message, field, response.status_code)


def http_result(http: HttpCall, response: httpx.Response):
    if response.status_code >= 400:
        raise http_error(response)
    return http.parse(response)


def grpc_error(error: grpc.RpcError, trailing_metadata=None) -> errors.GanserveError:
    code, message = error.code(), error.details() or ""
    field = dict(trailing_metadata or ()).get(FIELD_KEY)
    kind = GRPC_ERRORS.get(code, errors.GanserveError)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in message:
        kind = errors.RequestTooLarge  # the message size limit, not the queue
    return kind(message, field, code.name)


def transport_error(exc: httpx.HTTPError) -> errors.GanserveError:
    if isinstance(exc, httpx.TimeoutException):
        return errors.DeadlineExceeded(f"no answer in time: {exc}")
    return errors.Unavailable(f"cannot reach the server: {exc}")


class SyncHttp:
    def __init__(self, base_url: str, timeout: float):
        self.client = httpx.Client(base_url=base_url, timeout=timeout)

    def _send(self, call: Call):
        http = call.over_http()
        try:
            response = self.client.request(http.method, http.path, json=http.json, params=http.params)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from None
        except ValueError as exc:  # JSON has no NaN or infinity
            raise errors.InvalidInput(f"request: {exc}") from None
        return http_result(http, response)

    def unary(self, call: Call):
        return self._send(call)

    def stream(self, call: Call) -> Iterator:
        yield from self._send(call)  # HTTP answers a walk in one response

    def close(self) -> None:
        self.client.close()


class AsyncHttp:
    def __init__(self, base_url: str, timeout: float):
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def _send(self, call: Call):
        http = call.over_http()
        try:
            response = await self.client.request(http.method, http.path, json=http.json, params=http.params)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from None
        except ValueError as exc:  # JSON has no NaN or infinity
            raise errors.InvalidInput(f"request: {exc}") from None
        return http_result(http, response)

    async def unary(self, call: Call):
        return await self._send(call)

    async def stream(self, call: Call) -> AsyncIterator:
        for item in await self._send(call):
            yield item

    async def close(self) -> None:
        await self.client.aclose()


class SyncGrpc:
    def __init__(self, target: str, timeout: float):
        self.channel = grpc.insecure_channel(target, options=GRPC_OPTIONS)
        self.stub, self.timeout = ganserve_pb2_grpc.GeneratorStub(self.channel), timeout

    def unary(self, call: Call):
        method = getattr(self.stub, call.grpc.method)
        try:
            response = method(call.grpc.request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise grpc_error(error, error.trailing_metadata()) from None
        return call.grpc.parse(response)

    def stream(self, call: Call) -> Iterator:
        """Messages as they arrive; closing the iterator early cancels the call on the server."""
        responses = getattr(self.stub, call.grpc.method)(call.grpc.request, timeout=self.timeout)
        try:
            for message in responses:
                yield call.grpc.parse(message)
        except grpc.RpcError as error:
            raise grpc_error(error, error.trailing_metadata()) from None
        finally:
            responses.cancel()

    def close(self) -> None:
        self.channel.close()


class AsyncGrpc:
    def __init__(self, target: str, timeout: float):
        self.channel = grpc.aio.insecure_channel(target, options=GRPC_OPTIONS)
        self.stub, self.timeout = ganserve_pb2_grpc.GeneratorStub(self.channel), timeout

    async def unary(self, call: Call):
        rpc = getattr(self.stub, call.grpc.method)(call.grpc.request, timeout=self.timeout)
        try:
            response = await rpc
        except grpc.RpcError as error:
            raise grpc_error(error, await rpc.trailing_metadata()) from None
        return call.grpc.parse(response)

    async def stream(self, call: Call) -> AsyncIterator:
        rpc = getattr(self.stub, call.grpc.method)(call.grpc.request, timeout=self.timeout)
        try:
            async for message in rpc:
                yield call.grpc.parse(message)
        except grpc.RpcError as error:
            raise grpc_error(error, await rpc.trailing_metadata()) from None
        finally:
            rpc.cancel()

    async def close(self) -> None:
        await self.channel.close()
