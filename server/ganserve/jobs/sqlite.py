"""Projection jobs in a local SQLite file: the embedded default, shared by the gateway and the worker
subprocesses it starts (several processes: every write that counts or claims takes the write lock
first, BEGIN IMMEDIATE). Followers poll for new events: a job reports a few times a second at most.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ganserve.jobs import FINISHED, Claimed, JobEvent, JobRecord, JobsUnavailable, QueueFull, TooManyJobs
from ganserve.protocol import ProjectionState

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    submitter TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL,      -- JobRecord as JSON
    target BLOB NOT NULL,      -- PNG of the resized upload
    cancel INTEGER NOT NULL DEFAULT 0,
    heartbeat REAL,            -- time.time() of the running worker's last report
    created REAL NOT NULL,
    expires REAL               -- finished jobs only
);
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (state, created);
CREATE TABLE IF NOT EXISTS job_events (
    job TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,       -- JobEvent as JSON
    PRIMARY KEY (job, seq)
);
"""
ACTIVE = (ProjectionState.queued.value, ProjectionState.running.value)
POLL_S = 0.1


class SQLiteJobQueue:
    def __init__(self, path: Path, timeout_s: float = 1.0):
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="job-queue")
        self._connection: sqlite3.Connection | None = None
        self._executor.submit(self._open).result()

    def __repr__(self) -> str:
        return f"SQLiteJobQueue({str(self.path)!r})"

    # -- on the worker thread ----------------------------------------------------------------------
    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=max(self.timeout_s, 5.0), isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
        self._connection = connection

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise JobsUnavailable(f"job queue unavailable: {self.path} is closed")
        return self._connection

    def _transaction(self, fn):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = fn()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return result

    def _purge(self) -> None:
        now = time.time()
        expired = [row[0] for row in self._db.execute("SELECT id FROM jobs WHERE expires IS NOT NULL AND expires <= ?", (now,))]
        for id in expired:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (id,))
            self._db.execute("DELETE FROM job_events WHERE job = ?", (id,))

    def _submit(self, record: JobRecord, target_png: bytes, max_per_submitter: int, max_queued: int) -> None:
        def insert() -> None:
            self._purge()
            active = f"SELECT COUNT(*) FROM jobs WHERE state IN {ACTIVE}"
            if self._db.execute(active + " AND submitter = ?", (record.submitter,)).fetchone()[0] >= max_per_submitter:
                raise TooManyJobs(max_per_submitter)
            if self._db.execute(active).fetchone()[0] >= max_queued:
                raise QueueFull(max_queued)
            self._db.execute(
                "INSERT INTO jobs (id, submitter, state, record, target, created) VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, record.submitter, record.state.value, record.model_dump_json(), target_png, record.created),
            )

        self._transaction(insert)

    def _get(self, id: str) -> JobRecord | None:
        row = self._db.execute("SELECT record, expires FROM jobs WHERE id = ?", (id,)).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return JobRecord.model_validate_json(row[0])

    def _events(self, id: str, after: int) -> list[JobEvent]:
        rows = self._db.execute("SELECT event FROM job_events WHERE job = ? AND seq > ? ORDER BY seq", (id, after))
        return [JobEvent.model_validate_json(row[0]) for row in rows]

    def _cancel(self, id: str, ttl_s: float) -> JobRecord | None:
        def cancel() -> JobRecord | None:
            record = self._get(id)
            if record is None or record.state in FINISHED:
                return record
            if record.state == ProjectionState.queued:  # no worker has it: cancelled here and now
                record.state, record.finished = ProjectionState.cancelled, time.time()
                self._write(record, JobEvent(state=record.state, step=0, steps=record.options.steps), expires=time.time() + ttl_s)
            else:
                self._db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (id,))
            return record

        return self._transaction(cancel)

    def _next_seq(self, id: str) -> int:
        return self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job = ?", (id,)).fetchone()[0]

    def _write(self, record: JobRecord, event: JobEvent, expires: float | None = None) -> None:
        event = event.model_copy(update={"seq": self._next_seq(record.id)})  # numbered here: one order for every writer
        self._db.execute(
            "UPDATE jobs SET state = ?, record = ?, heartbeat = ?, expires = ? WHERE id = ?",
            (record.state.value, record.model_dump_json(), time.time(), expires, record.id),
        )
        self._db.execute("INSERT INTO job_events (job, seq, event) VALUES (?, ?, ?)", (record.id, event.seq, event.model_dump_json()))

    def _claim(self, stale_s: float) -> Claimed | None:
        def claim() -> Claimed | None:
            now = time.time()
            row = self._db.execute(
                "SELECT id, target FROM jobs WHERE state = ? OR (state = ? AND heartbeat < ?) ORDER BY rowid LIMIT 1",  # submission order
                (ProjectionState.queued.value, ProjectionState.running.value, now - stale_s),
            ).fetchone()
            if row is None:
                return None
            record = self._get(row[0])
            assert record is not None
            record.state, record.started, record.attempts, record.step = ProjectionState.running, now, record.attempts + 1, 0
            self._db.execute(
                "UPDATE jobs SET state = ?, record = ?, heartbeat = ? WHERE id = ?",
                (record.state.value, record.model_dump_json(), now, record.id),
            )
            return Claimed(record=record, target_png=row[1])

        return self._transaction(claim)

    def _report(self, record: JobRecord, event: JobEvent) -> bool:
        def report() -> bool:
            row = self._db.execute("SELECT cancel, state, record FROM jobs WHERE id = ?", (record.id,)).fetchone()
            if row is None or row[0] or row[1] != ProjectionState.running.value:
                return False
            if JobRecord.model_validate_json(row[2]).attempts != record.attempts:
                return False  # taken over by another worker after this one fell silent
            self._write(record, event)
            return True

        return self._transaction(report)

    def _finish(self, record: JobRecord, event: JobEvent, ttl_s: float) -> None:
        self._transaction(lambda: self._write(record, event, expires=time.time() + ttl_s))

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- the JobQueue protocol ------------------------------------------------------------------------
    async def _run(self, fn, *args):
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise JobsUnavailable(f"job queue unavailable: {exc}") from None

    async def submit(self, record: JobRecord, target_png: bytes, max_per_submitter: int, max_queued: int) -> None:
        await self._run(self._submit, record, target_png, max_per_submitter, max_queued)

    async def get(self, id: str) -> JobRecord | None:
        return await self._run(self._get, id)

    async def events(self, id: str, after: int, wait_s: float) -> list[JobEvent]:
        deadline = time.monotonic() + wait_s
        while True:
            events = await self._run(self._events, id, after)
            if events or time.monotonic() >= deadline:
                return events
            await asyncio.sleep(POLL_S)

    async def cancel(self, id: str, ttl_s: float) -> JobRecord | None:
        return await self._run(self._cancel, id, ttl_s)

    async def claim(self, worker: str, wait_s: float, stale_s: float) -> Claimed | None:
        deadline = time.monotonic() + wait_s
        while True:
            claimed = await self._run(self._claim, stale_s)
            if claimed is not None or time.monotonic() >= deadline:
                return claimed
            await asyncio.sleep(POLL_S * 2)

    async def report(self, record: JobRecord, event: JobEvent) -> bool:
        return await self._run(self._report, record, event)

    async def finish(self, record: JobRecord, event: JobEvent, ttl_s: float) -> None:
        await self._run(self._finish, record, event, ttl_s)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)
