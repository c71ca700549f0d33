"""The gateway's Prometheus counters, shared by the HTTP and the gRPC front ends and the operations."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
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
