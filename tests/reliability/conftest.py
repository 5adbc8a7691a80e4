"""Fixtures of the reliability suite: real servers (``python -m service`` on a free loopback port,
configured only through GRADSERVE_* variables), the in-process app, and process helpers (the
server's RSS from /proc/<pid>/status, its uvicorn workers).

Every server here binds 127.0.0.1 and every request loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.settings import Settings
from tests.service.helpers import ROOT, TEST_SETTINGS, settings_env

# TEST_SETTINGS with room for 256 waiting programs, so that 200 concurrent requests all run (and
# no access log: these tests make many thousands of requests).
RELIABILITY_SETTINGS = TEST_SETTINGS.model_copy(update={"queue_size": 256, "access_log": False})


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``python -m service`` child process on 127.0.0.1, its output in a temporary file."""

    def __init__(self, settings: Settings, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **settings_env(settings), "GRADSERVE_HOST": "127.0.0.1",
                    "GRADSERVE_PORT": str(self.port), "GRADSERVE_LOG_LEVEL": "warning",
                    "GRADSERVE_ACCESS_LOG": "false", "PYTHONPATH": str(ROOT), **env}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each server makes its own
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self.proc = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def worker_pid(self, timeout: float = 60) -> int:
        """The pid of the (first) uvicorn worker process: the server runs its workers, even a
        single one, under uvicorn's supervisor (``pid``)."""
        deadline = time.monotonic() + timeout
        while True:
            workers = uvicorn_workers(self.pid)
            if workers:
                return workers[0]
            if time.monotonic() > deadline:
                raise RuntimeError(f"no worker process under {self.pid}:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gradserve did not start:\n{self.output()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@contextmanager
def running(settings: Settings, **env: str) -> Iterator[Server]:
    server = Server(settings, **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One real single-worker server for the suite (RELIABILITY_SETTINGS)."""
    with running(RELIABILITY_SETTINGS) as s:
        yield s


@pytest.fixture(scope="session")
def app() -> FastAPI:
    return create_app(RELIABILITY_SETTINGS)


@pytest.fixture(params=["asgi", "uvicorn"])
async def client(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process and the real server, with a client timeout that bounds every request."""
    if request.param == "asgi":
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gradserve",
                                     timeout=60) as c:
            yield c
    else:
        live: Server = request.getfixturevalue("server")
        # room for 200 concurrent connections (test_isolation.py)
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(base_url=live.url, timeout=60, limits=limits) as c:
            yield c


@pytest.fixture
def make_client() -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    """An in-process client of an app whose RELIABILITY_SETTINGS are changed by keyword."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(RELIABILITY_SETTINGS.model_copy(update=overrides))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gradserve",
                                     timeout=60) as c:
            try:
                yield c
            finally:
                app.shared.runner.close()

    return make


# ----- processes ---------------------------------------------------------------------------------
def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (zombies left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def uvicorn_workers(pid: int) -> list[int]:
    """The worker processes of a multi-worker uvicorn whose supervisor is ``pid`` (children that
    run multiprocessing's spawn_main, not its resource tracker)."""
    workers = []
    for child in children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(child)
    return workers


# ----- load --------------------------------------------------------------------------------------
Request = tuple[str, str, Any]  # (method, path, JSON body or raw bytes or None)


async def load(url: str, requests: list[Request], *, concurrency: int, seconds: float,
               max_requests: int, over_limit: int | None = None) -> dict[str, int]:
    """Send ``requests`` round-robin from ``concurrency`` clients until ``seconds`` have passed or
    ``max_requests`` were sent; how many answers of each status (``error:<class name>`` for
    transport errors).

    A body longer than ``over_limit`` bytes is answered 413 before it is read, and the server then
    closes the connection with the rest of the body unread, which the kernel signals with a reset
    that can reach the client before it has read the 413: a transport error on such a request is
    counted as ``reset``, not as an error. Such requests go through a client (a connection pool)
    of their own: the connection a 413 leaves behind may look reusable to the client until the
    server's close arrives, and the next request sent on it would meet the reset instead.

    The clients keep httpx's default keep-alive (5 s), shorter than the server's idle timeout
    (75 s), so the client, not the server, closes a pooled connection that went idle: a server
    that closes it first races the next request sent on it (test_settings)."""
    counts: dict[str, int] = {}
    sent = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client, \
            httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as over_client:

        async def worker() -> None:
            nonlocal sent
            while time.monotonic() < deadline and sent < max_requests:
                method, path, body = requests[sent % len(requests)]
                sent += 1
                oversized = over_limit is not None and isinstance(body, bytes) \
                    and len(body) > over_limit
                try:
                    if oversized:
                        r = await over_client.request(method, path, content=body,
                                                      headers={"content-type": "application/json"})
                    elif isinstance(body, bytes):
                        r = await client.request(method, path, content=body,
                                                 headers={"content-type": "application/json"})
                    else:
                        r = await client.request(method, path, json=body)
                    key = str(r.status_code)
                except httpx.TransportError as exc:
                    key = "reset" if oversized else f"error:{type(exc).__name__}"
                counts[key] = counts.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts
