"""The processes that tests and benchmarks start on this machine, each on free loopback ports and
always stopped: a gateway (`ganserve serve` in a subprocess), a redis-server, and haproxy in front
of gateways. A tritonserver is
the server package's own LocalTriton (`ganserve triton` runs it too), and free ports come from there,
so that each of these lives once.

This module is outside the server package on purpose: the gateway image does not ship it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

from ganserve.triton.local import free_port

READY_POLL_S = 0.01
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
# The cache's production settings (no persistence, bounded, evicting), and the durable saved-latents store's.
REDIS_CACHE_ARGS = ["--save", "", "--appendonly", "no", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]
REDIS_STORE_ARGS = ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction"]


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Send sig to a child process (SIGKILL it if it has not exited after timeout_s) and reap it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class GatewayProcess:
    """`ganserve serve` in a subprocess on free loopback ports (HTTP and gRPC), with env (GANSERVE_*)
    over this process's environment. It writes into workdir only: its log, and its latent store
    unless env names another one. Always terminated by stop(). With GANSERVE_TLS_CERT_FILE in env,
    it is polled over HTTPS, trusting that certificate."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.env = Path(workdir), env
        self.port, self.grpc_port = free_port(), free_port()
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.tls_cert = env.get("GANSERVE_TLS_CERT_FILE")
        self.base_url = f"{'https' if self.tls_cert else 'http'}://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> dict:
        """Start the server and poll /readyz until it answers 200; how long that took and what it said."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",  # the log gives the ready time
            "GANSERVE_LATENTS_PATH": str(self.workdir / "latents.sqlite3"),  # not the checkout's var/
            "GANSERVE_JOBS_PATH": str(self.workdir / "jobs.sqlite3"),
            # A benchmark is one client at full speed: no per-client rate limits unless it sets them.
            "GANSERVE_RATE_LIMIT_REQUESTS_PER_S": "0",
            "GANSERVE_RATE_LIMIT_IMAGES_PER_S": "0",
            **self.env,
            "GANSERVE_GRPC_PORT": str(self.grpc_port),
        }
        command = [sys.executable, "-c", "from ganserve.cli import app; app()", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            started = time.perf_counter()
            self.proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        polls = 0
        verify = ssl.create_default_context(cafile=self.tls_cert) if self.tls_cert else True
        with httpx.Client(base_url=self.base_url, timeout=1.0, verify=verify) as client:
            while True:
                polls += 1
                try:
                    response = client.get("/readyz")
                    if response.status_code == 200:
                        ready_s = time.perf_counter() - started
                        body = response.json()
                        break
                except httpx.TransportError:
                    pass
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with code {self.proc.returncode} before it was ready:\n{self.log_tail()}")
                if time.perf_counter() - started > READY_TIMEOUT_S:
                    raise RuntimeError(f"the server was not ready after {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")
                time.sleep(READY_POLL_S)
        reported = re.search(r"ready in ([0-9.]+) s", self.log_path.read_text(errors="replace"))
        return {
            "pid": self.proc.pid,
            "port": self.port,
            "time_to_ready_s": round(ready_s, 4),
            "lifespan_reported_ready_s": float(reported[1]) if reported else None,
            "readyz_polls": polls,
            "readyz_body": body,
        }

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> int | None:
        """Terminate (kill after STOP_TIMEOUT_S) and reap the server; its exit code, None if it never started."""
        if self.proc is None:
            return None
        stop_process(self.proc)
        return self.proc.returncode

    @property
    def exit_code(self) -> int | None:
        """The server's exit code once stopped; None while it runs or if it never started."""
        return None if self.proc is None else self.proc.returncode


@contextmanager
def gateway(env: dict[str, str], workdir: Path, model: str) -> Iterator[tuple[GatewayProcess, dict]]:
    """A GatewayProcess started with env, checked to have loaded model; yields the server and its
    startup record. Always stopped (also when it failed to start): read server.exit_code after."""
    server = GatewayProcess(workdir, env)
    try:
        startup = server.start()
        if model not in startup["readyz_body"].get("models", []):
            raise RuntimeError(f"the server did not load model {model!r}: {startup['readyz_body']}")
        yield server, startup
    finally:
        server.stop()


class RedisServer:
    """A redis-server on a free loopback port (or the one given) with its data and log in directory.
    durable=True: the saved-latents store (AOF, fsync always, no eviction); else the evicting cache.
    It can be killed (-9) and restarted on the same port and data folder, to test failure and
    durability. As a context manager: started, then always stopped."""

    def __init__(self, directory: Path, durable: bool, port: int | None = None):
        self.directory, self.durable = Path(directory), durable
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def args(self) -> list[str]:
        """The settings that make it a store or a cache."""
        return REDIS_STORE_ARGS if self.durable else REDIS_CACHE_ARGS

    def command(self) -> list[str]:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (make system-deps)")
        base = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        return base + ["--daemonize", "no", "--protected-mode", "no", *self.args]

    def start(self, timeout_s: float = 10) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = self.command()
        log_path = self.directory / "redis.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        self.stop(signal.SIGKILL)
                        raise RuntimeError(f"redis-server did not start:\n{log_path.read_text(errors='replace')[-2000:]}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save; what survives is what the AOF already had."""
        self.stop(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_process(self.process, sig)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# A load balancer in front of replicas, as a deployment puts one: health checks fast enough that a
# dead replica leaves the rotation within about half a second, and no retries of its own, so that a
# request in flight on a replica that dies fails to the client, whose own retries are then what a
# test sees.
HAPROXY_CONFIG = """\
global
    maxconn 4096
    stats socket {socket} mode 600 level admin
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    # A check may take longer than `inter`: a busy replica on a loaded machine answers /readyz in a
    # few hundred ms and must not leave the rotation for it. A dead one refuses at once.
    timeout check 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s
    # What a load balancer in front of gateways should do: send a request again, to another server
    # (redispatch on every retry), only when no connection to its server could be made. The request
    # was then never sent, so this is safe for saves too; a request already sent is never resent.
    retries 3
    option redispatch 1
    retry-on conn-failure
    # A connection to a server per request: none is reused after the server died, so every request
    # that meets a dead server either could not connect (and is redispatched) or was in flight on it.
    option http-server-close

frontend gateways
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter {inter_ms}ms fall {fall} rise {rise}
{servers}
"""


# haproxy's enum http_meth_t, as `show sess all` prints it (meth=N).
HAPROXY_METHODS = {0: "OPTIONS", 1: "GET", 2: "HEAD", 3: "POST", 4: "PUT", 5: "DELETE", 6: "TRACE", 7: "CONNECT"}


class HAProxy:
    """haproxy on a free loopback port (or the one given) in front of `servers` (name -> host:port),
    round robin, health-checked on /readyz (HAPROXY_CONFIG). Its config, its log (one line per
    request, naming the server: option httplog) and its stats socket live in workdir; stats() reads
    the per-server counters. As a context manager: started, then always stopped."""

    def __init__(self, workdir: Path, servers: dict[str, str], port: int | None = None, inter_ms: int = 200, fall: int = 2, rise: int = 1):
        self.workdir, self.servers = Path(workdir), dict(servers)
        self.port = port or free_port()
        self.inter_ms, self.fall, self.rise = inter_ms, fall, rise
        self.config_path, self.log_path = self.workdir / "haproxy.cfg", self.workdir / "haproxy.log"
        self.socket_path = self.workdir / "stats.sock"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        servers = "\n".join(f"    server {name} {address}" for name, address in self.servers.items())
        return HAPROXY_CONFIG.format(
            socket=self.socket_path, port=self.port, inter_ms=self.inter_ms, fall=self.fall, rise=self.rise, servers=servers
        )

    def start(self, timeout_s: float = 10) -> HAProxy:
        """Start it and wait until every server is UP (its first health check passed)."""
        executable = shutil.which("haproxy")
        if executable is None:
            raise RuntimeError("haproxy is not installed (make system-deps)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        with self.log_path.open("ab") as log:
            # -db: in the foreground, so that it is this process's child and stop() can end it.
            command = [executable, "-f", str(self.config_path), "-db"]
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if all(row["status"] == "UP" for row in self.stats().values()):
                    return self
            except OSError:  # the socket is not there yet
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"haproxy did not start with every server up:\n{self.log_tail()}")
            time.sleep(0.02)

    def command(self, line: str) -> str:
        """One command on the stats socket (the runtime API), and its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(2)
            connection.connect(str(self.socket_path))
            connection.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self) -> dict[str, dict[str, str]]:
        """The backend's servers: name -> haproxy's CSV fields (scur: current sessions, stot: total,
        eresp, econ: response and connection errors, status: UP or DOWN ...); see haproxy's management guide."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = (dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line)
        return {row["svname"]: row for row in rows if row["pxname"] == "replicas" and row["svname"] in self.servers}

    def sessions(self) -> list[dict]:
        """The streams haproxy holds now (`show sess all`) that have a server: each as its `server`,
        its request's `method` (GET, POST ...) and whether any of the response has `answered` yet."""
        streams: list[dict] = []
        for block in re.split(r"\n(?=0x[0-9a-f]+: \[)", self.command("show sess all")):
            server, method = re.search(r"\bserver=(\S+) \(", block), re.search(r"\bmeth=(\d+)", block)
            if server and method and server[1] != "<NONE>":
                answered = "rsp.st=MSG_RPBEFORE" not in block
                streams.append({"server": server[1], "method": HAPROXY_METHODS.get(int(method[1]), "OTHER"), "answered": answered})
        return streams

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGKILL)  # nothing to drain: the tests are done with it

    def __enter__(self) -> HAProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
