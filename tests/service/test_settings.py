"""service/settings.py: GRADSERVE_* variables, and the README's table of them."""

from __future__ import annotations

import re

import pytest

from service.settings import Settings
from tests.service.helpers import ROOT


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADSERVE_MAX_STEPS", "7")
    monkeypatch.setenv("GRADSERVE_PORT", "9001")
    s = Settings()
    assert (s.max_steps, s.port, s.host) == (7, 9001, "127.0.0.1")


def test_defaults_are_safe() -> None:
    s = Settings()
    assert s.host == "127.0.0.1" and s.port == 8000
    assert s.max_body_bytes <= 64 * 1024 * 1024 and s.request_timeout <= 60


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(GRADSERVE_[A-Z_]+)` \| `([^`]*)` \|", readme, re.M))
    for name, field in Settings.model_fields.items():
        var = f"GRADSERVE_{name.upper()}"
        assert var in rows, f"README lacks {var}"
        assert rows[var] == str(field.default), var


def test_idle_timeout_outlasts_the_keep_alive_of_clients_and_balancers() -> None:
    """The server must never be the side that closes an idle keep-alive connection: a close that
    crosses the client's next request on it resets that request (the CI soak met one in ~12,000
    when both sides used 5 s). clients/python keeps httpx's default keep-alive; a cloud load
    balancer holds an idle upstream connection 60 s."""
    import httpx

    idle = Settings().idle_timeout
    assert idle > httpx.Limits().keepalive_expiry > 0  # type: ignore[operator]
    assert idle > 60
