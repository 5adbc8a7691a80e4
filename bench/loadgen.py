"""A bounded HTTP/1.1 load generator on raw asyncio sockets (uvloop when installed).

``C`` keep-alive connections each send the same POST back to back (closed loop: a connection sends
its next request when the previous answer is in) until the time budget or the request budget is
spent; requests in flight then finish.  Throughput is completed requests / elapsed seconds.  The
connections are driven by protocol callbacks (about 25 us of CPU per request); they open one after
another, each loading the server at once, and the clock starts when all of them run.

Bounded by design: loopback addresses only, a request cap, a wall-time cap, and a timeout on every
read.  Raw sockets rather than an HTTP client library, because the generator shares the machine
with the server and must cost as little CPU per request as possible (httpx spends several times the
CPU per request that these few lines do, which on a 2-core machine is taken from the server).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_DURATION_S = 60.0
MAX_REQUESTS = 1_000_000
READ_TIMEOUT_S = 30.0


class LoadError(RuntimeError):
    pass


def build_request(path: str, body: bytes, host: str = "127.0.0.1",
                  content_type: str = "application/json", method: str = "POST") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n")
    return head.encode("ascii") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One response: (status, body, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    keep = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    else:
        raise LoadError("response without Content-Length or chunked encoding")
    return status, body, keep


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)")


class _Connection(asyncio.Protocol):
    """One keep-alive connection, driven by callbacks: the next request goes out as soon as the
    previous answer is whole, with no coroutine switch in between (this is the generator's cost
    per request, and it is taken from the server's cores)."""

    def __init__(self, request: bytes, load: _Load) -> None:
        self.request, self.load = request, load
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.need = 0  # bytes of the answer being read (0: its head is not in yet)
        self.status = 0
        self.sent = 0.0
        self.transport: Any = None  # an asyncio or uvloop transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def send(self) -> None:
        load = self.load
        if time.perf_counter() >= load.deadline or load.budget <= 0:
            self._finish(None)
            return
        load.budget -= 1
        self.sent = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.need:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).lower()
                length = _CONTENT_LENGTH.search(head)
                if length is None:
                    self._finish(LoadError("response without Content-Length"))
                    return
                if b"\r\nconnection: close" in head:
                    self._finish(LoadError("the server closed a keep-alive connection"))
                    return
                self.status = int(head[9:12])
                self.need = end + 4 + int(length.group(1))
            if len(self.buffer) < self.need:
                return
            del self.buffer[:self.need]
            self.need = 0
            self.load.latencies.append(time.perf_counter() - self.sent)
            if self.status != 200:
                self.load.errors.append(f"HTTP {self.status}")
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc or LoadError("the server closed the connection"))

    def _finish(self, error: Exception | None) -> None:
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class _Load:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.deadline = 0.0
        self.latencies: list[float] = []
        self.errors: list[str] = []


async def _load(host: str, port: int, request: bytes, connections: int, duration: float,
                max_requests: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    load = _Load(max_requests)
    # The connections open one after another, each starting its requests at once, and the clock
    # starts when all run. Opened in one burst, they would reach a multi-worker server as one
    # backlog that the first worker to wake accepts whole; opened while the others already load
    # the server, each goes to a worker that is free to accept it, as a client's keep-alive
    # connections spread over a server's workers over time.
    load.deadline = time.perf_counter() + duration + 60.0  # the real deadline is set below
    opened: list[_Connection] = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Connection(request, load), host, port)
        opened.append(conn)
        conn.send()
        await asyncio.sleep(0.02)
    cpu0 = time.process_time()
    start = time.perf_counter()
    load.deadline = start + duration
    load.latencies.clear()  # count only the answers that arrive on the clock
    results = await asyncio.gather(
        *(asyncio.wait_for(c.done, duration + READ_TIMEOUT_S) for c in opened),
        return_exceptions=True)
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - cpu0
    errors = load.errors + [f"{type(r).__name__}: {r}" for r in results
                            if isinstance(r, BaseException)]
    latencies = sorted(load.latencies)
    n = len(latencies)
    return {
        "requests": n, "seconds": elapsed, "rps": n / elapsed if elapsed > 0 else 0.0,
        "errors": len(errors), "first_errors": errors[:3],
        # the CPU the generator itself took from the machine (it shares the cores with the server)
        "client_cpu_share_of_one_core": client_cpu / elapsed if elapsed > 0 else None,
        "latency_ms_p50": 1e3 * statistics.median(latencies) if n else None,
        "latency_ms_p99": 1e3 * latencies[min(n - 1, int(0.99 * n))] if n else None,
    }


def _event_loop_runner() -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run
    return uvloop.run


def run_load(port: int, path: str, body: bytes, connections: int = 8, duration: float = 2.0,
             max_requests: int = MAX_REQUESTS, host: str = "127.0.0.1") -> dict[str, Any]:
    """Drive ``connections`` keep-alive connections at ``host:port`` for ``duration`` seconds."""
    if host not in LOOPBACK:
        raise LoadError(f"the load generator only targets loopback addresses, not {host!r}")
    if not 0 < duration <= MAX_DURATION_S or not 0 < max_requests <= MAX_REQUESTS:
        raise LoadError(f"load bounds out of range: {duration} s, {max_requests} requests")
    if not 0 < connections <= 256:
        raise LoadError(f"connections out of range: {connections}")
    request = build_request(path, body, host)
    return _event_loop_runner()(_load(host, port, request, connections, duration, max_requests))


async def _fetch_once(host: str, port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        status, body, _ = await asyncio.wait_for(read_response(reader), READ_TIMEOUT_S)
        return status, body
    finally:
        writer.close()


def fetch(port: int, path: str, body: bytes | None = None, host: str = "127.0.0.1"
          ) -> tuple[int, bytes]:
    """One request (GET without a body, else POST): (status, body)."""
    if host not in LOOPBACK:
        raise LoadError(f"only loopback addresses, not {host!r}")
    method = "GET" if body is None else "POST"
    request = build_request(path, body or b"", host, method=method)
    return asyncio.run(_fetch_once(host, port, request))
