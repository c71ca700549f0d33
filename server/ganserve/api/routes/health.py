"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ganserve.access.keys import Scope
from ganserve.api.access import requires
from ganserve.api.deps import State

router = APIRouter(tags=["operations"])


@router.get("/healthz", responses={200: {"content": {"application/json": {}}}})
async def healthz() -> dict[str, Any]:
    """The process is up and its event loop answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={200: {"content": {"application/json": {}}}, 503: {"content": {"application/json": {}}}})
async def readyz(state: State) -> JSONResponse:
    """Every model is loaded, and its engine ready (with Triton: every graph ready in Triton)."""
    reason = await state.not_ready_reason()
    body: dict[str, object] = {"status": "not ready" if reason else "ready", "models": sorted(state.pipelines)}
    if reason:
        body["reason"] = reason
    return JSONResponse(body, status_code=503 if reason else 200, headers={"Retry-After": "1"} if reason else None)


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}}, dependencies=requires(Scope.metrics)
)
async def metrics(state: State) -> Response:
    """Prometheus metrics; with keys required, scope metrics (or GANSERVE_METRICS_PORT: an open port of its own)."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
