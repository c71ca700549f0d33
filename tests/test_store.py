"""Saved-latent stores: the same tests on SQLite (a file in tmp_path) and on a real, durable
redis-server (AOF, fsync always), killed and paused to test durability, failure and recovery."""

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import redis

from ganserve.errors import InvalidInput, QuotaExceeded
from ganserve.settings import Settings
from ganserve.store import ID_ALPHABET, ID_LENGTH, SavedLatent, StoreUnavailable, make_store, new_id
from ganserve.store.redis import ALL, RedisLatentStore
from ganserve.store.sqlite import SQLiteLatentStore
from ganserve_bench.processes import RedisServer

TIMEOUT_S = 0.25
VERSION = "0123456789abcdef"
SHAPES = {"z": [8], "w": [8], "ws": [4, 8]}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("latent-store"), durable=True).start()
    yield server
    server.stop()


@pytest.fixture
def flushed_redis(redis_server) -> RedisServer:
    if redis_server.process.poll() is not None:  # a test that failed half-way left it down
        redis_server.start()
    with redis.Redis(port=redis_server.port) as client:
        client.flushall()
    return redis_server


@pytest.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        store = SQLiteLatentStore(tmp_path / "latents.sqlite3", TIMEOUT_S)
    else:
        store = RedisLatentStore(request.getfixturevalue("flushed_redis").url, TIMEOUT_S)
    yield store
    await store.close()


def tricky_values(shape, seed=0) -> np.ndarray:
    """Random float32 with the values a text round trip would get wrong: -0, subnormals, extremes."""
    values = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    flat = values.reshape(-1)
    flat[:5] = [-0.0, np.float32(1e-45), np.finfo(np.float32).max, np.finfo(np.float32).tiny, np.float32(1 / 3)]
    return values


def make_latent(kind="ws", model="m", created=None, expires=None, seed=0, **extra) -> SavedLatent:
    return SavedLatent(
        id=new_id(),
        model=model,
        model_version=VERSION,
        kind=kind,
        values=tricky_values(SHAPES[kind], seed).tolist(),
        source={"seed": seed, "psi": 0.7},
        created=time.time() if created is None else created,
        expires=expires,
        **extra,
    )


def bits(latent: SavedLatent) -> np.ndarray:
    return latent.array().view(np.uint32)


async def test_save_get_delete(store):
    saved = {kind: await store.save(make_latent(kind, name=f"my {kind}")) for kind in SHAPES}
    for kind, latent in saved.items():
        got = await store.get(latent.id)
        assert got == latent and got.kind == kind and got.name == f"my {kind}"
        np.testing.assert_array_equal(bits(got), bits(latent))  # bit for bit, -0.0 and subnormals included
        assert got.array().shape == tuple(SHAPES[kind])
    assert await store.delete(saved["w"].id) is True
    assert await store.get(saved["w"].id) is None
    assert await store.delete(saved["w"].id) is False
    assert await store.get(new_id()) is None
    assert {x.id for x in (await store.list(None, 10, None))[0]} == {saved["z"].id, saved["ws"].id}


async def test_list_pages_newest_first_with_ties_and_model_filter(store):
    base = time.time()
    latents = [make_latent(model="a" if i % 3 else "b", created=base + i // 2, seed=i) for i in range(11)]  # pairs share `created`
    for latent in latents:
        await store.save(latent)
    newest_first = sorted(latents, key=lambda x: (x.created, x.id), reverse=True)

    def walk(model, limit):
        async def run():
            ids, cursor, pages = [], None, 0
            while True:
                page, cursor = await store.list(model, limit, cursor)
                assert len(page) <= limit
                ids += [x.id for x in page]
                pages += 1
                if cursor is None:
                    return ids, pages

        return run()

    ids, pages = await walk(None, 3)
    assert ids == [x.id for x in newest_first] and pages == 4
    ids, pages = await walk("b", 2)
    assert ids == [x.id for x in newest_first if x.model == "b"] and pages == 2
    assert await walk("nobody", 5) == ([], 1)
    page, cursor = await store.list(None, 11, None)
    assert len(page) == 11 and cursor is None  # an exactly full last page has no next cursor
    assert page[0] == newest_first[0]  # listed with values


async def test_a_cursor_from_elsewhere_is_invalid_input(store):
    for cursor in ("nonsense", "", "W10", "WyJ4IiwgMV0"):  # not base64 JSON, empty, [], ["x", 1]
        with pytest.raises(InvalidInput) as info:
            await store.list(None, 5, cursor)
        assert info.value.field == "cursor"


async def test_expired_latents_are_neither_returned_nor_listed(store):
    now = time.time()
    kept = await store.save(make_latent(expires=now + 3600))
    old = await store.save(make_latent(expires=now - 1))
    soon = await store.save(make_latent(expires=time.time() + 0.2))
    assert await store.get(soon.id) == soon and (await store.get(kept.id)).expires == kept.expires
    time.sleep(0.25)
    for latent in (old, soon):
        assert await store.get(latent.id) is None
    assert [x.id for x in (await store.list(None, 10, None))[0]] == [kept.id]
    if isinstance(store, RedisLatentStore):  # and the listing sets were cleaned up
        await store.save(make_latent())
        with redis.Redis.from_url(store.url) as client:
            assert client.zscore(ALL, old.id) is None and client.zscore(ALL, soon.id) is None


async def test_owners_list_their_own_and_the_listing_pages_per_owner_and_model(store):
    base = time.time()
    latents = [make_latent(model="ab"[i % 2], created=base + i, seed=i, owner=["alice", "bob", ""][i % 3]) for i in range(12)]
    for latent in latents:
        await store.save(latent)
    for owner in ("alice", "bob", ""):
        for model in (None, "a"):
            expected = [
                x.id for x in sorted(latents, key=lambda x: x.created, reverse=True) if x.owner == owner and model in (None, x.model)
            ]
            ids, cursor = [], None
            while True:
                page, cursor = await store.list(model, 1, cursor, owner)
                ids += [x.id for x in page]
                if cursor is None:
                    break
            assert ids == expected, (owner, model)
    assert len((await store.list(None, 20, None))[0]) == 12  # no owner given: everyone's
    assert (await store.get(latents[0].id)).owner == "alice"
    assert await store.delete(latents[0].id)
    assert latents[0].id not in {x.id for x in (await store.list(None, 20, None, "alice"))[0]}


async def test_quota_counts_live_latents_of_the_owner_and_touches_nothing_when_full(store):
    for i in range(3):
        await store.save(make_latent(owner="alice", seed=i), quota=3)
    await store.save(make_latent(owner="alice", expires=time.time() + 0.1))  # no quota on this one: alice now has 4
    with pytest.raises(QuotaExceeded):
        await store.save(make_latent(owner="alice"), quota=4)
    await store.save(make_latent(owner="bob"), quota=1)  # per owner
    time.sleep(0.15)  # the expiring one is gone: alice is back under 4
    last = await store.save(make_latent(owner="alice"), quota=4)
    assert await store.get(last.id) == last
    with pytest.raises(QuotaExceeded):
        await store.save(make_latent(owner="alice"), quota=4)
    assert len((await store.list(None, 20, None, "alice"))[0]) == 4


async def test_quota_holds_under_concurrent_saves(store):
    """Saves racing for the last places: exactly the quota lands, the rest are refused."""
    results = await asyncio.gather(*(store.save(make_latent(owner="racer", seed=i), quota=5) for i in range(12)), return_exceptions=True)
    assert sum(isinstance(r, SavedLatent) for r in results) == 5
    assert all(isinstance(r, QuotaExceeded) for r in results if not isinstance(r, SavedLatent))
    assert len((await store.list(None, 20, None, "racer"))[0]) == 5


def test_saved_latent_checks_values_against_kind():
    with pytest.raises(ValueError, match="rows"):
        SavedLatent(id="x", model="m", model_version=VERSION, kind="ws", values=[1.0], source={}, created=0)
    with pytest.raises(ValueError, match="flat"):
        SavedLatent(id="x", model="m", model_version=VERSION, kind="w", values=[[1.0]], source={}, created=0)
    with pytest.raises(ValueError, match="same length"):
        SavedLatent(id="x", model="m", model_version=VERSION, kind="ws", values=[[1.0], [1.0, 2.0]], source={}, created=0)


def test_ids_are_short_url_safe_and_unique():
    ids = {new_id() for _ in range(10000)}
    assert len(ids) == 10000
    assert all(len(i) == ID_LENGTH and set(i) <= set(ID_ALPHABET) for i in ids)


async def test_make_store_redis_when_configured_else_sqlite(tmp_path):
    store = make_store(Settings(redis_store_url=None, latents_path=tmp_path / "new" / "folder" / "latents.sqlite3"))
    assert isinstance(store, SQLiteLatentStore) and (tmp_path / "new" / "folder" / "latents.sqlite3").exists()
    await store.close()
    store = make_store(Settings(redis_store_url="redis://127.0.0.1:1/0", store_timeout_s=0.5))
    assert isinstance(store, RedisLatentStore)
    with pytest.raises(StoreUnavailable, match="saved-latent store unavailable"):
        await store.get(new_id())  # nothing listens on port 1
    await store.close()


# -- durability: an acknowledged save survives a crash -----------------------------------------------
CRASHING_WRITER = """
import asyncio, os, signal, sys, time
sys.path[:0] = [{tests!r}, {benchmarks!r}]  # test_store imports ganserve_bench (pytest's pythonpath)
from test_store import make_latent
from ganserve.store.sqlite import SQLiteLatentStore

async def main():
    store = SQLiteLatentStore({path!r})
    for i in range(20):
        latent = await store.save(make_latent(seed=i))
        print(latent.id, flush=True)  # acknowledged
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint

asyncio.run(main())
"""


async def test_sqlite_saves_survive_a_killed_process(tmp_path):
    path = tmp_path / "latents.sqlite3"
    tests = Path(__file__).parent
    script = textwrap.dedent(CRASHING_WRITER).format(tests=str(tests), benchmarks=str(tests.parent / "benchmarks"), path=str(path))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 20
    store = SQLiteLatentStore(path)
    try:
        for i, id in enumerate(ids):
            got = await store.get(id)
            np.testing.assert_array_equal(bits(got), bits(make_latent(seed=i)))
        assert len((await store.list(None, 100, None))[0]) == 20
    finally:
        await store.close()


async def test_redis_saves_survive_kill_9(flushed_redis):
    store = RedisLatentStore(flushed_redis.url, TIMEOUT_S)
    try:
        saved = [await store.save(make_latent(seed=i, expires=time.time() + 3600 if i % 2 else None)) for i in range(50)]
        flushed_redis.kill()  # SIGKILL right after the last acknowledgement: only the AOF remains
        flushed_redis.start()
        for latent in saved:
            assert await store.get(latent.id) == latent  # the same store object: the pool reconnects
        assert len((await store.list(None, 100, None))[0]) == 50
    finally:
        await store.close()


# -- Redis down or hung: StoreUnavailable, then recovery without a new store ---------------------------
async def test_redis_down_raises_unavailable_then_recovers(flushed_redis):
    store = RedisLatentStore(flushed_redis.url, TIMEOUT_S)
    try:
        latent = await store.save(make_latent())
        flushed_redis.kill()
        calls = [store.get(latent.id), store.save(make_latent()), store.list(None, 5, None), store.delete(latent.id)]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="saved-latent store unavailable: Redis unreachable"):
                await call
            assert time.monotonic() - started < 5
        flushed_redis.start()
        assert await store.get(latent.id) == latent  # the first call after the restart already works
        assert await store.delete(latent.id) is True
    finally:
        await store.close()


async def test_hung_redis_times_out_then_recovers(flushed_redis):
    store = RedisLatentStore(flushed_redis.url, TIMEOUT_S)
    try:
        latent = await store.save(make_latent())
        flushed_redis.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="Redis timed out"):
                await store.get(latent.id)
            assert time.monotonic() - started < 10 * TIMEOUT_S
        finally:
            flushed_redis.process.send_signal(signal.SIGCONT)
        assert await store.get(latent.id) == latent
    finally:
        await store.close()
