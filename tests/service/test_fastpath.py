"""service/fastpath.py: ``POST /v1/run`` answered through the direct stack is answered exactly as
FastAPI's own path answers it -- status, headers, body (problems and pointers included), the
request id, metrics and the access log -- for good and bad requests, with API keys and CORS on.

Each request goes to two apps made with the same settings: one as served (``App``: the direct
stack), one called through ``FastAPI.__call__`` (the app's routing, as before the direct stack).
Two apps, not one, so that each sees the same compile-cache history."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import Receive, Scope, Send

from service import metrics
from service.app import create_app
from service.fastpath import App
from tests.service.helpers import TEST_SETTINGS

pytestmark = pytest.mark.anyio

KEY = "k-0123456789"
JSON = {"content-type": "application/json"}


def _fastapi_path(app: App) -> Any:
    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(app, scope, receive, send)
    return call


@asynccontextmanager
async def _clients(**overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient,
                                                            App, App]]:
    settings = TEST_SETTINGS.model_copy(update=overrides)
    direct, routed = create_app(settings), create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=direct,
                                                               raise_app_exceptions=False),
                                 base_url="http://gradserve") as a, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=_fastapi_path(routed),
                                                            raise_app_exceptions=False),
                              base_url="http://gradserve") as b:
        yield a, b, direct, routed


def _comparable(r: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = dict(r.headers)
    headers.pop("x-request-id", None)
    try:
        body = r.json()
    except ValueError:
        body = r.content
    if isinstance(body, dict) and isinstance(body.get("stats"), dict):
        # time taken: the one field that may differ (and with its digits, the length)
        body["stats"].pop("elapsed_s", None)
        assert int(headers.pop("content-length")) == len(r.content)
    return r.status_code, headers, body


def _b64_program(n: int) -> dict[str, Any]:
    raw = b"\x00\x00\x80\x3f" * n  # n float32 ones
    x = {"shape": [n], "datatype": "FP32", "b64": base64.b64encode(raw).decode()}
    return {"program": [{"name": "x", "op": "tensor", "args": [x],
                         "attrs": {"requires_grad": True}},
                        {"op": "backward", "args": [{"op": "sum", "args": [{"op": "mul",
                                                                           "args": ["x", 2]}]}]}],
            "outputs": ["x"], "encoding": "base64"}


TRIVIAL = {"program": [{"name": "x", "op": "ones", "attrs": {"size": [2]}}]}
BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("trivial", json.dumps(TRIVIAL).encode(), JSON),
    ("trivial again (cached)", json.dumps(TRIVIAL).encode(), JSON),
    ("with the rest of the request", json.dumps({**TRIVIAL, "seed": 3, "outputs": ["x"]}).encode(),
     JSON),
    ("source", json.dumps({"source": "import torch\nx = torch.ones(2)\nprint(x * 2)\n"}).encode(),
     JSON),
    ("inputs", json.dumps({"program": [{"name": "y", "op": "mul", "args": ["x", 2]}],
                           "inputs": {"x": [1.0, 2.0]}}).encode(), JSON),
    ("not JSON", b'{"program": [', JSON),
    ("NaN token", b'{"program": [{"print": NaN}]}', JSON),
    ("unknown op", json.dumps({"program": [{"op": "nope"}]}).encode(), JSON),
    ("schema", json.dumps({"program": [{"op": "ones", "attrs": {"size": "x"}}]}).encode(), JSON),
    ("unknown name", json.dumps({"program": [{"print": "q"}]}).encode(), JSON),
    ("run-time error", json.dumps({"program": [{"name": "a", "op": "ones",
                                                "attrs": {"size": [2]}},
                                               {"op": "matmul", "args": ["a", [[1.0]]]}]}).encode(),
     JSON),
    ("too deep", b'{"program": [{"print": ' + b"[" * 300 + b"]" * 300 + b"}]}", JSON),
    ("empty body", b"", JSON),
    ("not sent as JSON", json.dumps(TRIVIAL).encode(), {"content-type": "text/plain"}),
    ("no content type", json.dumps(TRIVIAL).encode(), {}),
    ("+json media type", json.dumps(TRIVIAL).encode(),
     {"content-type": "application/vnd.x+json; charset=utf-8"}),
    ("not an object", b"[1, 2]", JSON),
    ("large body (validated on a thread)", json.dumps(_b64_program(30_000)).encode(), JSON),
    ("over max_body_bytes", json.dumps(_b64_program(60_000)).encode(), JSON),
    ("request id given", json.dumps(TRIVIAL).encode(), {**JSON, "x-request-id": "abc-1"}),
]


async def test_the_direct_stack_answers_as_fastapi_does() -> None:
    async with _clients() as (direct, routed, app, _):
        for what, body, headers in BODIES:
            a = await direct.post("/v1/run", content=body, headers=headers)
            b = await routed.post("/v1/run", content=body, headers=headers)
            assert _comparable(a) == _comparable(b), what
            assert ("x-request-id" in a.headers) == ("x-request-id" in b.headers), what
            if "x-request-id" in headers:
                assert a.headers["x-request-id"] == b.headers["x-request-id"] == "abc-1"
        assert app._direct_stack is not None  # (the direct stack did answer)


async def test_api_keys_and_cors_on_the_direct_stack() -> None:
    async with _clients(api_keys=SecretStr(KEY), cors_origins="https://ui.example") as (direct, routed, *_):
        body = json.dumps(TRIVIAL).encode()
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Bearer {KEY}"},
                        {"authorization": f"Bearer {KEY}", "origin": "https://ui.example"},
                        {"origin": "https://elsewhere.example"}):
            a = await direct.post("/v1/run", content=body, headers={**JSON, **headers})
            b = await routed.post("/v1/run", content=body, headers={**JSON, **headers})
            assert _comparable(a) == _comparable(b), headers
        a = await direct.post("/v1/run", content=body,
                              headers={**JSON, "authorization": f"Bearer {KEY}",
                                       "origin": "https://ui.example"})
        assert a.status_code == 200
        assert a.headers["access-control-allow-origin"] == "https://ui.example"
        assert (await direct.post("/v1/run", content=body, headers=JSON)).status_code == 401


def _requests(route: str, status: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "gradserve_http_requests_total", {"route": route, "method": "POST", "status": status})
    return value or 0.0


async def test_the_direct_stack_counts_requests_under_the_route() -> None:
    async with _clients() as (direct, *_):
        before_ok, before_bad = _requests("/v1/run", "200"), _requests("/v1/run", "400")
        assert (await direct.post("/v1/run", json=TRIVIAL)).status_code == 200
        assert (await direct.post("/v1/run", content=b"{", headers=JSON)).status_code == 400
        assert _requests("/v1/run", "200") == before_ok + 1
        assert _requests("/v1/run", "400") == before_bad + 1


async def test_the_first_content_type_decides_as_on_fastapis_path() -> None:
    async with _clients() as (direct, routed, *_):
        body = json.dumps(TRIVIAL).encode()
        for types in (["text/plain", "application/json"], ["application/json", "text/plain"]):
            headers = [("content-type", t) for t in types]
            a = await direct.post("/v1/run", content=body, headers=headers)
            b = await routed.post("/v1/run", content=body, headers=headers)
            assert _comparable(a) == _comparable(b), types


async def test_other_routes_and_methods_are_fastapis() -> None:
    async with _clients() as (direct, routed, *_):
        for method, path in (("GET", "/v1/run"), ("POST", "/v1/run/"), ("POST", "/v1/translate"),
                             ("GET", "/health/live")):
            a = await direct.request(method, path, json={"source": "x = 1\n"})
            b = await routed.request(method, path, json={"source": "x = 1\n"})
            assert _comparable(a) == _comparable(b), (method, path)
