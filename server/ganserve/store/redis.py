"""Saved latents in Redis: the durable instance (AOF, noeviction), never the cache's.

Layout: one hash per latent, `ganserve:latent:{id}`, with the values as raw float32 bytes; sorted
sets for listing, scored by `created` (ties ordered by id, as Redis orders equal scores): all
latents, one per model, one per owner and one per owner and model; and `ganserve:latents:expiring`, scored by `expires`, so that expired
ids leave the listing sets (their hashes expire by themselves, with PEXPIREAT). A save or a delete
is one MULTI/EXEC transaction.

Every call is bounded by the timeout; a dead or hung Redis raises StoreUnavailable (-> 503). The
client's pool opens new connections once Redis is back, so service resumes without a restart.
"""

from __future__ import annotations

import builtins
import json
import logging
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, RedisError, TimeoutError, WatchError

from ganserve.errors import QuotaExceeded
from ganserve.store import DTYPE, SavedLatent, StoreUnavailable, decode_cursor, decode_values, encode_values, page_cursor, quota_message

log = logging.getLogger("ganserve.store")

PREFIX = "ganserve:latent:"
ALL = "ganserve:latents"
BY_MODEL = "ganserve:latents:model:"
EXPIRING = "ganserve:latents:expiring"
BY_OWNER = "ganserve:latents:owner:"  # + owner, and + owner + ":model:" + model
QUOTA_RETRIES = 32  # a save under a quota retries while other saves of the same owner land first


def _listing_sets(model: str, owner: str) -> list[str]:
    """Every sorted set a latent is listed in."""
    return [ALL, BY_MODEL + model, BY_OWNER + owner, f"{BY_OWNER}{owner}:model:{model}"]


def _reason(exc: RedisError) -> str:
    """For the client: what went wrong, without addresses (those go to the log)."""
    for kind, reason in ((BusyLoadingError, "still loading its data"), (TimeoutError, "timed out"), (ConnectionError, "unreachable")):
        if isinstance(exc, kind):
            return reason
    return f"error ({type(exc).__name__})"


def _expiring_member(model: str, id: str, owner: str) -> str:
    return json.dumps([model, id, owner], separators=(",", ":"))


class RedisLatentStore:
    def __init__(self, url: str, timeout_s: float = 1.0):
        self.url = url
        # One retry, on connection errors only: a pooled connection that died with a restarted Redis
        # is replaced at once, while a hung Redis costs one timeout, not several.
        retry = Retry(NoBackoff(), 1, supported_errors=(ConnectionError,))
        self.client = aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=retry)
        where = self.client.connection_pool.connection_kwargs
        self.where = f"{where.get('host', where.get('path'))}:{where.get('port', '')}/{where.get('db', 0)}"  # no password: for logs

    def __repr__(self) -> str:
        return f"RedisLatentStore({self.where!r})"

    async def _call(self, fn):
        try:
            return await fn()
        except RedisError as exc:  # down, hung, still loading its AOF, out of memory (noeviction)...
            log.warning("saved-latent store %s: %s: %s", self.where, type(exc).__name__, exc)
            raise StoreUnavailable(f"saved-latent store unavailable: Redis {_reason(exc)}; retry shortly") from exc

    # -- the LatentStore protocol ----------------------------------------------------------------
    async def save(self, latent: SavedLatent, quota: int = 0) -> SavedLatent:
        shape, data = encode_values(latent)
        fields = {
            "model": latent.model,
            "model_version": latent.model_version,
            "kind": latent.kind,
            "shape": json.dumps(shape),
            "dtype": DTYPE,
            "data": data,
            "name": latent.name,
            "source": json.dumps(latent.source),
            "created": repr(latent.created),
            "expires": "" if latent.expires is None else repr(latent.expires),
            "owner": latent.owner,
        }
        owned = BY_OWNER + latent.owner

        async def run():
            for _ in range(QUOTA_RETRIES):
                async with self.client.pipeline(transaction=True) as tx:
                    if quota:  # counted and written in one transaction: WATCH fails it if another save of this owner lands
                        await tx.watch(owned)
                        if await tx.zcard(owned) >= quota:
                            raise QuotaExceeded(quota_message(quota))
                        tx.multi()
                    key = PREFIX + latent.id
                    tx.delete(key)
                    tx.hset(key, mapping=fields)
                    for listing in _listing_sets(latent.model, latent.owner):
                        tx.zadd(listing, {latent.id: latent.created})
                    if latent.expires is not None:
                        tx.pexpireat(key, int(latent.expires * 1000))
                        tx.zadd(EXPIRING, {_expiring_member(latent.model, latent.id, latent.owner): latent.expires})
                    try:
                        await tx.execute()
                        return
                    except WatchError:
                        continue
            raise StoreUnavailable("saved-latent store busy: too many concurrent saves of this key; retry shortly")

        if quota:  # expired latents do not count: drop them from the owner's set first
            await self._call(self._purge_expired)
        await self._call(run)
        try:
            await self._purge_expired()
        except RedisError as exc:  # the save itself is acknowledged; the purge waits for the next one
            log.warning("saved-latent store: purging expired ids failed: %s", exc)
        return latent

    async def get(self, id: str) -> SavedLatent | None:
        fields = await self._call(lambda: self.client.hgetall(PREFIX + id))
        return self._latent(id, fields, time.time())

    async def list(
        self, model: str | None, limit: int, cursor: str | None, owner: str | None = None
    ) -> tuple[list[SavedLatent], str | None]:
        after = None if cursor is None else decode_cursor(cursor)
        if owner is None:
            listing = BY_MODEL + model if model is not None else ALL
        else:
            listing = f"{BY_OWNER}{owner}:model:{model}" if model is not None else BY_OWNER + owner
        page = await self._call(lambda: self._walk(listing, after, limit + 1))
        return page[:limit], page_cursor(page[:limit], len(page) > limit)

    async def delete(self, id: str) -> bool:
        async def run():
            key = PREFIX + id
            model, owner = await self.client.hmget(key, ["model", "owner"])
            if model is None:
                return False
            model, owner = model.decode(), (owner or b"").decode()
            async with self.client.pipeline(transaction=True) as tx:
                tx.delete(key)
                for listing in _listing_sets(model, owner):
                    tx.zrem(listing, id)
                tx.zrem(EXPIRING, _expiring_member(model, id, owner), json.dumps([model, id], separators=(",", ":")))
                deleted, *_ = await tx.execute()
            return deleted > 0

        return await self._call(run)

    async def close(self) -> None:
        await self.client.aclose()

    # -- internals -------------------------------------------------------------------------------
    @staticmethod
    def _latent(id: str, fields: dict[bytes, bytes], now: float) -> SavedLatent | None:
        if not fields:
            return None
        text = {k.decode(): v.decode() for k, v in fields.items() if k != b"data"}
        latent = SavedLatent(
            id=id,
            model=text["model"],
            model_version=text["model_version"],
            kind=text["kind"],
            values=decode_values(json.loads(text["shape"]), text["dtype"], fields[b"data"]),
            name=text["name"],
            source=json.loads(text["source"]),
            created=float(text["created"]),
            expires=float(text["expires"]) if text["expires"] else None,
            owner=text.get("owner", ""),
        )
        return None if latent.is_expired(now) else latent

    # builtins.list in annotations: in this class, `list` is the LatentStore method.
    async def _walk(self, key: str, after: tuple[float, str] | None, count: int) -> builtins.list[SavedLatent]:
        """Up to `count` live latents of a listing set, newest first, strictly after the cursor."""
        top = "+inf" if after is None else after[0]
        out: builtins.list[SavedLatent] = []
        gone: list[str] = []
        offset, batch = 0, max(count, 16)
        now = time.time()
        while len(out) < count:
            entries = await self.client.zrevrangebyscore(key, top, "-inf", start=offset, num=batch, withscores=True)
            offset += len(entries)
            # Equal scores come in descending id order: skip the cursor's own item and those before it.
            ids = [m.decode() for m, score in entries if after is None or score < after[0] or m.decode() < after[1]]
            async with self.client.pipeline(transaction=False) as pipe:
                for id in ids:
                    pipe.hgetall(PREFIX + id)
                found = await pipe.execute() if ids else []
            for id, fields in zip(ids, found, strict=True):
                latent = self._latent(id, fields, now)
                if latent is None:
                    gone.append(id)  # expired (or half-deleted): drop it from the listing below
                elif len(out) < count:
                    out.append(latent)
            if len(entries) < batch:
                break
        if gone:
            await self.client.zrem(key, *gone)
        return out

    async def _purge_expired(self) -> None:
        """Drop expired ids from the listing sets (their hashes are already gone, by PEXPIREAT)."""
        members = await self.client.zrangebyscore(EXPIRING, "-inf", time.time())
        if not members:
            return
        async with self.client.pipeline(transaction=True) as tx:
            for member in members:
                model, id, *owner = json.loads(member)  # members from before owners: [model, id]
                for listing in _listing_sets(model, owner[0] if owner else ""):
                    tx.zrem(listing, id)
            tx.zrem(EXPIRING, *members)
            await tx.execute()
