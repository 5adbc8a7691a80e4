"""service/auth.py: CORS is off by default and allows exactly the origins of
GRADSERVE_CORS_ORIGINS; its preflights are answered before the API key check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.settings import Settings

pytestmark = pytest.mark.anyio

ORIGIN = "https://app.example"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, authorization"}


async def test_off_by_default(client: httpx.AsyncClient) -> None:
    assert Settings().cors_origin_list() == []
    r = await client.get("/v1/info", headers={"Origin": ORIGIN})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    r = await client.options("/v1/run", headers=PREFLIGHT)
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers


async def test_allowlisted_origins_only(make_client: Callable[..., Any]) -> None:
    async with make_client(cors_origins=f"{ORIGIN}, https://other.example") as c:
        r = await c.get("/v1/info", headers={"Origin": ORIGIN})
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        r = await c.post("/v1/run", json={"program": [{"print": 1}]},
                         headers={"Origin": "https://other.example"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://other.example"
        r = await c.get("/v1/info", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        pre = await c.options("/v1/run", headers=PREFLIGHT)
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in pre.headers["access-control-allow-methods"]
        assert "authorization" in pre.headers["access-control-allow-headers"].lower()
        bad = await c.options("/v1/run", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert bad.status_code == 400


async def test_any_origin(make_client: Callable[..., Any]) -> None:
    async with make_client(cors_origins="*") as c:
        r = await c.get("/v1/info", headers={"Origin": "https://anything.example"})
        assert r.headers["access-control-allow-origin"] == "*"


async def test_preflight_needs_no_key_and_401s_carry_cors(make_client: Callable[..., Any]) -> None:
    async with make_client(cors_origins=ORIGIN, api_keys=SecretStr("sekret")) as c:
        pre = await c.options("/v1/run", headers=PREFLIGHT)
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ORIGIN
        r = await c.post("/v1/run", json={"program": [{"print": 1}]}, headers={"Origin": ORIGIN})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ORIGIN
        r = await c.post("/v1/run", json={"program": [{"print": 1}]},
                         headers={"Origin": ORIGIN, "Authorization": "Bearer sekret"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
