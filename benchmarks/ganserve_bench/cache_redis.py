"""The redis-server that `python -m ganserve_bench cache` measures the Redis cache against (a
processes.RedisServer with the cache's production settings), read for its version and state."""

from __future__ import annotations

import shutil
import subprocess
from importlib import metadata

import redis

from ganserve_bench.processes import RedisServer


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


def describe_redis(redis_server: RedisServer) -> dict:
    printed = subprocess.run([shutil.which("redis-server") or "redis-server", "--version"], capture_output=True, text=True, timeout=10)
    with redis.Redis.from_url(redis_server.url, socket_timeout=2) as client:
        server, memory = client.info("server"), client.info("memory")
    return {
        "version": server["redis_version"],
        "version_line": printed.stdout.strip(),
        "arch_bits": server.get("arch_bits"),
        "multiplexing_api": server.get("multiplexing_api"),
        "maxmemory_bytes": memory.get("maxmemory"),
        "maxmemory_policy": memory.get("maxmemory_policy"),
        "server_args": redis_server.args,
        "redis_py": metadata.version("redis"),
        "connection": "loopback TCP on this machine",
    }
