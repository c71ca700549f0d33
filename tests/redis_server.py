"""A real redis-server for tests, on a free port, in a folder of its own; it can be killed (-9)
and restarted on the same port and data folder to test failure and durability."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """durable=True: the saved-latents store (AOF, fsync always, no eviction); else an evicting cache."""

    def __init__(self, directory: Path, durable: bool, port: int | None = None):
        self.directory, self.durable = Path(directory), durable
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        base = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        base += ["--dir", str(self.directory), "--save", "", "--daemonize", "no", "--protected-mode", "no"]
        if self.durable:
            return base + ["--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction"]
        return base + ["--appendonly", "no", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]

    def start(self, timeout_s: float = 10) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                client.ping()
                return self
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start: {(self.directory / 'redis.log').read_text()[-2000:]}") from None
                time.sleep(0.02)
            finally:
                client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save; what survives is what the AOF already had."""
        self.stop(sig=signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()
