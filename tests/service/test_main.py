"""service/__main__.py: the ``gradserve`` console script serves with uvicorn, uvloop and httptools
on GRADSERVE_HOST:GRADSERVE_PORT (127.0.0.1:8000 by default). The live-server fixture runs it for
real (``python -m service``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn

from service import __main__ as cli
from service.settings import Settings


def test_main_runs_uvicorn_with_uvloop_httptools_and_the_settings(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # main() prepares it
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.setenv("GRADSERVE_PORT", "8123")
    monkeypatch.setenv("GRADSERVE_WORKERS", "2")
    cli.main()
    ((args, kwargs),) = calls
    assert args == ("service.app:create_app",)
    assert kwargs["factory"] is True
    assert (kwargs["loop"], kwargs["http"]) == ("uvloop", "httptools")
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.1", 8123, 2)


def test_defaults_bind_loopback_8000() -> None:
    opts = cli.uvicorn_options(Settings())
    assert (opts["host"], opts["port"]) == ("127.0.0.1", 8000)
