"""Projection jobs in Redis, on the durable instance (AOF): any gateway queues, any worker runs.

Layout:
- `ganserve:projections`: a stream of job ids, read by the consumer group `workers`. A worker's
  pending entry is its claim; each report resets the entry's idle time (XCLAIM to itself), so an
  entry idle for GANSERVE_PROJECTION_STALE_S belongs to a worker that stopped, and the next worker
  takes it over (XAUTOCLAIM) and runs the job again.
- `ganserve:projection:{id}`: a hash of the record (JSON), the target (PNG bytes), the cancel flag
  and the stream entry; `ganserve:projection:{id}:events`: a list of events (JSON), seq = position.
- `ganserve:projections:active` and `...:active:{submitter}`: sets of the ids queued or running,
  for the limits; a submit checks and adds in one script, so gateways cannot overshoot together.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError, ResponseError

from ganserve.jobs import FINISHED, Claimed, JobEvent, JobRecord, JobsUnavailable, QueueFull, TooManyJobs
from ganserve.protocol import ProjectionState

QUEUE = "ganserve:projections"
GROUP = "workers"
ACTIVE = "ganserve:projections:active"
JOB = "ganserve:projection:"
POLL_S = 0.1

SUBMIT = """
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -2 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'record', ARGV[4], 'target', ARGV[5], 'cancel', '0')
redis.call('XADD', KEYS[4], '*', 'id', ARGV[1])
return 0
"""


def _job(id: str) -> str:
    return JOB + id


def _events_key(id: str) -> str:
    return JOB + id + ":events"


def _active_by(submitter: str) -> str:
    return f"{ACTIVE}:{submitter}"


class RedisJobQueue:
    def __init__(self, url: str, timeout_s: float = 1.0):
        self.url = url
        self.timeout_s = timeout_s
        # One retry, on connection errors only, as the latent store does: a pooled connection that
        # died with a restarted Redis is replaced at once instead of failing the call.
        retry = Retry(NoBackoff(), 1, supported_errors=(ConnectionError,))
        self.redis = aioredis.Redis.from_url(url, socket_timeout=None, socket_connect_timeout=timeout_s, retry=retry)
        self._submit_script = self.redis.register_script(SUBMIT)
        self._group_ready = False

    def __repr__(self) -> str:
        return f"RedisJobQueue({self.url!r})"

    async def _call(self, coroutine):
        try:
            return await asyncio.wait_for(coroutine, self.timeout_s)
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # a Redis that lost its data: the group is made again on the next call
                self._group_ready = False
            raise JobsUnavailable(f"job queue unavailable: Redis {exc}") from None
        except (RedisError, TimeoutError) as exc:
            raise JobsUnavailable(f"job queue unavailable: Redis {type(exc).__name__}") from None

    async def _record(self, id: str) -> JobRecord | None:
        text = await self._call(self.redis.hget(_job(id), "record"))
        return None if text is None else JobRecord.model_validate_json(text)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await asyncio.wait_for(self.redis.xgroup_create(QUEUE, GROUP, id="0", mkstream=True), self.timeout_s)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # BUSYGROUP: made by another worker or gateway already
                raise JobsUnavailable(f"job queue unavailable: Redis {exc}") from None
        except (RedisError, TimeoutError) as exc:
            raise JobsUnavailable(f"job queue unavailable: Redis {type(exc).__name__}") from None
        self._group_ready = True

    async def _append(self, pipe, record: JobRecord, event: JobEvent) -> None:
        seq = await self._call(self.redis.llen(_events_key(record.id))) + 1
        pipe.rpush(_events_key(record.id), event.model_copy(update={"seq": seq}).model_dump_json())

    # -- gateways ------------------------------------------------------------------------------------
    async def submit(self, record: JobRecord, target_png: bytes, max_per_submitter: int, max_queued: int) -> None:
        await self._ensure_group()
        keys = [ACTIVE, _active_by(record.submitter), _job(record.id), QUEUE]
        result = await self._call(
            self._submit_script(keys=keys, args=[record.id, max_per_submitter, max_queued, record.model_dump_json(), target_png])
        )
        if result == -1:
            raise TooManyJobs(max_per_submitter)
        if result == -2:
            raise QueueFull(max_queued)

    async def get(self, id: str) -> JobRecord | None:
        return await self._record(id)

    async def events(self, id: str, after: int, wait_s: float) -> list[JobEvent]:
        deadline = time.monotonic() + wait_s
        while True:
            texts = await self._call(self.redis.lrange(_events_key(id), after, -1))
            if texts or time.monotonic() >= deadline:
                return [JobEvent.model_validate_json(text) for text in texts]
            await asyncio.sleep(POLL_S)

    async def cancel(self, id: str, ttl_s: float) -> JobRecord | None:
        record = await self._record(id)
        if record is None or record.state in FINISHED:
            return record
        if record.state == ProjectionState.queued:  # its stream entry stays; the worker that reads it skips it
            cancelled = record.model_copy(update={"state": ProjectionState.cancelled, "finished": time.time()})
            await self._finished(cancelled, JobEvent(state=cancelled.state, step=0, steps=record.options.steps), ttl_s, entry=None)
        else:
            await self._call(self.redis.hset(_job(id), "cancel", "1"))
        return record

    # -- workers -------------------------------------------------------------------------------------
    async def claim(self, worker: str, wait_s: float, stale_s: float) -> Claimed | None:
        await self._ensure_group()
        deadline = time.monotonic() + wait_s
        while True:
            # justid: redis-py answers the ids alone
            entries = await self._call(self.redis.xautoclaim(QUEUE, GROUP, worker, int(stale_s * 1000), "0-0", count=1, justid=True))
            if not entries:
                block_ms = max(1, int(min(self.timeout_s / 2, max(0.0, deadline - time.monotonic())) * 1000))
                read = await self._call(self.redis.xreadgroup(GROUP, worker, {QUEUE: ">"}, count=1, block=block_ms))
                entries = [entry_id for _, messages in read for entry_id, _ in messages]
            for entry in entries:
                claimed = await self._take(entry)
                if claimed is not None:
                    return claimed
            if time.monotonic() >= deadline:
                return None

    async def _take(self, entry: bytes) -> Claimed | None:
        fields = await self._call(self.redis.xrange(QUEUE, entry, entry))
        id = fields[0][1][b"id"].decode() if fields else None
        record = None if id is None else await self._record(id)
        if record is None or record.state in FINISHED:  # cancelled while queued, or expired: nothing to run
            await self._call(self.redis.xack(QUEUE, GROUP, entry))
            await self._call(self.redis.xdel(QUEUE, entry))
            return None
        target = await self._call(self.redis.hget(_job(record.id), "target"))
        record.state, record.started, record.attempts, record.step = ProjectionState.running, time.time(), record.attempts + 1, 0
        await self._call(self.redis.hset(_job(record.id), mapping={"record": record.model_dump_json(), "entry": entry}))
        return Claimed(record=record, target_png=target)

    async def report(self, record: JobRecord, event: JobEvent) -> bool:
        cancel, stored, entry = await self._call(self.redis.hmget(_job(record.id), ["cancel", "record", "entry"]))
        if stored is None or cancel == b"1":
            return False
        if JobRecord.model_validate_json(stored).attempts != record.attempts:
            return False  # taken over by another worker after this one fell silent
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(_job(record.id), "record", record.model_dump_json())
            await self._append(pipe, record, event)
            if entry is not None:  # the heartbeat: the entry's idle time starts again
                pipe.xclaim(QUEUE, GROUP, "heartbeat", 0, [entry], justid=True)
            await self._call(pipe.execute())
        return True

    async def finish(self, record: JobRecord, event: JobEvent, ttl_s: float) -> None:
        entry = await self._call(self.redis.hget(_job(record.id), "entry"))
        await self._finished(record, event, ttl_s, entry)

    async def _finished(self, record: JobRecord, event: JobEvent, ttl_s: float, entry: bytes | None) -> None:
        ttl_ms = int(ttl_s * 1000)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(_job(record.id), "record", record.model_dump_json())
            pipe.hdel(_job(record.id), "target")  # the upload is not kept past its job
            await self._append(pipe, record, event)
            pipe.pexpire(_job(record.id), ttl_ms)
            pipe.pexpire(_events_key(record.id), ttl_ms)
            pipe.srem(ACTIVE, record.id)
            pipe.srem(_active_by(record.submitter), record.id)
            if entry is not None:
                pipe.xack(QUEUE, GROUP, entry)
                pipe.xdel(QUEUE, entry)
            await self._call(pipe.execute())

    async def close(self) -> None:
        await self.redis.aclose()
