"""Where keys live: the store that is configured for saved latents, so that every gateway sharing
it sees the same keys. SQLite (a table in GANSERVE_LATENTS_PATH) by default; the durable Redis
(GANSERVE_REDIS_STORE_URL) in production. Failures read as StoreUnavailable (503), like the
saved latents'.

GANSERVE_KEYS_FILE adds keys from a file, read-only, checked before the store: a deployment's
bootstrap keys, kept in a Kubernetes Secret (docs/kubernetes.md). The file holds the records that
`ganserve keys create --file` writes, hashes only, so the Secret never holds a usable key."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis.asyncio as aioredis
from pydantic import TypeAdapter, ValidationError
from redis.exceptions import RedisError

from ganserve.access.keys import ApiKey, KeyStore
from ganserve.settings import Settings
from ganserve.store import StoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,         -- JSON list
    secret_sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL
);
"""
COLUMNS = "id, name, scopes, secret_sha256, created, revoked"
REDIS_PREFIX, REDIS_ALL = "ganserve:key:", "ganserve:keys"


def _key_of_row(row: tuple) -> ApiKey:
    id, name, scopes, secret_sha256, created, revoked = row
    return ApiKey(id=id, name=name, scopes=json.loads(scopes), secret_sha256=secret_sha256, created=created, revoked=revoked)


class SQLiteKeyStore:
    """One connection on one worker thread, autocommit, WAL + synchronous=FULL (as the latent store)."""

    def __init__(self, path: Path, timeout_s: float = 1.0):
        self.path, self.timeout_s = Path(path), timeout_s
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="key-store")
        self._db: sqlite3.Connection | None = None
        self._executor.submit(self._open).result()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    async def _run(self, sql: str, args: tuple = ()) -> tuple[list[tuple], int]:
        """(the rows, the row count), both read on the worker thread: SQLite objects stay on theirs."""

        def run() -> tuple[list[tuple], int]:
            if self._db is None:
                raise StoreUnavailable(f"key store unavailable: {self.path} is closed")
            cursor = self._db.execute(sql, args)
            return cursor.fetchall(), cursor.rowcount

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, run)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"key store unavailable: SQLite: {exc}") from exc

    async def add(self, key: ApiKey) -> None:
        row = (key.id, key.name, json.dumps(key.scopes), key.secret_sha256, key.created, key.revoked)
        await self._run(f"INSERT INTO api_keys ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", row)

    async def get(self, id: str) -> ApiKey | None:
        rows, _ = await self._run(f"SELECT {COLUMNS} FROM api_keys WHERE id = ?", (id,))
        return _key_of_row(rows[0]) if rows else None

    async def all(self) -> list[ApiKey]:
        rows, _ = await self._run(f"SELECT {COLUMNS} FROM api_keys ORDER BY created, id")
        return [_key_of_row(row) for row in rows]

    async def revoke(self, id: str) -> bool:
        _, changed = await self._run("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), id))
        return changed > 0

    async def close(self) -> None:
        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=True)


class RedisKeyStore:
    """A hash per key (`ganserve:key:{id}`) and a set of ids by creation time (`ganserve:keys`)."""

    def __init__(self, url: str, timeout_s: float = 1.0):
        self.client = aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)

    async def _call(self, fn):
        try:
            return await fn()
        except RedisError as exc:
            raise StoreUnavailable(f"key store unavailable: Redis {type(exc).__name__}; retry shortly") from exc

    async def add(self, key: ApiKey) -> None:
        fields = {"json": key.model_dump_json()}

        async def run() -> None:
            async with self.client.pipeline(transaction=True) as tx:
                tx.hset(REDIS_PREFIX + key.id, mapping=fields)
                tx.zadd(REDIS_ALL, {key.id: key.created})
                await tx.execute()

        await self._call(run)

    async def get(self, id: str) -> ApiKey | None:
        text = await self._call(lambda: self.client.hget(REDIS_PREFIX + id, "json"))
        return None if text is None else ApiKey.model_validate_json(text)

    async def all(self) -> list[ApiKey]:
        ids = await self._call(lambda: self.client.zrange(REDIS_ALL, 0, -1))
        found = [await self.get(id.decode()) for id in ids]
        return [key for key in found if key is not None]

    async def revoke(self, id: str) -> bool:
        # Optimistic: a concurrent revoke of the same key writes the same thing.
        key = await self.get(id)
        if key is None or key.revoked is not None:
            return False
        key.revoked = time.time()
        await self._call(lambda: self.client.hset(REDIS_PREFIX + id, "json", key.model_dump_json()))
        return True

    async def close(self) -> None:
        await self.client.aclose()


KEY_LIST = TypeAdapter(list[ApiKey])


def read_keys_file(path: Path) -> list[ApiKey]:
    """The records of a keys file; ValueError naming the file when it is not a JSON list of keys."""
    try:
        return KEY_LIST.validate_json(Path(path).read_bytes())
    except (OSError, ValidationError) as exc:
        raise ValueError(f"GANSERVE_KEYS_FILE {path}: not a JSON list of key records ({exc})") from None


def append_to_keys_file(path: Path, key: ApiKey) -> None:
    """Adds a record, keeping the others: written whole to a temporary file, then renamed over it."""
    keys = read_keys_file(path) if Path(path).exists() else []
    if any(k.id == key.id for k in keys):
        raise ValueError(f"key {key.id} is already in {path}")
    text = KEY_LIST.dump_json([*keys, key], indent=2).decode() + "\n"
    temporary = Path(path).with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


class FileKeyStore:
    """The keys of GANSERVE_KEYS_FILE in front of the store: looked up there first; new keys and
    revocations go to the store (a file key is revoked by taking it out of the file, or the Secret)."""

    def __init__(self, path: Path, store: KeyStore):
        self.path, self.store = Path(path), store
        self.keys = {key.id: key for key in read_keys_file(path)}

    async def add(self, key: ApiKey) -> None:
        if key.id in self.keys:
            raise ValueError(f"key {key.id} is defined in {self.path}")
        await self.store.add(key)

    async def get(self, id: str) -> ApiKey | None:
        return self.keys.get(id) or await self.store.get(id)

    async def all(self) -> list[ApiKey]:
        return [*self.keys.values(), *await self.store.all()]

    async def revoke(self, id: str) -> bool:
        if id in self.keys:
            raise ValueError(f"key {id} is defined in {self.path}: take it out of that file to revoke it")
        return await self.store.revoke(id)

    async def close(self) -> None:
        await self.store.close()


def make_key_store(settings: Settings) -> KeyStore:
    store: KeyStore
    if settings.redis_store_url:
        store = RedisKeyStore(settings.redis_store_url, settings.store_timeout_s)
    else:
        store = SQLiteKeyStore(settings.latents_path, settings.store_timeout_s)
    return FileKeyStore(settings.keys_file, store) if settings.keys_file else store
