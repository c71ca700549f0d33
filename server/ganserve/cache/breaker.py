"""A circuit breaker: after N consecutive failures, stop calling for a while, then let one call try."""

from __future__ import annotations

import time


class CircuitBreaker:
    def __init__(self, failures: int, reset_s: float):
        self.threshold, self.reset_s = failures, reset_s
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None and time.monotonic() - self.opened_at < self.reset_s

    def allow(self) -> bool:
        """Closed: yes. Open: no, until reset_s has passed; then one trial call (half-open)."""
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at >= self.reset_s:
            self.opened_at = time.monotonic()  # the trial call; others wait for its outcome
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()
