"""Connection limits (service/connections.py), against a real server on 127.0.0.1 over raw sockets:
a head too large, too many header fields, a target too long, a connection that sends nothing, a
head or a body that never ends, and more connections than a worker takes. Each is answered (or
closed) within a bound the test sets through the server's own settings, and the server still
answers afterwards.

The clocks here are the server's (idle, header and body timeouts of 1 s): a test waits for the
server to act, with a generous bound of its own, and never races it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.reliability.conftest import RELIABILITY_SETTINGS, Server, rss_kib, running

pytestmark = [pytest.mark.timeout(120)]

SHORT = RELIABILITY_SETTINGS.model_copy(update={
    "idle_timeout": 1.0, "header_timeout": 1.0, "body_timeout": 1.0, "max_connections": 32,
    "max_header_bytes": 8192, "max_headers": 20, "max_url_bytes": 1024})
WAIT = 20.0  # how long a test waits for the server to act on a 1 s clock


@pytest.fixture(scope="module")
def guarded() -> Iterator[Server]:
    with running(SHORT) as server:
        yield server


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the socket's
    timeout: a server that never closes fails the test)."""
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def still_serves(server: Server) -> None:
    r = httpx.get(f"{server.url}/health/live", timeout=WAIT)
    assert r.status_code == 200


def send_quietly(sock: socket.socket, data: bytes) -> bool:
    """Send ``data``; False once the server has closed (a reset or a broken pipe)."""
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        return False
    return True


def test_a_huge_header_is_refused_with_431_before_it_is_buffered(guarded: Server) -> None:
    worker = guarded.worker_pid()
    before = rss_kib(worker)
    with connect(guarded) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        while sent < 64 * 1024 * 1024 and send_quietly(sock, b"a" * 65536):
            sent += 65536
        reply = answer(sock)
    assert status(reply) == 431 and b"connection: close" in reply.lower()
    assert sent < 64 * 1024 * 1024  # refused long before the 64 MiB were sent
    assert rss_kib(worker) < before + 32 * 1024
    still_serves(guarded)


def test_too_many_header_fields_get_431(guarded: Server) -> None:
    with connect(guarded) as sock:
        fields = b"".join(b"X-F%d: 1\r\n" % i for i in range(SHORT.max_headers + 1))
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert status(answer(sock)) == 431
    still_serves(guarded)


def test_a_long_url_gets_414(guarded: Server) -> None:
    with connect(guarded) as sock:
        sock.sendall(b"GET /" + b"a" * 4 * SHORT.max_url_bytes + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status(answer(sock)) == 414
    still_serves(guarded)


def test_headers_within_the_limits_are_served(guarded: Server) -> None:
    r = httpx.get(f"{guarded.url}/health/live", headers={"X-Pad": "a" * 4000}, timeout=WAIT)
    assert r.status_code == 200


def test_a_connection_that_sends_nothing_is_closed(guarded: Server) -> None:
    started = time.monotonic()
    with connect(guarded) as sock:
        assert answer(sock) == b""  # closed by the server's idle clock, not by our timeout
    assert time.monotonic() - started < WAIT


def test_headers_that_never_end_get_408(guarded: Server) -> None:
    with connect(guarded) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # ... and nothing more
        assert status(answer(sock)) == 408


def test_a_body_that_never_ends_is_cut_off(guarded: Server) -> None:
    with connect(guarded) as sock:
        sock.sendall(b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and send_quietly(sock, b"1\r\n \r\n"):
            time.sleep(0.05)  # a slow, endless chunked body
        assert time.monotonic() < deadline, "the server kept reading an endless body"
    still_serves(guarded)


def test_connections_beyond_the_cap_are_closed_at_once(guarded: Server) -> None:
    held = [connect(guarded) for _ in range(SHORT.max_connections)]
    try:
        with connect(guarded) as extra:
            reply = answer(extra)
            assert status(reply) == 503
    finally:
        for sock in held:
            sock.close()
    # once they are gone, the server takes connections again
    deadline = time.monotonic() + WAIT
    while True:
        try:
            still_serves(guarded)
            break
        except (httpx.TransportError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
