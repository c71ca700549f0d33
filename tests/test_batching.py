import asyncio
import threading
import time

import numpy as np
import pytest

from ganserve.batching import Budget, DeadlinePassed, MicroBatcher, Overloaded, WontMeetDeadline, current_budget


class Recorder:
    def __init__(self, fail: bool = False):
        self.calls: list[int] = []
        self.fail = fail
        self.release = threading.Event()
        self.release.set()

    def __call__(self, x, extra=None):
        self.release.wait(5)
        self.calls.append(len(x))
        if self.fail:
            raise RuntimeError("engine down")
        return x * 2


async def test_concurrent_requests_share_one_call_and_get_their_own_rows():
    engine = Recorder()
    batcher = MicroBatcher(engine, max_size=16, max_delay_s=0.05, max_queue=100)
    inputs = [np.full((n, 2), i, np.float32) for i, n in enumerate([1, 3, 2])]
    results = await asyncio.gather(*(batcher.submit(x) for x in inputs))
    assert engine.calls == [6]
    for x, result in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(result, x * 2)
    await batcher.close()


async def test_large_requests_are_split_into_max_size_chunks():
    engine = Recorder()
    batcher = MicroBatcher(engine, max_size=4, max_delay_s=0, max_queue=100)
    x = np.arange(10, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(await batcher.submit(x), x * 2)
    assert max(engine.calls) <= 4 and sum(engine.calls) == 10
    await batcher.close()


async def test_list_arguments_are_concatenated_elementwise():
    seen = []

    def fn(x, maps):
        seen.append([m.shape for m in maps])
        return x

    batcher = MicroBatcher(fn, max_size=8, max_delay_s=0.05, max_queue=100)
    one = (np.zeros((1, 1)), [np.zeros((1, 4)), np.zeros((1, 8))])
    two = (np.zeros((2, 1)), [np.zeros((2, 4)), np.zeros((2, 8))])
    await asyncio.gather(batcher.submit(*one), batcher.submit(*two))
    assert seen == [[(3, 4), (3, 8)]]
    await batcher.close()


async def test_engine_errors_reach_every_request_and_the_worker_survives():
    engine = Recorder(fail=True)
    batcher = MicroBatcher(engine, max_size=8, max_delay_s=0.01, max_queue=100)
    with pytest.raises(RuntimeError, match="engine down"):
        await batcher.submit(np.zeros((1, 1)))
    engine.fail = False
    np.testing.assert_array_equal(await batcher.submit(np.ones((1, 1))), [[2]])
    assert batcher.queued_images == 0
    await batcher.close()


async def test_full_queue_rejects_at_once():
    engine = Recorder()
    engine.release.clear()  # hold the engine so requests pile up
    batcher = MicroBatcher(engine, max_size=2, max_delay_s=0, max_queue=4)
    waiting = [asyncio.create_task(batcher.submit(np.zeros((2, 1)))) for _ in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(Overloaded):
        await batcher.submit(np.zeros((1, 1)))
    engine.release.set()
    await asyncio.gather(*waiting)
    await batcher.close()


def with_budget(budget: Budget, coroutine):
    """Run `coroutine` as a task whose requests carry `budget` (as operations.cost.admit sets it)."""

    async def run():
        current_budget.set(budget)
        return await coroutine

    return asyncio.create_task(run())


async def measured_batcher(engine, seconds_per_image: float) -> MicroBatcher:
    batcher = MicroBatcher(engine, max_size=1, max_delay_s=0, max_queue=100)
    batcher.seconds_per_image = seconds_per_image  # as if measured: the measuring is tested below
    return batcher


async def test_time_per_image_is_measured_from_the_batches_run():
    def slow(x):
        threading.Event().wait(0.02 * len(x))
        return x

    batcher = MicroBatcher(slow, max_size=4, max_delay_s=0, max_queue=100)
    for _ in range(3):
        await batcher.submit(np.zeros((4, 1)))
    assert 0.02 <= batcher.seconds_per_image < 0.04  # 20 ms per image, and some overhead
    await batcher.close()


async def test_a_request_the_queue_would_keep_past_its_deadline_is_refused_at_once():
    engine = Recorder()
    engine.release.clear()
    batcher = await measured_batcher(engine, 0.5)
    waiting = [asyncio.create_task(batcher.submit(np.zeros((1, 1)))) for _ in range(4)]  # 2 s of work ahead
    await asyncio.sleep(0.05)
    with pytest.raises(WontMeetDeadline) as refused:
        await with_budget(Budget(time.monotonic() + 1.0), batcher.submit(np.zeros((1, 1))))
    assert refused.value.retry_after_s == 2  # 2.5 s of work for 1 s of deadline: ceil(1.5)
    assert batcher.refused == 1 and engine.calls == []  # refused before any work
    accepted = with_budget(Budget(time.monotonic() + 5.0), batcher.submit(np.zeros((1, 1))))  # 2.5 s fits in 5
    engine.release.set()
    await asyncio.gather(accepted, *waiting)
    assert engine.calls == [1] * 5
    await batcher.close()


async def test_a_request_whose_own_work_outlasts_its_deadline_is_a_deadline_not_an_overload():
    """With nothing ahead, waiting would not help: the answer is DeadlinePassed (504), not 503 Retry-After."""
    engine = Recorder()
    batcher = await measured_batcher(engine, 0.5)
    with pytest.raises(DeadlinePassed, match="3 images need about 1.5 s"):
        await with_budget(Budget(time.monotonic() + 1.0), batcher.submit(np.zeros((3, 1))))
    assert batcher.refused == 0 and engine.calls == []
    await batcher.close()


async def test_interactive_requests_go_ahead_of_bulk_ones():
    batches: list[list[float]] = []
    release = threading.Event()

    def engine(x):
        release.wait(5)
        batches.append(x[:, 0].tolist())
        return x

    batcher = MicroBatcher(engine, max_size=4, max_delay_s=0, max_queue=100)
    running = asyncio.create_task(batcher.submit(np.zeros((4, 1))))
    await asyncio.sleep(0.05)  # the engine holds this batch
    bulk = [with_budget(Budget(interactive=False), batcher.submit(np.full((3, 1), i + 1.0))) for i in range(2)]
    await asyncio.sleep(0.01)
    single = with_budget(Budget(interactive=True), batcher.submit(np.full((1, 1), 9.0)))
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(running, single, *bulk)
    # The single image came in last and went first: in the next batch, ahead of both bulk requests.
    assert batches == [[0.0] * 4, [9.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    await batcher.close()


async def test_a_request_whose_deadline_passes_in_the_queue_is_dropped_unrun():
    engine = Recorder()
    engine.release.clear()
    batcher = MicroBatcher(engine, max_size=1, max_delay_s=0, max_queue=100)
    running = asyncio.create_task(batcher.submit(np.zeros((1, 1))))
    await asyncio.sleep(0.05)
    late = with_budget(Budget(time.monotonic() + 0.1), batcher.submit(np.zeros((1, 1))))  # no measure yet: admitted
    await asyncio.sleep(0.2)
    engine.release.set()
    await running
    with pytest.raises(DeadlinePassed):
        await late
    assert engine.calls == [1] and batcher.expired == 1 and batcher.queued_images == 0
    await batcher.close()


async def test_predictions_learn_how_much_longer_requests_waited_than_predicted():
    def slow(x):
        threading.Event().wait(0.05)
        return x

    batcher = await measured_batcher(slow, 0.005)  # the measure says 5 ms an image; each takes 50 ms
    batcher._measured = lambda seconds_per_image: None  # and it stays wrong: only the error can learn
    for _ in range(20):
        await batcher.submit(np.zeros((1, 1)))
    assert 0.03 < batcher.wait_error_s < 0.06
    assert batcher.predicted_s(1, True) > 0.035  # the error is part of the next prediction
    await batcher.close()
