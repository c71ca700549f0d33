"""Micro-batching: concurrent requests share one engine call.

Each request submits arrays whose first axis counts its images. A single worker gathers requests
for up to `max_delay` (or until `max_size` images), runs the engine function once on the
concatenation, and hands each request its rows. A blocking function runs in a worker thread and
one batch at a time (an in-process engine already uses every core); an async one (Triton) may
have several batches in flight, so the server can overlap and batch them further. The queue is
bounded in images: past it, submit() raises Overloaded at once instead of queueing without end.

Each request may have a Budget (set by the transport, read here through a context variable): a
deadline, and whether it is interactive. Interactive work (single images, slider edits) goes ahead
of bulk work (batches, animations). A request that the queue ahead of it would keep past its
deadline (its images ahead x the measured seconds per image, plus the measured error of such
predictions) is refused at once (WontMeetDeadline, 503 with the Retry-After the queue implies)
instead of waiting. One whose own work outlasts its
deadline with nothing ahead, or whose deadline passes in the queue, is dropped before the engine
runs it (DeadlinePassed: retrying with the same deadline would not help).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

SECONDS_PER_IMAGE_WEIGHT = 0.2  # of each new batch in the running mean: it follows a change within ~10 batches
WAIT_ERROR_WEIGHT = 0.1  # of each request's (actual - predicted) wait in the running mean of the error


class Overloaded(RuntimeError):
    """The queue is full: the caller should answer 503 with Retry-After."""

    retry_after_s = 1


class WontMeetDeadline(Overloaded):
    """The queue ahead would keep this request past its deadline: refused before any work."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeadlinePassed(RuntimeError):
    """The request's deadline passed while it waited: dropped, the engine never ran it."""


@dataclass(frozen=True)
class Budget:
    deadline: float | None = None  # time.monotonic() by which the request must be done; None: no deadline
    interactive: bool = True  # goes ahead of bulk work

    def remaining_s(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()


# Set per request by the transports (operations.cost.admit); every engine call of the request reads it.
current_budget: contextvars.ContextVar[Budget] = contextvars.ContextVar("budget", default=Budget())  # noqa: B039 (frozen)


@dataclass
class _Job:
    arrays: tuple[np.ndarray | list[np.ndarray], ...]
    size: int
    future: asyncio.Future = field(repr=False)
    budget: Budget = field(default_factory=Budget)


def _concat(parts: list) -> np.ndarray | list[np.ndarray]:
    if isinstance(parts[0], list):  # a list argument (noise maps): concatenate element-wise
        return [np.concatenate(items) for items in zip(*parts, strict=True)]
    return np.concatenate(parts)


class MicroBatcher:
    def __init__(
        self,
        fn: Callable[..., np.ndarray | Awaitable[np.ndarray]],  # blocking, or a coroutine function
        max_size: int,
        max_delay_s: float,
        max_queue: int,
        name: str = "",
        in_flight: int = 1,  # batches running at once (async functions only)
    ):
        self.fn, self.max_size, self.max_delay_s, self.max_queue, self.name = fn, max_size, max_delay_s, max_queue, name
        self.is_async = inspect.iscoroutinefunction(fn)
        self.in_flight = in_flight if self.is_async else 1
        self.slots = asyncio.Semaphore(self.in_flight)
        self.running: set[asyncio.Task] = set()
        self.queues: dict[bool, asyncio.Queue[_Job]] = {True: asyncio.Queue(), False: asyncio.Queue()}  # by interactive
        self.has_work = asyncio.Event()
        self.carried: _Job | None = None  # gathered but did not fit: first in the next batch
        self.queued_images = 0
        self.queued_interactive = 0  # of queued_images
        self.running_images = 0
        self.seconds_per_image: float | None = None  # measured: a running mean over batches, per image
        # Measured too: how much longer requests waited than predicted (the batch already running was
        # partly done or not, batches were not full, threads competed); added to every prediction.
        self.wait_error_s = 0.0
        self.worker: asyncio.Task | None = None
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # recent batch sizes, for the benchmark
        self.batches_run = self.images_run = 0  # totals, for metrics
        self.refused = self.expired = 0  # requests refused for their deadline, dropped past it

    def _queue_s(self, size: int, interactive: bool) -> float:
        """The images ahead of `size` more (interactive work jumps the bulk queue) plus their own, at
        the measured time per image; 0 before any measure."""
        if self.seconds_per_image is None:
            return 0.0
        ahead = self.queued_interactive if interactive else self.queued_images
        return (ahead + self.running_images + size) * self.seconds_per_image / self.in_flight

    def predicted_s(self, size: int, interactive: bool) -> float:
        """Seconds until `size` more images would be done: the queue's time, plus the measured error."""
        return self._queue_s(size, interactive) + max(0.0, self.wait_error_s)

    async def submit(self, *arrays: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Arrays of N rows (the first one an array; later ones may be lists of arrays) -> N result rows."""
        size = len(arrays[0])
        if self.queued_images + self.running_images + size > self.max_queue:  # the bound counts the batch running too
            waiting = self.queued_images + self.running_images
            raise Overloaded(f"{self.name or 'engine'} queue is full ({waiting} images waiting)")
        budget = current_budget.get()
        queue_s, remaining = self._queue_s(size, budget.interactive), budget.remaining_s()
        predicted = queue_s + max(0.0, self.wait_error_s)
        if remaining <= 0:  # a long request (a walk, frame by frame) that ran out of time: not an overload
            raise DeadlinePassed(f"{self.name or 'engine'}: the deadline passed")
        if predicted > remaining and self.queued_images + self.running_images == 0:
            # Nothing ahead: the request's own work outlasts its deadline, so waiting would not help.
            raise DeadlinePassed(
                f"{self.name or 'engine'}: {size} images need about {predicted:.1f} s, {remaining:.1f} s left before the deadline"
            )
        if predicted > remaining:
            self.refused += 1
            retry_after = max(1, math.ceil(predicted - remaining))
            raise WontMeetDeadline(
                f"{self.name or 'engine'}: {predicted:.1f} s of work ahead, {remaining:.1f} s left before the deadline",
                retry_after,
            )
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._run())
        loop = asyncio.get_running_loop()
        jobs = []
        for start in range(0, size, self.max_size):  # large requests go in max_size chunks
            rows = slice(start, start + self.max_size)
            chunk = tuple([m[rows] for m in a] if isinstance(a, list) else a[rows] for a in arrays)
            jobs.append(_Job(chunk, len(chunk[0]), loop.create_future(), budget))
        self.queued_images += size
        self.queued_interactive += size if budget.interactive else 0
        for job in jobs:
            self.queues[budget.interactive].put_nowait(job)
        self.has_work.set()
        submitted = time.monotonic()
        result = np.concatenate(await asyncio.gather(*(job.future for job in jobs)))
        if queue_s > 0:  # a prediction was made: learn how far the queue's time was from the wait
            error = time.monotonic() - submitted - queue_s
            self.wait_error_s += WAIT_ERROR_WEIGHT * (error - self.wait_error_s)
        return result

    def _next_job(self) -> _Job | None:
        """The oldest interactive job, else the oldest bulk one; jobs past their deadline are dropped."""
        while True:
            queue = next((q for q in (self.queues[True], self.queues[False]) if not q.empty()), None)
            if queue is None:
                self.has_work.clear()
                return None
            job = queue.get_nowait()
            if not job.future.done() and job.budget.remaining_s() <= 0:
                self.expired += 1
                job.future.set_exception(DeadlinePassed(f"{self.name or 'engine'}: the deadline passed in the queue"))
            if not job.future.done():
                return job
            self._dequeued(job)  # cancelled by its caller, or expired: never run

    def _dequeued(self, job: _Job) -> None:
        self.queued_images -= job.size
        self.queued_interactive -= job.size if job.budget.interactive else 0

    async def _gather(self) -> list[_Job]:
        first = self.carried or self._next_job()
        while first is None:
            await self.has_work.wait()
            first = self._next_job()
        jobs, self.carried = [first], None
        size = first.size
        deadline = time.monotonic() + self.max_delay_s
        while size < self.max_size:
            job = self._next_job()
            if job is None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    await asyncio.wait_for(self.has_work.wait(), timeout)
                except TimeoutError:
                    break
                continue
            if size + job.size > self.max_size:
                self.carried = job
                break
            jobs.append(job)
            size += job.size
        return jobs

    async def _run(self) -> None:
        while True:
            # A free slot first, then the batch: jobs stay queued while the engine is busy, so the
            # next batch takes interactive work that came meanwhile first, and drops expired jobs.
            await self.slots.acquire()
            try:
                jobs = await self._gather()
            except BaseException:
                self.slots.release()
                raise
            task = asyncio.get_running_loop().create_task(self._execute(jobs))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def _execute(self, jobs: list[_Job]) -> None:
        size = sum(job.size for job in jobs)
        for job in jobs:
            self._dequeued(job)
        self.running_images += size
        started = time.perf_counter()
        try:
            args = [_concat([job.arrays[i] for job in jobs]) for i in range(len(jobs[0].arrays))]
            call = self.fn(*args) if self.is_async else await asyncio.to_thread(self.fn, *args)
            result = await call if inspect.isawaitable(call) else call
        except Exception as exc:  # the engine failed: every request in this batch gets the error
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
        else:
            self._measured((time.perf_counter() - started) / size)
            start = 0
            for job in jobs:
                if not job.future.done():  # a cancelled request just drops its rows
                    job.future.set_result(result[start : start + job.size])
                start += job.size
        finally:
            self.running_images -= size
            self.batch_sizes.append(size)
            self.batches_run += 1
            self.images_run += size
            self.slots.release()

    def _measured(self, seconds_per_image: float) -> None:
        previous = self.seconds_per_image
        self.seconds_per_image = (
            seconds_per_image if previous is None else previous + SECONDS_PER_IMAGE_WEIGHT * (seconds_per_image - previous)
        )

    async def close(self) -> None:
        for task in [self.worker, *self.running]:
            if task is not None:
                task.cancel()
