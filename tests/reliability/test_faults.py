"""Faults: a worker killed mid-load, and clients that go away.

* ``gradserve`` with GRADSERVE_WORKERS=2 (uvicorn's supervisor and two worker processes): one
  worker is SIGKILLed while load runs. Only requests in flight on it may fail (as transport errors,
  never as 5xx); the supervisor starts a replacement, and once it is up every request succeeds.
* A client that disconnects while its program runs does not leave the program running: the
  program is told to stop at its next step, so the server's in-flight count (``/health/ready``)
  drops to zero long before the program's deadline -- and never later than that deadline.
* A client that disconnects half-way through sending its body leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.reliability.conftest import (
    RELIABILITY_SETTINGS,
    Request,
    Server,
    load,
    running,
    uvicorn_workers,
)
from tests.reliability.test_isolation import grad_program, no_grad_program

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

CONCURRENCY = 8


def _mix() -> list[Request]:
    return [("POST", "/v1/run", (grad_program if i % 2 else no_grad_program)(i)) for i in range(8)]


async def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate()`` (an awaitable or a value) every 0.1 s for at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


async def test_killing_one_of_two_workers_mid_load() -> None:
    with running(RELIABILITY_SETTINGS, GRADSERVE_WORKERS="2") as server:
        await _wait_for(lambda: len(uvicorn_workers(server.pid)) == 2, 60, "two workers")
        before = uvicorn_workers(server.pid)
        mix = _mix()

        async def kill_soon() -> int:
            await asyncio.sleep(1.5)
            victim = before[0]
            os.kill(victim, signal.SIGKILL)
            return victim

        counts, victim = await asyncio.gather(
            load(server.url, mix, concurrency=CONCURRENCY, seconds=5, max_requests=20_000),
            kill_soon())
        report = {"during": counts, "server": server.output()[-2000:]}
        assert not [k for k in counts if k.startswith("5")], report
        errors = sum(n for k, n in counts.items() if k.startswith("error"))
        assert errors <= CONCURRENCY, report  # only what was in flight on the killed worker
        assert counts.get("200", 0) > 0, report

        # recovery: the supervisor replaces the dead worker ...
        def replaced() -> bool:
            now = uvicorn_workers(server.pid)
            return len(now) == 2 and victim not in now

        await _wait_for(replaced, 60, f"a replacement for worker {victim}")
        assert server.proc.poll() is None
        # ... and once it is up, every request succeeds
        await _wait_for(lambda: _ready(server), 60, "ready")
        after = await load(server.url, mix, concurrency=CONCURRENCY, seconds=60, max_requests=400)
        assert after == {"200": 400}, {"after": after, "server": server.output()[-2000:]}


async def _ready(server: Server) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as c:
            return (await c.get(f"{server.url}/health/ready")).status_code == 200
    except httpx.TransportError:
        return False


LONG_TIMEOUT = 60.0  # the program's deadline: far beyond how soon it must stop once its client left
FOREVER = {"program": [{"name": "x", "op": "ones", "attrs": {"size": [16]}},
                       {"while": True, "do": [{"name": "x", "op": "add", "args": ["x", 1]}]}]}


def _slow_settings() -> Any:
    return RELIABILITY_SETTINGS.model_copy(update={
        "request_timeout": LONG_TIMEOUT, "max_steps": 10**12, "max_loop_iterations": 10**12})


async def _in_flight(url: str) -> int:
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.get(f"{url}/health/ready")
        assert r.status_code == 200, r.text
        return int(r.json()["in_flight"])


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


async def test_a_client_that_disconnects_does_not_leave_its_program_running() -> None:
    with running(_slow_settings()) as server:
        body = json.dumps(FOREVER).encode()
        for _ in range(3):  # and again: each abandoned program gives its slot back
            sock = _connect(server.url)
            sock.sendall(b"POST /v1/run HTTP/1.1\r\nHost: gradserve\r\nContent-Type: "
                         b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await _wait_for(lambda: _in_flight_is(server.url, 1), 30, "the program runs")
            sock.close()  # the client goes away
            # stopped at its next step: long before its deadline of LONG_TIMEOUT seconds
            await _wait_for(lambda: _in_flight_is(server.url, 0), LONG_TIMEOUT / 4,
                            "the abandoned program stops")
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
            r = await c.post("/v1/run", json={"program": [{"print": 1}]})
            assert r.status_code == 200 and r.json()["printed"] == ["1"]


async def _in_flight_is(url: str, n: int) -> bool:
    return await _in_flight(url) == n


async def test_without_disconnect_detection_the_deadline_still_stops_it() -> None:
    # a client that stays connected but stops reading: the program ends at its deadline
    settings = _slow_settings().model_copy(update={"request_timeout": 1.0})
    with running(settings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
            r = await c.post("/v1/run", json=FOREVER)
        assert r.status_code == 422
        assert r.json()["limit"] == "request_timeout"
        assert await _in_flight(server.url) == 0


async def test_a_client_that_disconnects_mid_body_leaves_nothing_behind(server: Server) -> None:
    for _ in range(5):
        sock = _connect(server.url)
        sock.sendall(b"POST /v1/run HTTP/1.1\r\nHost: gradserve\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 100000\r\n\r\n" + b'{"program": [' + b" " * 5000)
        sock.close()
    await _wait_for(lambda: _in_flight_is(server.url, 0), 30, "no program left")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        assert (await c.post("/v1/run", json={"program": []})).status_code == 200
