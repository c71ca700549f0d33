"""The client's retries after failures on the way to the server, over real sockets: a port that
refuses connections, and a relay in front of a running gateway that resets a connection or answers
a proxy's 502 before relaying the rest. Calls that do not write are sent again after a short
backoff (and counted); saves and deletes are not, since the server may have done them."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from conftest import metric, served_env
from ganserve.triton.local import free_port
from ganserve_bench.processes import gateway
from ganserve_client import AsyncClient, Client, GanserveError, Unavailable

DEMO = "demo64"
PROXY_502 = b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: 11\r\nconnection: close\r\n\r\nbad gateway"


class Relay:
    """A TCP relay on a free loopback port to `port`. The first len(faults) connections get their
    fault instead once their request has arrived: "reset" (RST, no response) or "502" (a proxy's
    answer, no Retry-After); later ones are relayed both ways."""

    def __init__(self, port: int, faults: list[str]):
        self.target, self.faults = port, list(faults)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.sockets.append(client)
            self.connections += 1
            fault = self.faults.pop(0) if self.faults else None
            threading.Thread(target=self._serve, args=(client, fault), daemon=True).start()

    def _serve(self, client: socket.socket, fault: str | None) -> None:
        if fault is not None:
            client.recv(65536)  # the request's head (at least): the client is now waiting for a response
            if fault == "502":
                client.sendall(PROXY_502)
                client.shutdown(socket.SHUT_WR)
                client.settimeout(2)
                with contextlib.suppress(OSError):  # read what is left of the request: closing on unread bytes would reset
                    while client.recv(65536):
                        pass
            else:  # linger 0: close() sends RST, as a process killed mid-request does
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target))
        self.sockets.append(upstream)
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        self._pipe(client, upstream)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for connection in self.sockets:
            connection.close()


@pytest.fixture
def relay(live_server) -> Iterator:
    made: list[Relay] = []

    def make(*faults: str) -> Relay:
        made.append(Relay(live_server.port, list(faults)))
        return made[-1]

    yield make
    for each in made:
        each.close()


def refusing_url(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"  # nothing listens there once free_port has closed its socket


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_reads_retried_with_doubling_backoff_until_max_retries(scheme):
    with Client(refusing_url(scheme), timeout=2, max_retries=3) as client:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            client.models()
        elapsed = time.monotonic() - started
    assert client.retries == 3
    assert 0.1 + 0.2 + 0.4 <= elapsed < 3, elapsed


def test_backoff_stays_within_max_retry_wait_s_and_max_retries_zero_raises_at_once():
    with Client(refusing_url("http"), max_retries=3, max_retry_wait_s=0.25) as client:
        with pytest.raises(Unavailable):
            client.models()
        assert client.retries == 1  # 0.1 s, then 0.2 s more would pass 0.25 s
    with Client(refusing_url("http"), max_retries=0) as client:
        with pytest.raises(Unavailable):
            client.models()
        assert client.retries == 0


def test_a_read_and_a_generation_succeed_after_a_reset_connection(relay):
    proxy = relay("reset", "reset")
    with Client(proxy.url, max_retries=3) as client:
        models = client.models()
        assert client.retries == 2
        (image,) = client.generate(DEMO, [7])
        assert client.retries == 2
    assert DEMO in {model.name for model in models} and image.media_type == "image/png"
    assert proxy.connections == 3  # two reset, then one relayed and kept alive for the second call


async def test_the_async_client_retries_the_same(relay):
    proxy = relay("reset", "502")
    async with AsyncClient(proxy.url, max_retries=3) as client:
        (image,) = await client.generate(DEMO, [7])
    assert client.retries == 2 and image.media_type == "image/png"


def test_a_proxy_502_without_retry_after_is_retried_for_generation(relay):
    proxy = relay("502")
    with Client(proxy.url) as client:
        (image,) = client.generate(DEMO, [3])
    assert client.retries == 1 and image.data.startswith(b"\x89PNG")


@pytest.mark.parametrize("fault", ["reset", "502"])
def test_saves_and_deletes_are_not_retried_after_a_failure_on_the_way(relay, fault):
    proxy = relay(fault)
    with Client(proxy.url) as client:
        with pytest.raises(GanserveError) as raised:
            client.save_latent(DEMO, 5)
        assert client.retries == 0 and raised.value.status == (None if fault == "reset" else 502)
        saved = client.save_latent(DEMO, 5)  # the next connection is relayed
        proxy.faults.append(fault)
        client.close()  # so that the delete opens a new connection, and meets the fault
    with Client(proxy.url) as client:
        with pytest.raises(GanserveError):
            client.delete_latent(saved.id)
        client.delete_latent(saved.id)
        assert client.retries == 0
    assert proxy.connections == 4


def test_grpc_calls_are_spread_over_every_address_of_the_target(settings, tmp_path):
    """A name that resolves to several gateways (a Kubernetes headless Service) gets round-robin, not
    one connection for every call: a target naming two gateways' addresses, as DNS would."""
    env = served_env(settings, tmp_path)
    with gateway(env, tmp_path / "a", "demo64") as (first, _), gateway(env, tmp_path / "b", "demo64") as (second, _):
        with Client(f"grpc://ipv4:{first.grpc_target},{second.grpc_target}") as client:
            for seed in range(8):
                client.generate("demo64", [seed])
        served = [
            metric(httpx.get(f"{server.base_url}/metrics").text, "ganserve_grpc_requests_total", method="Generate", code="OK")
            for server in (first, second)
        ]
    # pick_first would give [8, 0]; round-robin alternates once both connections are up (the first
    # call or two may go to the one that connected first).
    assert sum(served) == 8 and min(served) >= 2, served
