"""Prometheus metrics: request counts and latency by route template, plus engine and cache gauges."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.types import ASGIApp, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("ganserve_requests", "HTTP requests", ["route", "status"], registry=self.registry)
        self.latency = Histogram(
            "ganserve_request_seconds", "HTTP request latency", ["route"], buckets=LATENCY_BUCKETS, registry=self.registry
        )
        self.grpc_requests = Counter("ganserve_grpc_requests", "gRPC calls", ["method", "code"], registry=self.registry)
        self.grpc_latency = Histogram(
            "ganserve_grpc_request_seconds",
            "gRPC call latency (streams: until the last frame)",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.images = Counter("ganserve_images", "Images synthesised", ["model"], registry=self.registry)


class StateCollector:
    """Reads live state (queues, caches) at scrape time instead of updating gauges on the hot path."""

    def __init__(self, state):
        self.state = state

    def collect(self):
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

        async def send_wrapper(message):
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
