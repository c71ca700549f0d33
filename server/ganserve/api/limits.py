"""Request body size limit, enforced before the application sees the body, and the request's
deadline header.

The body is read here (it is small by definition: at most max_bytes) and replayed to the app,
so a chunked upload without Content-Length is cut off as soon as it passes the limit.
"""

from __future__ import annotations

import json
import time

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ganserve.errors import BodyTooLarge, InvalidInput
from ganserve.failures import FAILURES
from ganserve.operations.cost import requested_deadline

DEADLINE_HEADER = "x-deadline-ms"
MAX_DEADLINE_MS = 600_000


async def read_deadline(request: Request) -> None:
    """X-Deadline-Ms: the milliseconds the client will wait, from now; without it, GANSERVE_REQUEST_DEADLINE_S.
    async: a dependency FastAPI runs on a worker thread could not set the request's context variable."""
    text = request.headers.get(DEADLINE_HEADER)
    if text is None:
        return
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_DEADLINE_MS:
        raise InvalidInput("X-Deadline-Ms", f"milliseconds to wait, a whole number from 1 to {MAX_DEADLINE_MS}; got {text[:20]!r}")
    requested_deadline.set(time.monotonic() + int(text) / 1000)


UPLOAD_PATH_SUFFIX = "/projections"  # POST /v1/models/{model}/projections: the body is an image file


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int | None = None) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.upload_max_bytes = upload_max_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        upload = scope["path"].endswith(UPLOAD_PATH_SUFFIX)
        max_bytes = self.upload_max_bytes if upload else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return await self._reject(send, max_bytes, upload)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > max_bytes:
                return await self._reject(send, max_bytes, upload)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, max_bytes: int, upload: bool) -> None:
        """Answered here, before the app (and its exception handlers) ever sees the request."""
        failure = FAILURES[BodyTooLarge]
        setting = "GANSERVE_PROJECTION_MAX_UPLOAD_BYTES" if upload else "GANSERVE_MAX_BODY_BYTES"
        message = f"{'the uploaded image' if upload else 'request body'} is larger than {max_bytes} bytes ({setting})"
        field = "image" if upload else "body"
        body = json.dumps({"error": {"code": failure.code, "message": message, "field": field}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": failure.http_status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
