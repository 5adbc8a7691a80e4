"""Shared test helpers: the test settings and small assertions on answers and problems."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from service.program import RunResponse
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

TEST_SETTINGS = Settings(
    max_body_bytes=256 * 1024,
    request_timeout=20.0,
    max_tensor_elements=100_000,
    max_alive_elements=400_000,
    max_steps=5_000,
    max_loop_iterations=1_000,
    max_nesting_depth=16,
    max_printed_chars=20_000,
    worker_threads=4,
    queue_size=64,
    metrics_cache_seconds=0.0,  # each scrape sees the requests just made
)


class ManualClock:
    """A clock the test controls, for a program's deadline and inline budget (it replaces
    time.monotonic through ``make_client(clock=...)``, i.e. ``create_app(clock=...)``): it
    stands still, or moves ``step`` seconds on each time it is read; a test may also set
    ``now``."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now


def settings_env(settings: Settings) -> dict[str, str]:
    """The GRADSERVE_* environment that reproduces ``settings``."""
    return {f"GRADSERVE_{name.upper()}": str(getattr(settings, name))
            for name in Settings.model_fields}


async def post(client: httpx.AsyncClient, program: list[Any], **fields: Any) -> httpx.Response:
    return await client.post("/v1/run", json={"program": program, **fields})


async def ok(client: httpx.AsyncClient, program: list[Any], **fields: Any) -> dict[str, Any]:
    """Run a program that must succeed; its answer, checked against the documented schema."""
    r = await post(client, program, **fields)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    RunResponse.model_validate(body)
    return body


async def printed(client: httpx.AsyncClient, program: list[Any], **fields: Any) -> list[str]:
    return (await ok(client, program, **fields))["printed"]  # type: ignore[no-any-return]


def problem(r: httpx.Response, kind: str, status: int, pointer: str | None = None
            ) -> dict[str, Any]:
    """Check ``r`` is the problem ``kind`` (at ``pointer``, if given); its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.headers
    body: dict[str, Any] = r.json()
    shown = {k: v for k, v in body.items() if k != "printed"}  # keep failure messages short
    assert body["type"] == f"https://gradserve.dev/problems/{kind}", shown
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["instance"]
    if pointer is not None:
        assert body.get("pointer") == pointer, shown
    return body


# ----- building programs ------------------------------------------------------------------------
def call(op: str, *args: Any, **attrs: Any) -> dict[str, Any]:
    """A call object: ``call("mul", "x", 2)``."""
    out: dict[str, Any] = {"op": op, "args": list(args)}
    if attrs:
        out["attrs"] = attrs
    return out


def let(name: str | list[Any], op: str, *args: Any, **attrs: Any) -> dict[str, Any]:
    """A bind statement: ``let("y", "mul", "x", 2)``."""
    return {"name": name, **call(op, *args, **attrs)}


# ----- /v1/run's small-body reads ---------------------------------------------------------------
# The reads that service/routers/run.py tries before the general one (each answers, or None)
SMALL_BODY_READS = ("_prepare_found", "_prepare_counted")


async def read_as_the_general_one(monkeypatch: Any, send: Callable[[], Awaitable[
        list[httpx.Response]]], spied: str) -> list[bool]:
    """Run ``send`` (requests to fresh apps) with every small-body read off (the general read
    alone), then as the app is, spying on the read ``spied``; assert both answered alike
    (timing aside; a problem byte for byte). Returns, call by call, whether ``spied`` answered
    (a problem it raised included)."""
    from service.routers.run import RunRoute  # (an app's module: imported by the test only)

    taken: list[bool] = []
    read = getattr(RunRoute, spied)

    def spy(self: Any, body: bytes, state: Any) -> Any:
        taken.append(True)
        value = read(self, body, state)
        taken[-1] = value is not None
        return value

    with monkeypatch.context() as m:
        for name in SMALL_BODY_READS:
            m.setattr(RunRoute, name, lambda self, body, state: None)
        general = await send()
    with monkeypatch.context() as m:
        m.setattr(RunRoute, spied, spy)
        fast = await send()
    assert _answers(fast) == _answers(general)
    assert [r.content for r in fast if r.status_code != 200] == \
        [r.content for r in general if r.status_code != 200]
    return taken


def _answers(responses: list[httpx.Response]) -> list[tuple[int, str, Any]]:
    out = []
    for r in responses:
        body = r.json()
        if isinstance(body.get("stats"), dict):  # (timing aside)
            body["stats"] = {k: v for k, v in body["stats"].items() if k != "elapsed_s"}
        out.append((r.status_code, r.headers["content-type"], body))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Any) -> None:
    """Wait until the server at ``url`` (the process ``proc``, writing to ``log``) is ready; its
    log in the error if it exits or is not ready within a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"gradserve did not start:\n{log.read().decode()}")
        time.sleep(0.1)


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[str]:
    """A real ``python -m service`` on a free loopback port, configured only through these
    GRADSERVE_* variables (none is inherited); its URL once it is ready."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    full = {k: v for k, v in os.environ.items() if not k.startswith("GRADSERVE_")}
    full.update({**env, "GRADSERVE_PORT": str(port), "GRADSERVE_HOST": "127.0.0.1",
                 "PYTHONPATH": str(ROOT)})
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=full, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_ready(url, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
