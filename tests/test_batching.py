import asyncio
import threading

import numpy as np
import pytest

from ganserve.batching import MicroBatcher, Overloaded


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
