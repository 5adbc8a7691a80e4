"""Servers for the HTTP cases, and an in-process ASGI client for the in-process ones.

Every app (gradserve's and the baselines in bench/baselines/) is served by the same command,
``uvicorn APP --loop uvloop --http httptools --no-access-log`` on a free loopback port, so the
server settings are the same for both sides of a case; only the app and the worker count differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.loadgen import fetch, run_load
from bench.machine import REPO

READY_TIMEOUT_S = 60.0
# uvicorn logs this line (at level info) once per worker, when that worker's app has started: a
# multi-worker server is ready when every worker has said it, not when the first one answers
STARTED_LINE = b"Application startup complete."


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM if the worker that started it dies, so none is left over."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """``uvicorn <app>`` in a subprocess on 127.0.0.1, ready once each of its ``workers`` has
    started its app and ``ready_path`` answers 200."""

    def __init__(self, app: str, workers: int = 1, factory: bool = False,
                 ready_path: str = "/health/live", env: dict[str, str] | None = None) -> None:
        self.port, self.workers = free_port(), workers
        cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--log-level", "info"]
        if factory:
            cmd.append("--factory")
        # uvicorn's log goes to a file, not a pipe: nobody drains a pipe during a load run, and a
        # full one would block the server; the file is read only while waiting for readiness
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})},
                                     stderr=self.log,
                                     preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        self._wait_ready(ready_path)

    def _started_workers(self) -> int:
        self.log.seek(0)
        return self.log.read().count(STARTED_LINE)

    def _wait_ready(self, path: str) -> None:
        # the first worker up answers the health check while another may still be importing:
        # load sent then would all land on the first (measured: 8 connections on one of two
        # workers in half of the tries); so wait for every worker's startup line first
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} before it was "
                                   f"ready: {self.log_tail()}")
            if self._started_workers() >= self.workers:
                try:
                    status, _ = fetch(self.port, path)
                    if status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        self.close()
        raise RuntimeError(f"server not ready within {READY_TIMEOUT_S:.0f} s")

    def log_tail(self, chars: int = 2000) -> str:
        self.log.seek(0)
        return self.log.read()[-chars:].decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class HttpLoad:
    """A ``rate`` side: a server plus the load run that one repetition makes against it."""

    def __init__(self, server: Server, path: str, body: bytes, connections: int, duration: float
                 ) -> None:
        self.server, self.path, self.body = server, path, body
        self.connections, self.duration = connections, duration
        status, answer = fetch(server.port, path, body)
        if status != 200:
            server.close()
            raise RuntimeError(f"POST {path} answered {status}: {answer[:500]!r}")

    def __call__(self) -> dict[str, Any]:
        r = run_load(self.server.port, self.path, self.body, self.connections, self.duration)
        if r["errors"]:
            raise RuntimeError(f"{r['errors']} failed requests, e.g. {r['first_errors']}")
        return {"value": r["rps"], "extra": r}

    def close(self) -> None:
        self.server.close()


# ----- in process ------------------------------------------------------------------------------
class AsgiClient:
    """Calls an ASGI app directly, on an event loop of its own: the app's whole request path
    (routing, validation, the handler, encoding) without sockets. Runs the app's lifespan."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.state: dict[str, Any] = {}
        self._shutdown = asyncio.Event()
        self._lifespan_done = self.loop.create_future()
        self._lifespan = self.loop.create_task(self._run_lifespan())
        self.loop.run_until_complete(self._lifespan_started())

    async def _run_lifespan(self) -> None:
        started = False

        async def receive() -> dict[str, Any]:
            nonlocal started
            if not started:
                started = True
                return {"type": "lifespan.startup"}
            await self._shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(msg: dict[str, Any]) -> None:
            if msg["type"] == "lifespan.startup.failed":
                raise RuntimeError(f"app startup failed: {msg.get('message')}")
            if msg["type"] == "lifespan.startup.complete" and not self._lifespan_done.done():
                self._lifespan_done.set_result(None)

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        try:
            await self.app(scope, receive, send)
        finally:
            if not self._lifespan_done.done():  # an app without lifespan support
                self._lifespan_done.set_result(None)

    async def _lifespan_started(self) -> None:
        await self._lifespan_done
        if self._lifespan.done() and self._lifespan.exception() is not None:
            raise self._lifespan.exception()  # type: ignore[misc]

    def post(self, path: str, body: bytes, content_type: str = "application/json"
             ) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._request("POST", path, body, content_type))

    async def _request(self, method: str, path: str, body: bytes, content_type: str
                       ) -> tuple[int, bytes]:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
            "headers": [(b"host", b"bench"), (b"content-type", content_type.encode()),
                        (b"content-length", str(len(body)).encode())],
            "state": dict(self.state),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError("unreachable")

        async def send(msg: dict[str, Any]) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            elif msg["type"] == "http.response.body":
                chunks.append(msg.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    def close(self) -> None:
        self._shutdown.set()
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(asyncio.wait_for(self._lifespan, 10))
        self.loop.close()


def service_app() -> tuple[str, bool]:
    """gradserve's app as uvicorn names it: ("service.app:app", False) or, for a factory,
    ("service.app:create_app", True). Raises ImportError while service.app is missing."""
    module = importlib.import_module("service.app")
    if hasattr(module, "app"):
        return "service.app:app", False
    if hasattr(module, "create_app"):
        return "service.app:create_app", True
    raise ImportError("service.app has neither `app` nor `create_app`")


def service_app_object() -> Any:
    module = importlib.import_module("service.app")
    return module.app if hasattr(module, "app") else module.create_app()
