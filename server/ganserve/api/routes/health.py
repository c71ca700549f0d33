"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ganserve.api.deps import State

router = APIRouter(tags=["operations"])


@router.get("/healthz", responses={200: {"content": {"application/json": {}}}})
async def healthz() -> dict:
    """The process is up and its event loop answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={200: {"content": {"application/json": {}}}, 503: {"content": {"application/json": {}}}})
async def readyz(state: State) -> JSONResponse:
    """Every model is loaded and warmed up."""
    ready = state.ready and bool(state.pipelines)
    body = {"status": "ready" if ready else "not ready", "models": sorted(state.pipelines)}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
