"""Access over HTTP: `Authorization: Bearer <key>` checked against the route's scope before the
body is read (a dependency FastAPI solves ahead of the body), and the cap on concurrent requests.

Every router declares its scope (ganserve.access.keys.Scope); health, the playground's static files
and the OpenAPI description stay open. tests/api/test_access.py walks the OpenAPI description to
check that every other route refuses a request without a key.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from ganserve.access.gate import Caller
from ganserve.access.keys import Scope as KeyScope
from ganserve.api.deps import get_state
from ganserve.api.errors import error_body
from ganserve.api.limits import read_deadline
from ganserve.errors import Busy
from ganserve.failures import describe

# Declares the scheme in the OpenAPI description; the header itself is read by `authorize`.
bearer = HTTPBearer(auto_error=False, description="an API key (`ganserve keys create`); required when GANSERVE_AUTH=keys")
UNCOUNTED_PATHS = ("/healthz", "/readyz", "/metrics")  # probes and scrapes must answer under any load


def _authorizer(scope: KeyScope):
    async def authorize(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
        address = request.client.host if request.client else ""
        return await get_state(request).access.authenticate(request.headers.get("authorization"), address, scope)

    authorize.__name__ = f"authorize_{scope.name}"
    return authorize


# One dependency per scope, so that a router's and a route's declarations are solved once per request.
AUTHORIZE = {scope: _authorizer(scope) for scope in KeyScope}


def requires(scope: KeyScope) -> list:
    """For APIRouter(dependencies=...): every route of the router needs `scope`; and the request's
    deadline header is read (X-Deadline-Ms, api.limits)."""
    return [Depends(AUTHORIZE[scope]), Depends(read_deadline)]


GenerateCaller = Annotated[Caller, Depends(AUTHORIZE[KeyScope.generate])]
LatentReader = Annotated[Caller, Depends(AUTHORIZE[KeyScope.latents_read])]
LatentWriter = Annotated[Caller, Depends(AUTHORIZE[KeyScope.latents_write])]


class ConcurrencyCap:
    """503 busy past GANSERVE_MAX_CONCURRENT_REQUESTS requests in this process (gRPC calls included)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED_PATHS:
            return await self.app(scope, receive, send)
        state = getattr(scope["app"].state, "ganserve", None)
        if state is None:  # before the lifespan has built the state
            return await self.app(scope, receive, send)
        try:
            state.in_flight.acquire()
        except Busy as exc:
            return await self._refuse(send, exc)
        try:
            await self.app(scope, receive, send)
        finally:
            state.in_flight.release()

    @staticmethod
    async def _refuse(send: Send, exc: Busy) -> None:
        report = describe(exc)
        assert report is not None
        body = json.dumps(error_body(report)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"retry-after", b"1")]
        await send({"type": "http.response.start", "status": report.failure.http_status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
