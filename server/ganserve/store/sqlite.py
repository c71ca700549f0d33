"""Saved latents in a local SQLite file: the embedded default, kept across restarts.

One connection in autocommit mode (each statement is its own transaction), used only from one
worker thread, so the event loop never blocks on the disk and SQLite never sees two threads.
WAL with synchronous=FULL: a save is on disk when it is acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ganserve.errors import QuotaExceeded
from ganserve.store import DTYPE, SavedLatent, StoreUnavailable, decode_cursor, decode_values, encode_values, page_cursor, quota_message

SCHEMA = """
CREATE TABLE IF NOT EXISTS latents (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    model_version TEXT NOT NULL,
    kind TEXT NOT NULL,
    shape TEXT NOT NULL,  -- JSON, e.g. [10, 256]
    dtype TEXT NOT NULL,  -- numpy dtype string of data, '<f4'
    data BLOB NOT NULL,   -- raw values
    name TEXT NOT NULL,
    source TEXT NOT NULL, -- JSON
    created REAL NOT NULL,
    expires REAL,
    owner TEXT NOT NULL DEFAULT ''  -- the saving key's id; '' without a key
);
CREATE INDEX IF NOT EXISTS latents_newest ON latents (created DESC, id DESC);
CREATE INDEX IF NOT EXISTS latents_model_newest ON latents (model, created DESC, id DESC);
CREATE INDEX IF NOT EXISTS latents_expires ON latents (expires) WHERE expires IS NOT NULL;
"""
# Files from before saved latents had owners get the column (their latents belong to no key).
OWNER_INDEXES = """
CREATE INDEX IF NOT EXISTS latents_owner_newest ON latents (owner, created DESC, id DESC);
CREATE INDEX IF NOT EXISTS latents_owner_model_newest ON latents (owner, model, created DESC, id DESC);
"""
log = logging.getLogger("ganserve.store")

COLUMNS = "id, model, model_version, kind, shape, dtype, data, name, source, created, expires, owner"
PURGE_EVERY_S = 60.0  # expired rows are never returned; they are deleted at most this often


def _row_to_latent(row: tuple) -> SavedLatent:
    id, model, version, kind, shape, dtype, data, name, source, created, expires, owner = row
    return SavedLatent(
        id=id,
        model=model,
        model_version=version,
        kind=kind,
        values=decode_values(json.loads(shape), dtype, data),
        name=name,
        source=json.loads(source),
        created=created,
        expires=expires,
        owner=owner,
    )


class SQLiteLatentStore:
    def __init__(self, path: Path, timeout_s: float = 1.0):
        self.path = Path(path)
        self.timeout_s = timeout_s  # how long a write waits for another process's lock
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="latent-store")
        self._connection: sqlite3.Connection | None = None
        self._purged_at = 0.0
        self._executor.submit(self._open).result()  # a bad path fails at startup, not on the first request

    def __repr__(self) -> str:
        return f"SQLiteLatentStore({str(self.path)!r})"

    # -- on the worker thread ------------------------------------------------------------------
    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.executescript(SCHEMA)
        if "owner" not in {row[1] for row in connection.execute("PRAGMA table_info(latents)")}:
            connection.execute("ALTER TABLE latents ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        connection.executescript(OWNER_INDEXES)
        self._connection = connection

    def _save(self, latent: SavedLatent, quota: int) -> None:
        shape, data = encode_values(latent)
        row = (
            *(latent.id, latent.model, latent.model_version, latent.kind, json.dumps(shape), DTYPE, data, latent.name),
            *(json.dumps(latent.source), latent.created, latent.expires, latent.owner),
        )
        insert = f"INSERT INTO latents ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        if not quota:
            self._db.execute(insert, row)
        else:
            # BEGIN IMMEDIATE takes the write lock first: other gateways on this file wait, so count and insert are one step.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                live = "SELECT COUNT(*) FROM latents WHERE owner = ? AND (expires IS NULL OR expires > ?)"
                if self._db.execute(live, (latent.owner, time.time())).fetchone()[0] >= quota:
                    raise QuotaExceeded(quota_message(quota))
                self._db.execute(insert, row)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self._purge_expired()

    def _get(self, id: str) -> SavedLatent | None:
        query = f"SELECT {COLUMNS} FROM latents WHERE id = ? AND (expires IS NULL OR expires > ?)"
        row = self._db.execute(query, (id, time.time())).fetchone()
        return None if row is None else _row_to_latent(row)

    def _list(self, model: str | None, limit: int, cursor: str | None, owner: str | None) -> tuple[list[SavedLatent], str | None]:
        where: list[str] = ["(expires IS NULL OR expires > ?)"]
        args: list[object] = [time.time()]
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if cursor is not None:
            created, id = decode_cursor(cursor)
            where.append("(created < ? OR (created = ? AND id < ?))")
            args += [created, created, id]
        query = f"SELECT {COLUMNS} FROM latents WHERE {' AND '.join(where)} ORDER BY created DESC, id DESC LIMIT ?"
        rows = self._db.execute(query, [*args, limit + 1]).fetchall()
        page = [_row_to_latent(row) for row in rows[:limit]]
        return page, page_cursor(page, len(rows) > limit)

    def _delete(self, id: str) -> bool:
        return self._db.execute("DELETE FROM latents WHERE id = ?", (id,)).rowcount > 0

    def _purge_expired(self) -> None:
        now = time.time()
        if now - self._purged_at >= PURGE_EVERY_S:
            self._db.execute("DELETE FROM latents WHERE expires IS NOT NULL AND expires <= ?", (now,))
            self._purged_at = now

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreUnavailable(f"saved-latent store unavailable: {self.path} is closed")
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- the LatentStore protocol ----------------------------------------------------------------
    async def _run(self, fn, *args):
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.OperationalError as exc:  # locked past the timeout, disk full, file gone...
            log.warning("saved-latent store %s: %s", self.path, exc)
            raise StoreUnavailable(f"saved-latent store unavailable: SQLite: {exc}") from exc

    async def save(self, latent: SavedLatent, quota: int = 0) -> SavedLatent:
        await self._run(self._save, latent, quota)
        return latent

    async def get(self, id: str) -> SavedLatent | None:
        return await self._run(self._get, id)

    async def list(
        self, model: str | None, limit: int, cursor: str | None, owner: str | None = None
    ) -> tuple[list[SavedLatent], str | None]:
        return await self._run(self._list, model, limit, cursor, owner)

    async def delete(self, id: str) -> bool:
        return await self._run(self._delete, id)

    async def close(self) -> None:
        if self._connection is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
