"""Every failure becomes a JSON error naming the problem: {"error": {code, message, field}}."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ganserve.batching import Overloaded
from ganserve.engines import EngineError
from ganserve.errors import InvalidInput, NotFound, field_path
from ganserve.store import StoreUnavailable

RETRY_AFTER_S = "1"


def error_response(status: int, code: str, message: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        field = field_path(tuple(first["loc"]))
        message = first["msg"]
        if first["type"] == "json_invalid":
            message = "request body is not valid JSON"
        return error_response(422, "invalid_input", f"{field}: {message}", field)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput):
        return error_response(422, "invalid_input", f"{exc.field}: {exc.message}", exc.field)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return error_response(404, "not_found", exc.message, exc.field)

    @app.exception_handler(Overloaded)
    async def _overloaded(request: Request, exc: Overloaded):
        return error_response(503, "overloaded", str(exc), headers={"Retry-After": RETRY_AFTER_S})

    @app.exception_handler(EngineError)
    async def _engine(request: Request, exc: EngineError):
        return error_response(503, "engine_unavailable", str(exc), headers={"Retry-After": RETRY_AFTER_S})

    @app.exception_handler(StoreUnavailable)
    async def _store(request: Request, exc: StoreUnavailable):
        return error_response(503, "store_unavailable", str(exc), headers={"Retry-After": RETRY_AFTER_S})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))
