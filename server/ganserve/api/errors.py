"""Every failure becomes a JSON error naming the problem: {"error": {code, message, field}}, with
the status of ganserve.failures' table. Every response carries X-Request-ID; an exception that
escapes (a bug) becomes a JSON 500 with that id in the body too, logged with it."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ganserve.failures import FAILURES, REQUEST_ID_HEADER, ErrorReport, describe, internal_error, invalid_fields, request_id

HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}  # Starlette's own: no route, or not this method


def error_body(report: ErrorReport) -> dict[str, dict[str, str | None]]:
    body: dict[str, str | None] = {"code": report.failure.code, "message": report.message, "field": report.field}
    if report.scope is not None:
        body["scope"] = report.scope
    return {"error": body}


def error_response(report: ErrorReport) -> JSONResponse:
    headers = dict(report.headers)
    if report.failure.retry:
        headers["Retry-After"] = str(report.retry_after_s)
    if report.failure.http_status == 401:
        headers["WWW-Authenticate"] = f'Bearer scope="{report.scope}"'
    return JSONResponse(error_body(report), status_code=report.failure.http_status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    async def _validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(invalid_fields(exc.errors()))

    async def _known(request: Request, exc: Exception) -> JSONResponse:
        report = describe(exc)
        assert report is not None  # registered for the table's exceptions only
        return error_response(report)

    async def _http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        body = {"error": {"code": HTTP_CODES.get(exc.status_code, "http_error"), "message": str(exc.detail), "field": None}}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    app.add_exception_handler(RequestValidationError, _validation)
    for exception in FAILURES:
        app.add_exception_handler(exception, _known)
    app.add_exception_handler(StarletteHTTPException, _http)


class RequestIds:
    """Outermost but for the metrics: gives every response an X-Request-ID (the client's own when
    sane), and turns an exception that no handler knows into a JSON 500 with that id, logged with
    the id and the traceback (instead of Starlette's plain-text 500)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode())
        rid = request_id(incoming.decode("latin-1") if incoming else None)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            report = internal_error(exc, rid)
            if started:  # too late for an error response: the server ends the connection
                raise
            body = error_body(report)
            body["error"]["request_id"] = rid
            data = json.dumps(body).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
            await send_with_id({"type": "http.response.start", "status": report.failure.http_status, "headers": headers})
            await send_with_id({"type": "http.response.body", "body": data})
