"""The FastAPI application: state built in the lifespan, routers, errors, limits and metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI

import ganserve
from ganserve.api.errors import install_error_handlers
from ganserve.api.limits import BodySizeLimit
from ganserve.api.metrics import Metrics, MetricsMiddleware, StateCollector
from ganserve.api.routes import health, images, interpolations, latents, mixes, models, stable_images
from ganserve.artifacts import discover
from ganserve.cache import make_caches
from ganserve.engines import EngineError, load_engine
from ganserve.pipeline import ModelPipeline, NoiseMode
from ganserve.settings import EngineKind, Settings, get_settings
from ganserve.store import make_store

log = logging.getLogger("ganserve")


class AppState:
    """Everything the handlers share, reached through `request.app.state.ganserve`."""

    def __init__(self, settings: Settings, metrics: Metrics):
        self.settings, self.metrics = settings, metrics
        self.pipelines: dict[str, ModelPipeline] = {}
        self.w_cache, self.image_cache = make_caches(settings)
        self.latent_store = make_store(settings)
        self.encoder = ThreadPoolExecutor(settings.encode_threads, thread_name_prefix="encode")
        self.ready = False
        self.started_at = time.monotonic()
        self.triton_client = None  # one long-lived client shared by every model, with GANSERVE_ENGINE=triton

    async def run_blocking(self, fn, *args):
        """Encoding and other CPU work, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.encoder, fn, *args)

    async def load_models(self) -> None:
        if self.settings.engine == EngineKind.triton:
            from ganserve.engines.triton import connect

            self.triton_client = connect(self.settings)
        for artifact in discover(self.settings.models_dir):
            engine = await asyncio.to_thread(load_engine, artifact, self.settings, self.triton_client)
            pipeline = ModelPipeline(artifact, engine, self.settings, self.w_cache, self.latent_store)
            try:
                await warm_up(pipeline)
                log.info("model %s ready on %s (%s)", artifact.config.name, engine.name, artifact.digest[:12])
            except EngineError as exc:  # Triton not up yet: /readyz says so until it is
                log.warning("model %s loaded but not warmed up: %s", artifact.config.name, exc)
            self.pipelines[artifact.config.name] = pipeline
        if not self.pipelines:
            log.warning("no models found in %s", self.settings.models_dir)

    async def not_ready_reason(self) -> str | None:
        if not self.ready:
            return "starting"
        if not self.pipelines:
            return f"no models in {self.settings.models_dir}"
        for name, pipeline in self.pipelines.items():
            try:
                await pipeline.engine.check_ready()
            except EngineError as exc:
                return f"{name}: {exc}"
        return None

    async def close(self) -> None:
        for pipeline in self.pipelines.values():
            await pipeline.close()
        if self.triton_client is not None:
            await self.triton_client.close()
        for cache in (self.image_cache, self.w_cache):  # the w cache owns a shared Redis client
            await cache.close()
        await self.latent_store.close()
        self.encoder.shutdown(wait=False)


async def warm_up(pipeline: ModelPipeline) -> None:
    """One pass through every graph, so that the first real request does not pay for it."""
    cls = 0 if pipeline.config.c_dim else None
    w = await pipeline.w_from_z(np.zeros([1, pipeline.config.z_dim], np.float32) + 1, cls)
    ws = np.repeat(w[:, None], pipeline.config.num_ws, axis=1)
    await pipeline.synthesize(ws, NoiseMode.const)
    await pipeline.synthesize(ws, NoiseMode.random)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = AppState(settings, metrics)
        metrics.registry.register(StateCollector(state))
        app.state.ganserve = state
        await state.load_models()
        state.ready = True
        log.info("ready in %.2f s", time.monotonic() - state.started_at)
        yield
        state.ready = False
        await state.close()

    app = FastAPI(
        title="ganserve",
        version=ganserve.__version__,
        description="Real-time inference for StyleGAN-style generators: seeds, latents, interpolation and style mixing.",
        lifespan=lifespan,
    )
    for module in (models, stable_images, images, interpolations, mixes, latents, health):
        app.include_router(module.router)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
