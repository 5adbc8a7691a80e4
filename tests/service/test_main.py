"""service/__main__.py: the ``gradserve`` console script serves with uvicorn, uvloop and httptools
on GRADSERVE_HOST:GRADSERVE_PORT (127.0.0.1:8000 by default). The live-server fixture runs it for
real (``python -m service``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn

from service import __main__ as cli
from service.allocator import GLIBC_TUNABLES
from service.settings import Settings


def test_main_runs_uvicorn_with_uvloop_httptools_and_the_settings(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setenv("GLIBC_TUNABLES", "")  # set (by the operator): no restart
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


class _Restarted(Exception):
    pass


def test_main_first_restarts_itself_with_the_allocator_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    execs: list[tuple[str, list[str]]] = []

    def execv(path: str, argv: list[str]) -> None:
        execs.append((path, argv))
        raise _Restarted  # (the real one never returns)

    monkeypatch.setenv("GLIBC_TUNABLES", "")  # (so that the test ends with the variable as it was)
    monkeypatch.delenv("GLIBC_TUNABLES")
    monkeypatch.setattr(cli.os, "execv", execv)
    monkeypatch.setattr(cli.sys, "argv", ["gradserve", "--anything"])
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("served before restarting"))
    with pytest.raises(_Restarted):
        cli.main()
    assert execs == [(cli.sys.executable, [cli.sys.executable, "-m", "service", "--anything"])]
    assert cli.os.environ["GLIBC_TUNABLES"] == GLIBC_TUNABLES


def test_defaults_bind_loopback_8000() -> None:
    opts = cli.uvicorn_options(Settings())
    assert (opts["host"], opts["port"]) == ("127.0.0.1", 8000)
