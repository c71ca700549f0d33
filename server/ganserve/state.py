"""What the HTTP and gRPC front ends share in one gateway process: the models' pipelines, the
caches, the saved-latent store, the projection job queue and its local workers, the access gate
(keys, rate limits) and the cap on requests in flight, the Triton client and the encoder threads.
Built once, in the FastAPI lifespan, which also starts and stops the gRPC server."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from ganserve.access.gate import AccessGate
from ganserve.access.in_flight import InFlight
from ganserve.artifacts import Artifact, discover
from ganserve.cache import make_caches
from ganserve.engines import EngineError, load_engine
from ganserve.errors import NotFound
from ganserve.jobs import JobQueue, make_job_queue
from ganserve.jobs.local_workers import LocalWorkers
from ganserve.metrics import Metrics
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import ModelReloaded, NoiseMode
from ganserve.settings import EngineKind, Settings
from ganserve.store import make_store

log = logging.getLogger("ganserve")

T = TypeVar("T")


class AppState:
    def __init__(self, settings: Settings, metrics: Metrics):
        self.settings, self.metrics = settings, metrics
        self.pipelines: dict[str, ModelPipeline] = {}
        self.w_cache, self.image_cache = make_caches(settings)
        self.latent_store = make_store(settings)
        self.access = AccessGate(settings)
        self.in_flight = InFlight(settings.max_concurrent_requests)
        self.encoder = ThreadPoolExecutor(settings.encode_threads, thread_name_prefix="encode")
        self.ready = False
        self.started_at = time.monotonic()
        self.triton_client: Any = None  # one long-lived client shared by every model, with GANSERVE_ENGINE=triton
        self.local_workers = LocalWorkers(settings)  # projection workers, started on the first job
        self._jobs: JobQueue | None = None
        self._reloading = asyncio.Lock()
        self._retiring: set[asyncio.Task] = set()  # pipelines replaced by a reload, finishing their work

    def pipeline(self, model: str, field: str = "model") -> ModelPipeline:
        found = self.pipelines.get(model)
        if found is None:
            known = ", ".join(self.pipelines) or "none"
            raise NotFound(field, f"unknown model {model!r}; models: {known}")
        return found

    @property
    def jobs(self) -> JobQueue:
        """The projection job queue, opened on first use: a gateway that never projects opens nothing."""
        if self._jobs is None:
            self._jobs = make_job_queue(self.settings)
        return self._jobs

    @property
    def default_model(self) -> str | None:
        """GANSERVE_DEFAULT_MODEL when it is served, else the first served model by name."""
        if self.settings.default_model in self.pipelines:
            return self.settings.default_model
        return min(self.pipelines, default=None)

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Encoding and other CPU work, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.encoder, fn, *args)

    async def load_models(self) -> None:
        if self.settings.engine == EngineKind.triton:
            from ganserve.engines.triton import connect

            self.triton_client = connect(self.settings)
        for artifact in discover(self.settings.models_dir):
            pipeline = await self._pipeline_of(artifact)
            try:
                await warm_up(pipeline)
                log.info("model %s ready on %s (%s)", artifact.config.name, pipeline.engine.name, artifact.digest[:12])
            except EngineError as exc:  # Triton not up yet: /readyz says so until it is
                log.warning("model %s loaded but not warmed up: %s", artifact.config.name, exc)
            self.pipelines[artifact.config.name] = pipeline
        if not self.pipelines:
            log.warning("no models found in %s", self.settings.models_dir)

    async def _pipeline_of(self, artifact: Artifact) -> ModelPipeline:
        engine = await asyncio.to_thread(load_engine, artifact, self.settings, self.triton_client)
        return ModelPipeline(artifact, engine, self.settings, self.w_cache, self.latent_store)

    async def reload_models(self) -> list[ModelReloaded]:
        """Serve what GANSERVE_MODELS_DIR holds now, without a restart: new models and new weights are
        loaded beside the old (Triton too), warmed up, then swapped in; requests under way finish on
        the old pipeline. A model that fails to load keeps serving its old weights. One at a time."""
        async with self._reloading:
            try:
                artifacts = {artifact.config.name: artifact for artifact in discover(self.settings.models_dir)}
            except (OSError, ValueError) as exc:  # a config being written, say: change nothing
                return [ModelReloaded(model="*", outcome="failed", version="", error=f"{self.settings.models_dir}: {exc}")]
            changes = []
            for name, artifact in artifacts.items():
                current = self.pipelines.get(name)
                if current is not None and current.digest == artifact.digest:
                    changes.append(ModelReloaded(model=name, outcome="unchanged", version=artifact.digest[:16]))
                    continue
                try:
                    pipeline = await self._pipeline_of(artifact)
                    await pipeline.engine.prepare()
                    await warm_up(pipeline)
                except (EngineError, OSError, ValueError) as exc:
                    changes.append(ModelReloaded(model=name, outcome="failed", version=artifact.digest[:16], error=str(exc)))
                    log.error("reload: model %s (%s) not loaded: %s", name, artifact.digest[:12], exc)
                    continue
                self.pipelines = {**self.pipelines, name: pipeline}  # a new dict: a listing under way keeps the old one
                changes.append(ModelReloaded(model=name, outcome="loaded", version=artifact.digest[:16]))
                log.info("reload: model %s now serves %s on %s", name, artifact.digest[:12], pipeline.engine.name)
                if current is not None:
                    self._retire(current)
            for name in set(self.pipelines) - set(artifacts):
                retired = self.pipelines[name]
                self.pipelines = {k: v for k, v in self.pipelines.items() if k != name}
                changes.append(ModelReloaded(model=name, outcome="removed", version=retired.digest[:16]))
                self._retire(retired)
            log.info("reload: %s", ", ".join(f"{c.model} {c.outcome}" for c in changes) or "no models")
            return changes

    def _retire(self, pipeline: ModelPipeline) -> None:
        task = asyncio.get_running_loop().create_task(pipeline.retire(self.settings.model_retire_grace_s))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

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
        for task in self._retiring:
            task.cancel()
        for pipeline in self.pipelines.values():
            await pipeline.close()
        if self.triton_client is not None:
            await self.triton_client.close()
        for cache in (self.image_cache, self.w_cache):  # the w cache owns a shared Redis client
            await cache.close()
        await self.latent_store.close()
        if self._jobs is not None:
            await self._jobs.close()
        self.local_workers.close()
        await self.access.close()
        self.encoder.shutdown(wait=False)


async def warm_up(pipeline: ModelPipeline) -> None:
    """One pass through every graph, so that the first real request does not pay for it."""
    cls = 0 if pipeline.config.c_dim else None
    w = await pipeline.w_from_z(np.zeros([1, pipeline.config.z_dim], np.float32) + 1, cls)
    ws = np.repeat(w[:, None], pipeline.config.num_ws, axis=1)
    await pipeline.synthesize(ws, NoiseMode.const)
    if pipeline.synthesis_noise is not None:
        await pipeline.synthesize(ws, NoiseMode.random)
