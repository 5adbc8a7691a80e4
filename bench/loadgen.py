"""A bounded HTTP/1.1 load generator on raw asyncio sockets (uvloop when installed).

``C`` keep-alive connections each send the same POST back to back (closed loop: a connection sends
its next request when the previous answer is in) until the time budget or the request budget is
spent; requests in flight then finish.  Throughput is completed requests / elapsed seconds.

Bounded by design: loopback addresses only, a request cap, a wall-time cap, and a timeout on every
read.  Raw sockets rather than an HTTP client library, because the generator shares the machine
with the server and must cost as little CPU per request as possible (httpx spends several times the
CPU per request that these few lines do, which on a 2-core machine is taken from the server).
"""

from __future__ import annotations

import asyncio
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


async def _connection(host: str, port: int, request: bytes, deadline: float, budget: list[int],
                      latencies: list[float], errors: list[str]) -> None:
    reader = writer = None
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            t0 = time.perf_counter()
            writer.write(request)
            status, _, keep = await asyncio.wait_for(read_response(reader), READ_TIMEOUT_S)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(f"HTTP {status}")
            if not keep:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def _load(host: str, port: int, request: bytes, connections: int, duration: float,
                max_requests: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    budget = [max_requests]
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + duration
    results = await asyncio.gather(
        *(_connection(host, port, request, deadline, budget, latencies, errors)
          for _ in range(connections)), return_exceptions=True)
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - cpu0
    errors += [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    latencies.sort()
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
