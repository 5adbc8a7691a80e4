"""Fixtures: one contract suite, two transports.

``client`` is an ``httpx.AsyncClient`` parametrised over the app in-process (httpx's ASGITransport)
and a real ``python -m service`` (uvicorn with uvloop and httptools) started once per session on a
free loopback port. Both run with TEST_SETTINGS, small limits that tests can reach quickly; tests
that need other settings build their own in-process app with ``make_client``.

With ``GRADSERVE_TEST_URL`` set (``http://127.0.0.1:8000``), ``live_url`` is that server instead
of one started here, and only the tests that talk to a live server are collected: the contract
suite run against a deployment (scripts/docker_ci.sh runs it against the container). That server
must run with TEST_SETTINGS (helpers.settings_env).

Test modules mark themselves ``pytestmark = pytest.mark.anyio``. Clients are made per test (an
AsyncClient's connection pool belongs to one event loop); the apps and the server live for the
whole session.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.executor import Runner
from tests.service.helpers import (
    TEST_SETTINGS,
    ManualClock,
    running_server,
    settings_env,
)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


EXTERNAL_URL = os.environ.get("GRADSERVE_TEST_URL", "").rstrip("/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Against an external server, keep only the tests that talk to a live server."""
    if not EXTERNAL_URL:
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        live = "live_url" in getattr(item, "fixturenames", ()) or (
            callspec is not None and callspec.params.get("client") == "uvicorn")
        (keep if live and item.path.is_relative_to(Path(__file__).parent) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def live_url() -> Iterator[str]:
    """A real server: ``python -m service`` configured only through GRADSERVE_* variables (or the
    server at GRADSERVE_TEST_URL)."""
    if EXTERNAL_URL:
        yield EXTERNAL_URL
        return
    env = {**settings_env(TEST_SETTINGS), "GRADSERVE_LOG_LEVEL": "warning"}
    with running_server(env) as url:
        yield url


@pytest.fixture(scope="session")
def app() -> FastAPI:
    return create_app(TEST_SETTINGS)


@pytest.fixture(params=["asgi", "uvicorn"])
async def client(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "asgi":
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gradserve") as c:
            yield c
    else:
        url = request.getfixturevalue("live_url")
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            yield c


@pytest.fixture
def make_client() -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    """An in-process client of an app whose TEST_SETTINGS are changed by keyword, and whose
    programs' deadlines run on ``clock`` when one is given (a ManualClock), and whose programs run
    on ``runner`` when one is given; the app is returned on the client as ``client.app``."""

    @asynccontextmanager
    async def make(clock: ManualClock | None = None, runner: Runner | None = None,
                   **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(TEST_SETTINGS.model_copy(update=overrides), clock=clock, runner=runner)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gradserve") as c:
            c.app = app  # type: ignore[attr-defined]
            try:
                yield c
            finally:
                app.shared.runner.close()

    return make
