"""Micro-batching: concurrent requests share one engine call.

Each request submits arrays whose first axis counts its images. A single worker gathers requests
for up to `max_delay` (or until `max_size` images), runs the engine function once on the
concatenation, and hands each request its rows. A blocking function runs in a worker thread and
one batch at a time (an in-process engine already uses every core); an async one (Triton) may
have several batches in flight, so the server can overlap and batch them further. The queue is
bounded in images: past it, submit() raises Overloaded at once instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np


class Overloaded(RuntimeError):
    """The queue is full: the caller should answer 503 with Retry-After."""


@dataclass
class _Job:
    arrays: tuple[np.ndarray | list[np.ndarray], ...]
    size: int
    future: asyncio.Future = field(repr=False)


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
        self.slots = asyncio.Semaphore(in_flight if self.is_async else 1)
        self.running: set[asyncio.Task] = set()
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.carried: _Job | None = None  # gathered but did not fit: first in the next batch
        self.queued_images = 0
        self.worker: asyncio.Task | None = None
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # recent batch sizes, for the benchmark
        self.batches_run = self.images_run = 0  # totals, for metrics

    async def submit(self, *arrays: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Arrays of N rows (the first one an array; later ones may be lists of arrays) -> N result rows."""
        size = len(arrays[0])
        if self.queued_images + size > self.max_queue:
            raise Overloaded(f"{self.name or 'engine'} queue is full ({self.queued_images} images waiting)")
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._run())
        loop = asyncio.get_running_loop()
        jobs = []
        for start in range(0, size, self.max_size):  # large requests go in max_size chunks
            rows = slice(start, start + self.max_size)
            chunk = tuple([m[rows] for m in a] if isinstance(a, list) else a[rows] for a in arrays)
            jobs.append(_Job(chunk, len(chunk[0]), loop.create_future()))
        self.queued_images += size
        for job in jobs:
            self.queue.put_nowait(job)
        return np.concatenate(await asyncio.gather(*(job.future for job in jobs)))

    async def _gather(self) -> list[_Job]:
        jobs = [self.carried or await self.queue.get()]
        self.carried = None
        size = jobs[0].size
        deadline = time.monotonic() + self.max_delay_s
        while size < self.max_size:
            timeout = deadline - time.monotonic()
            if timeout <= 0 and self.queue.empty():
                break
            try:
                job = self.queue.get_nowait() if timeout <= 0 else await asyncio.wait_for(self.queue.get(), timeout)
            except (TimeoutError, asyncio.QueueEmpty):
                break
            if size + job.size > self.max_size:
                self.carried = job
                break
            jobs.append(job)
            size += job.size
        return jobs

    async def _run(self) -> None:
        while True:
            jobs = await self._gather()
            await self.slots.acquire()
            task = asyncio.get_running_loop().create_task(self._execute(jobs))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def _execute(self, jobs: list[_Job]) -> None:
        size = sum(job.size for job in jobs)
        try:
            args = [_concat([job.arrays[i] for job in jobs]) for i in range(len(jobs[0].arrays))]
            call = self.fn(*args) if self.is_async else await asyncio.to_thread(self.fn, *args)
            result = await call if inspect.isawaitable(call) else call
        except Exception as exc:  # the engine failed: every request in this batch gets the error
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
        else:
            start = 0
            for job in jobs:
                if not job.future.done():  # a cancelled request just drops its rows
                    job.future.set_result(result[start : start + job.size])
                start += job.size
        finally:
            self.queued_images -= size
            self.batch_sizes.append(size)
            self.batches_run += 1
            self.images_run += size
            self.slots.release()

    async def close(self) -> None:
        for task in [self.worker, *self.running]:
            if task is not None:
                task.cancel()
