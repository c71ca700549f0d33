"""/playground: the designers' playground, a static page (HTML, ES modules, CSS) that uses only the
public HTTP API. GET /playground (and /playground/) is its index.html; its other files are under
/playground/. Not part of the API, so hidden from OpenAPI."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

STATIC = Path(__file__).resolve().parents[1] / "playground"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Revalidate every time (ETag / Last-Modified from FileResponse): a new server version shows at once.
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

router = APIRouter(tags=["playground"], include_in_schema=False)


def _file(path: Path) -> Response:
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), headers=HEADERS)


@router.get("/playground", include_in_schema=False)
@router.get("/playground/", include_in_schema=False)
async def index() -> Response:
    return _file(STATIC / "index.html")


@router.get("/playground/{name:path}", include_in_schema=False)
async def static_file(name: str) -> Response:
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file() or path.name.startswith("."):
        message = f"no playground file {name!r}"
        return JSONResponse({"error": {"code": "not_found", "message": message, "field": "path"}}, status_code=404)
    return _file(path)
