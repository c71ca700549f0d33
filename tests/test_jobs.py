"""The projection job queue, on SQLite and on a real redis-server: limits checked with the submit,
claims in order, progress and cancellation, a silent worker's job taken over, expiry."""

import asyncio
import time

import pytest

from ganserve.jobs import JobEvent, JobRecord, QueueFull, TooManyJobs
from ganserve.jobs.redis import RedisJobQueue
from ganserve.jobs.sqlite import SQLiteJobQueue
from ganserve.protocol import ProjectionOptions, ProjectionState
from ganserve.store import new_id
from ganserve_bench.processes import RedisServer

running, succeeded, cancelled = ProjectionState.running, ProjectionState.succeeded, ProjectionState.cancelled


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("jobs-redis"), durable=True).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def make_queue(request, tmp_path):
    """A factory: each call is one more gateway or worker on the same queue."""

    def make():
        if request.param == "redis":
            server = request.getfixturevalue("redis_server")
            queue = RedisJobQueue(server.url, timeout_s=2.0)
        else:
            queue = SQLiteJobQueue(tmp_path / "jobs.sqlite3")
        return queue

    if request.param == "redis":  # every test starts from an empty queue
        import redis

        redis.Redis.from_url(request.getfixturevalue("redis_server").url).flushall()
    return make


def job(submitter: str = "key:a", steps: int = 10) -> JobRecord:
    return JobRecord(id=new_id(), model="m", model_version="0" * 16, owner="a", submitter=submitter, options=ProjectionOptions(steps=steps))


def progress(record: JobRecord, step: int, state=running) -> JobEvent:
    return JobEvent(state=state, step=step, steps=record.options.steps)


async def test_limits_are_checked_with_the_submit_and_freed_when_a_job_finishes(make_queue):
    queue = make_queue()
    first, second = job("key:a"), job("key:a")
    await queue.submit(first, b"png", max_per_submitter=2, max_queued=3)
    await queue.submit(second, b"png", max_per_submitter=2, max_queued=3)
    with pytest.raises(TooManyJobs, match="2 projections queued or running"):
        await queue.submit(job("key:a"), b"png", max_per_submitter=2, max_queued=3)
    await queue.submit(job("key:b"), b"png", max_per_submitter=2, max_queued=3)
    with pytest.raises(QueueFull, match="3 projections are queued or running"):
        await queue.submit(job("key:c"), b"png", max_per_submitter=2, max_queued=3)
    claimed = await queue.claim("w1", wait_s=1, stale_s=60)
    assert claimed.record.id == first.id and claimed.target_png == b"png"  # oldest first
    claimed.record.state = succeeded
    await queue.finish(claimed.record, progress(claimed.record, 10, succeeded), ttl_s=60)
    await queue.submit(job("key:a"), b"png", max_per_submitter=2, max_queued=3)  # room again, for a and in all
    await queue.close()


async def test_progress_is_read_from_any_point_and_the_record_follows(make_queue):
    gateway, worker = make_queue(), make_queue()
    record = job()
    await gateway.submit(record, b"png", 2, 10)
    assert (await gateway.get(record.id)).state == ProjectionState.queued
    claimed = (await worker.claim("w1", 1, 60)).record
    assert claimed.state == running and claimed.attempts == 1
    for step in (1, 2, 3):
        claimed.step = step
        assert await worker.report(claimed, progress(claimed, step))
    events = await gateway.events(record.id, after=0, wait_s=0)
    assert [(e.seq, e.step) for e in events] == [(1, 1), (2, 2), (3, 3)]
    assert [e.step for e in await gateway.events(record.id, after=2, wait_s=0)] == [3]
    assert (await gateway.get(record.id)).step == 3
    started = time.monotonic()
    assert await gateway.events(record.id, after=3, wait_s=0.3) == []  # waits, then nothing
    assert time.monotonic() - started >= 0.3
    await gateway.close()
    await worker.close()


async def test_a_queued_job_is_cancelled_at_once_and_a_running_one_at_its_next_report(make_queue):
    gateway, worker = make_queue(), make_queue()
    queued, running_job = job(), job()
    await gateway.submit(running_job, b"png", 5, 10)
    await gateway.submit(queued, b"png", 5, 10)
    claimed = (await worker.claim("w1", 1, 60)).record
    assert claimed.id == running_job.id
    await gateway.cancel(queued.id, ttl_s=60)
    assert (await gateway.get(queued.id)).state == cancelled
    assert (await gateway.events(queued.id, 0, 0))[-1].state == cancelled
    assert await worker.claim("w1", wait_s=0.3, stale_s=60) is None  # the cancelled one is never run
    await gateway.cancel(running_job.id, ttl_s=60)
    assert not await worker.report(claimed, progress(claimed, 1))  # told to stop
    await gateway.close()
    await worker.close()


async def test_a_job_whose_worker_fell_silent_is_taken_over_and_the_first_worker_is_told_to_stop(make_queue):
    gateway, first, second = make_queue(), make_queue(), make_queue()
    record = job()
    await gateway.submit(record, b"png", 2, 10)
    mine = (await first.claim("w1", 1, stale_s=0.5)).record
    assert await first.report(mine, progress(mine, 1))
    assert await second.claim("w2", wait_s=0.2, stale_s=0.5) is None  # it reported: not stale yet
    await asyncio.sleep(0.7)
    taken = await second.claim("w2", wait_s=1, stale_s=0.5)
    assert taken is not None and taken.record.id == record.id and taken.record.attempts == 2
    assert not await first.report(mine, progress(mine, 2))  # superseded
    assert await second.report(taken.record, progress(taken.record, 1))
    for queue in (gateway, first, second):
        await queue.close()


async def test_finished_jobs_expire_after_their_ttl(make_queue):
    queue = make_queue()
    record = job()
    await queue.submit(record, b"png", 2, 10)
    claimed = (await queue.claim("w1", 1, 60)).record
    claimed.state, claimed.latent_id = succeeded, "abc"
    await queue.finish(claimed, progress(claimed, 10, succeeded), ttl_s=0.5)
    assert (await queue.get(record.id)).latent_id == "abc"
    await asyncio.sleep(0.8)
    assert await queue.get(record.id) is None
    await queue.close()
