"""A cap on the requests one gateway process works on at once, HTTP and gRPC together: past it, a
request is refused at once (503 busy / UNAVAILABLE) rather than queued behind the others, so that a
load balancer or the client library sends it to another replica. Health checks are never counted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ganserve.errors import Busy


class InFlight:
    def __init__(self, limit: int):
        self.limit, self.count = limit, 0

    def acquire(self) -> None:
        # One event loop per process: no lock is needed between the check and the increment.
        if self.count >= self.limit:
            raise Busy(f"this gateway is working on {self.limit} requests (GANSERVE_MAX_CONCURRENT_REQUESTS): retry shortly")
        self.count += 1

    def release(self) -> None:
        self.count -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
