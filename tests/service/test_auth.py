"""service/auth.py: optional API keys (GRADSERVE_API_KEYS, Authorization: Bearer). Off by default;
when set, every route but /health/* and /metrics answers 401 problem+json without a valid key, and
keys are compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service import auth
from service.settings import Settings
from tests.service.helpers import ok, problem

pytestmark = pytest.mark.anyio

KEYS = SecretStr("k-alpha-123, k-beta-456")
PROGRAM = {"program": [{"name": "x", "op": "ones", "attrs": {"size": [2]}}]}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_off_by_default(client: httpx.AsyncClient) -> None:
    assert Settings().api_key_list() == []
    await ok(client, PROGRAM["program"])
    assert (await client.get("/v1/ops")).status_code == 200


@pytest.mark.parametrize("headers", [
    {}, bearer("wrong"), bearer("k-alpha-12"), bearer("k-alpha-1234"), bearer(""),
    {"Authorization": "k-alpha-123"}, {"Authorization": "Basic k-alpha-123"},
    {"Authorization": "Bearer k-alpha-123, k-beta-456"}, {"X-API-Key": "k-alpha-123"},
])
async def test_without_a_valid_key_every_route_answers_401(
        make_client: Callable[..., Any], headers: dict[str, str]) -> None:
    async with make_client(api_keys=KEYS) as c:
        answers = [await c.post("/v1/run", json=PROGRAM, headers=headers)]
        for path in ("/v1/ops", "/v1/info", "/openapi.json", "/docs", "/no/such/path"):
            answers.append(await c.get(path, headers=headers))
        answers.append(await c.delete("/v1/run", headers=headers))
    for r in answers:
        body = problem(r, "unauthorized", 401)
        assert body["title"] == "Unauthorized" and "Bearer" in body["detail"]
        assert r.headers["www-authenticate"] == 'Bearer realm="gradserve"'
        assert r.headers["x-request-id"]


async def test_any_configured_key_opens_every_route(make_client: Callable[..., Any]) -> None:
    async with make_client(api_keys=KEYS) as c:
        for key in ("k-alpha-123", "k-beta-456"):
            r = await c.post("/v1/run", json=PROGRAM, headers=bearer(key))
            assert r.status_code == 200, r.text
            assert (await c.get("/v1/ops", headers=bearer(key))).status_code == 200
            assert (await c.get("/v1/info", headers={"authorization": f"bearer {key}"})
                    ).status_code == 200
            assert (await c.get("/openapi.json", headers=bearer(key))).status_code == 200
        # a valid key does not hide the real answer
        problem(await c.get("/no/such/path", headers=bearer("k-beta-456")), "not-found", 404)


async def test_health_and_metrics_need_no_key(make_client: Callable[..., Any]) -> None:
    async with make_client(api_keys=KEYS) as c:
        assert (await c.get("/health/live")).status_code == 200
        assert (await c.get("/health/ready")).status_code == 200
        r = await c.get("/metrics")
        assert r.status_code == 200 and "gradserve_http_requests_total" in r.text
        # a wrong key there is ignored too
        assert (await c.get("/health/ready", headers=bearer("wrong"))).status_code == 200


async def test_metrics_behind_the_keys_when_the_operator_says_so(
        make_client: Callable[..., Any]) -> None:
    async with make_client(api_keys=KEYS, metrics_need_api_key=True) as c:
        problem(await c.get("/metrics"), "unauthorized", 401)
        r = await c.get("/metrics", headers=bearer("k-beta-456"))
        assert r.status_code == 200 and "gradserve_http_requests_total" in r.text
        assert (await c.get("/health/ready")).status_code == 200  # health stays open


async def test_401s_are_counted_in_metrics(make_client: Callable[..., Any]) -> None:
    async with make_client(api_keys=KEYS) as c:
        def count(text: str) -> float:
            for line in text.splitlines():
                if line.startswith("gradserve_http_requests_total{") and 'route="/v1/run"' in line \
                        and 'status="401"' in line:
                    return float(line.rsplit(" ", 1)[1])
            return 0.0

        before = count((await c.get("/metrics")).text)
        await c.post("/v1/run", json=PROGRAM)
        assert count((await c.get("/metrics")).text) == before + 1


async def test_keys_are_compared_in_constant_time(make_client: Callable[..., Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    async with make_client(api_keys=KEYS) as c:
        assert (await c.get("/v1/info", headers=bearer("k-alpha-123"))).status_code == 200
        assert len(calls) == 2  # every key is compared, even after the first matched
        calls.clear()
        assert (await c.get("/v1/info", headers=bearer("k-beta-456"))).status_code == 200
        assert (await c.get("/v1/info", headers=bearer("nope"))).status_code == 401
    assert len(calls) == 4
    # digests of equal length, whatever the length of the key sent
    assert {len(a) for a, _ in calls} == {len(b) for _, b in calls} == {32}


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADSERVE_API_KEYS", " one ,two,, ")
    s = Settings()
    assert s.api_key_list() == ["one", "two"]
    assert "one" not in repr(s) and "two" not in repr(s)  # a SecretStr: never printed


def test_the_contract_documents_the_optional_bearer_scheme() -> None:
    from service.app import create_app

    doc = create_app().openapi()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "An API key from GRADSERVE_API_KEYS; needed only when the server sets it."}
    run = doc["paths"]["/v1/run"]["post"]
    assert run["security"] == [{}, {"bearer": []}] and "401" in run["responses"]
    for public in ("/health/live", "/health/ready"):
        assert "security" not in doc["paths"][public]["get"]
        assert "401" not in doc["paths"][public]["get"]["responses"]
    # /metrics needs a key where the operator sets metrics_need_api_key: documented as optional
    metrics = doc["paths"]["/metrics"]["get"]
    assert metrics["security"] == [{}, {"bearer": []}] and "401" in metrics["responses"]
