"""The FastAPI application: state built in the lifespan (which also runs the gRPC server), routers,
errors, limits and metrics."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import ganserve
from ganserve.api.access import ConcurrencyCap
from ganserve.api.errors import RequestIds, install_error_handlers
from ganserve.api.limits import BodySizeLimit
from ganserve.api.metrics import MetricsMiddleware, StateCollector
from ganserve.api.routes import (
    admin,
    edits,
    health,
    images,
    interpolations,
    latents,
    mixes,
    models,
    playground,
    projections,
    stable_images,
    training,
)
from ganserve.metrics import Metrics
from ganserve.operations.reloads import ReloadBroadcast
from ganserve.settings import Settings, get_settings
from ganserve.state import AppState

log = logging.getLogger("ganserve")


def reload_on_hangup(state: AppState) -> bool:
    """SIGHUP reloads the models folder, as POST /v1/admin/reload does (for a process manager or
    `kill -HUP`). Only in the main thread, where signal handlers can be set: not under TestClient."""
    if threading.current_thread() is not threading.main_thread():
        return False
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task] = set()  # held until done: the loop keeps only weak references to tasks

    def reload() -> None:
        task = loop.create_task(state.reload_models())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    return True


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState(settings, metrics)
        metrics.registry.register(StateCollector(state))
        app.state.ganserve = state
        await state.load_models()
        metrics_server = None
        if settings.metrics_port:  # scraped apart from the API: open, on a port the network can fence off
            from prometheus_client import start_http_server

            metrics_server, _ = start_http_server(settings.metrics_port, settings.host, metrics.registry)
        grpc_server = None
        if settings.grpc_port:
            from ganserve.rpc.server import GrpcServer

            grpc_server = GrpcServer(state)
            await grpc_server.start()
        app.state.reloads = ReloadBroadcast(state)
        app.state.reloads.start()
        state.ready = True
        log.info("ready in %.2f s", time.monotonic() - state.started_at)
        on_hangup = reload_on_hangup(state)
        yield
        await app.state.reloads.close()
        if on_hangup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if grpc_server is not None:
            await grpc_server.stop()
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        state.ready = False
        await state.close()

    app = FastAPI(
        title="ganserve",
        version=ganserve.__version__,
        description="Real-time inference for StyleGAN-style generators: seeds, latents, interpolation and style mixing.",
        lifespan=lifespan,
    )
    for module in (models, stable_images, images, interpolations, mixes, edits, latents, projections, training, health, admin, playground):
        app.include_router(module.router)
    install_error_handlers(app)
    # Outermost last: metrics see every response, the 413 of BodySizeLimit and the 503 of the cap carry a request id too.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, upload_max_bytes=settings.projection_max_upload_bytes)
    app.add_middleware(ConcurrencyCap)
    app.add_middleware(RequestIds)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
