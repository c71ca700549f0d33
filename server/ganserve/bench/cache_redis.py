"""The redis-server that `ganserve bench-cache` measures the Redis cache against: started on this
machine with the cache's production settings (no persistence, maxmemory 64mb, allkeys-lru), read
for its version and state, always stopped."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import redis

from ganserve.bench.server import stop_process
from ganserve.triton.local import free_port

REDIS_ARGS = ["--save", "", "--appendonly", "no", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]
REDIS_READY_TIMEOUT_S = 10.0


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A redis-server on a free loopback port with the cache's settings; its URL. Always stopped."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed (make system-deps)")
    port = free_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--daemonize", "no", *REDIS_ARGS]
    log_path = directory / "redis.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5)
        deadline = time.monotonic() + REDIS_READY_TIMEOUT_S
        try:
            while True:
                try:
                    client.ping()
                    break
                except redis.exceptions.ConnectionError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not start:\n{log_path.read_text(errors='replace')[-2000:]}") from None
                    time.sleep(0.02)
        finally:
            client.close()
        yield url
    finally:
        stop_process(process)


def redis_state(url: str) -> dict:
    """What the Redis server holds: keys, memory, evictions (allkeys-lru must not have dropped any)."""
    with redis.Redis.from_url(url, socket_timeout=2) as client:
        memory, stats = client.info("memory"), client.info("stats")
        return {
            "keys": client.dbsize(),
            "used_memory_bytes": memory["used_memory"],
            "evicted_keys": stats["evicted_keys"],
            "keyspace_hits": stats["keyspace_hits"],
            "keyspace_misses": stats["keyspace_misses"],
        }


def describe_redis(url: str) -> dict:
    printed = subprocess.run([shutil.which("redis-server") or "redis-server", "--version"], capture_output=True, text=True, timeout=10)
    with redis.Redis.from_url(url, socket_timeout=2) as client:
        server, memory = client.info("server"), client.info("memory")
    return {
        "version": server["redis_version"],
        "version_line": printed.stdout.strip(),
        "arch_bits": server.get("arch_bits"),
        "multiplexing_api": server.get("multiplexing_api"),
        "maxmemory_bytes": memory.get("maxmemory"),
        "maxmemory_policy": memory.get("maxmemory_policy"),
        "server_args": REDIS_ARGS,
        "redis_py": metadata.version("redis"),
        "connection": "loopback TCP on this machine",
    }
