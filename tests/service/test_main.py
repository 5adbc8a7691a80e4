"""service/__main__.py: the ``gradserve`` console script serves with uvicorn, uvloop and httptools
on GRADSERVE_HOST:GRADSERVE_PORT (127.0.0.1:8000 by default). The live-server fixture runs it for
real (``python -m service``)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from service import __main__ as cli
from service.allocator import GLIBC_TUNABLES
from service.connections import ConnectionLimits, GuardedProtocol
from service.settings import Settings


def test_main_serves_with_uvloop_the_guarded_httptools_protocol_and_the_settings(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    served: list[Settings] = []
    monkeypatch.setenv("GLIBC_TUNABLES", "")  # set (by the operator): no restart
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # main() prepares it
    monkeypatch.setattr(cli, "serve", served.append)
    monkeypatch.setenv("GRADSERVE_PORT", "8123")
    monkeypatch.setenv("GRADSERVE_WORKERS", "2")
    cli.main()
    (settings,) = served
    kwargs = cli.uvicorn_options(settings)
    assert kwargs["factory"] is True
    assert kwargs["loop"] == "uvloop"
    assert isinstance(kwargs["http"], partial) and kwargs["http"].func is GuardedProtocol
    assert kwargs["http"].keywords["limits"] == ConnectionLimits.of(settings)
    assert kwargs["timeout_keep_alive"] == settings.idle_timeout
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.1", 8123, 2)


def test_an_api_key_list_of_only_blanks_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "")
    monkeypatch.setenv("GRADSERVE_API_KEYS", " , ")
    monkeypatch.setattr(cli, "serve", lambda s: pytest.fail("served with blank API keys"))
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert "GRADSERVE_API_KEYS holds only blanks" in str(stopped.value.code)


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
    monkeypatch.setattr(cli, "serve", lambda s: pytest.fail("served before restarting"))
    with pytest.raises(_Restarted):
        cli.main()
    assert execs == [(cli.sys.executable, [cli.sys.executable, "-m", "service", "--anything"])]
    assert cli.os.environ["GLIBC_TUNABLES"] == GLIBC_TUNABLES


def test_defaults_bind_loopback_8000() -> None:
    opts = cli.uvicorn_options(Settings())
    assert (opts["host"], opts["port"]) == ("127.0.0.1", 8000)
