"""Prometheus metrics on /metrics: HTTP requests by route template, and the engine and cache
figures read from the live state (the counters themselves are in ganserve.metrics)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ganserve.metrics import Metrics
from ganserve.state import AppState


class StateCollector:
    """Reads live state (queues, caches) at scrape time instead of updating gauges on the hot path."""

    def __init__(self, state: AppState):
        self.state = state

    def collect(self) -> Iterator[Metric]:
        labels = ["model", "graph"]
        queued = GaugeMetricFamily("ganserve_queue_images", "Images waiting for an engine", labels=labels)
        batches = CounterMetricFamily("ganserve_engine_batches", "Engine calls (batches)", labels=labels)
        batched = CounterMetricFamily("ganserve_engine_batch_images", "Images in engine calls; / batches = mean batch", labels=labels)
        for name, pipeline in self.state.pipelines.items():
            for graph, batcher in pipeline.batchers().items():
                queued.add_metric([name, graph], batcher.queued_images)
                batches.add_metric([name, graph], batcher.batches_run)
                batched.add_metric([name, graph], batcher.images_run)
        yield from (queued, batches, batched)
        cache = CounterMetricFamily("ganserve_cache_lookups", "Cache lookups by result", labels=["cache", "result"])
        errors = CounterMetricFamily("ganserve_cache_errors", "Cache calls that failed or ran past the budget", labels=["cache"])
        for label, c in (("w", self.state.w_cache), ("image", self.state.image_cache)):
            cache.add_metric([label, "hit"], c.stats.hits)
            cache.add_metric([label, "miss"], c.stats.misses)
            cache.add_metric([label, "bypassed"], c.stats.bypassed)
            errors.add_metric([label], c.stats.errors)
        yield from (cache, errors)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(template, str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)
