"""service/observability.py: one JSON log line per request, and X-Request-ID taken, generated and
echoed. The echo is checked on every transport (a live server included); the log lines on the
in-process app, whose ``gradserve.access`` logger the tests listen to."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from service.observability import access_log
from tests.service.helpers import TEST_SETTINGS, ok, post, problem

pytestmark = pytest.mark.anyio

HEX32 = re.compile(r"[0-9a-f]{32}")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(record.getMessage()))


@pytest.fixture
def lines() -> Iterator[list[dict[str, Any]]]:
    handler = Lines()
    access_log.addHandler(handler)
    try:
        yield handler.records
    finally:
        access_log.removeHandler(handler)


# ----- X-Request-ID, on every transport ----------------------------------------------------------
async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/info", headers={"X-Request-ID": "trace-42.a:b_c"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "trace-42.a:b_c"
    r = await post(client, [{"print": 1}], )
    assert r.status_code == 200 and HEX32.fullmatch(r.headers["x-request-id"])


async def test_request_id_on_problems_too(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/such", headers={"x-request-id": "rid-404"})
    problem(r, "not-found", 404)
    assert r.headers["x-request-id"] == "rid-404"
    r = await post(client, [{"while": True, "do": []}])
    problem(r, "limit-exceeded", 422)
    assert HEX32.fullmatch(r.headers["x-request-id"])
    big = b'{"program": [' + b" " * TEST_SETTINGS.max_body_bytes + b"]}"
    r = await client.post("/v1/run", content=big, headers={
        "content-type": "application/json", "x-request-id": "rid-413"})
    problem(r, "limit-exceeded", 413)
    assert r.headers["x-request-id"] == "rid-413"


@pytest.mark.parametrize("given", ["has space", "x" * 129, "quote\"d", "new\\nline", "ünï"])
async def test_an_unusable_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    r = await client.get("/health/live", headers={"x-request-id": given.encode("utf-8")})
    assert r.status_code == 200
    assert HEX32.fullmatch(r.headers["x-request-id"]), r.headers["x-request-id"]


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/health/live")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# ----- the access log ----------------------------------------------------------------------------
async def test_one_json_line_per_request(make_client: Callable[..., Any],
                                         lines: list[dict[str, Any]]) -> None:
    async with make_client() as c:
        body = await ok(c, [{"name": "x", "op": "ones", "attrs": {"size": [2]}},
                            {"name": "y", "op": "add", "args": ["x", 1]}],
                        )
        r = await c.get("/v1/ops", headers={"x-request-id": "mine-1"})
        await c.get("/nowhere")
    assert len(lines) == 3
    run, ops, missing = lines
    assert set(run) >= {"ts", "level", "event", "request_id", "method", "route", "path", "status",
                        "duration_s", "steps", "backend"}
    assert run["event"] == "request" and run["method"] == "POST" and run["route"] == "/v1/run"
    assert run["status"] == 200 and run["steps"] == body["stats"]["steps"] == 2
    assert run["backend"] == body["stats"]["backend"] == "numpy"
    assert isinstance(run["duration_s"], float) and run["duration_s"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", run["ts"])
    assert HEX32.fullmatch(run["request_id"])
    assert ops["request_id"] == r.headers["x-request-id"] == "mine-1"
    assert ops["route"] == "/v1/ops" and ops["steps"] is None and ops["problem"] is None
    assert (missing["route"], missing["status"], missing["problem"]) == \
        ("unmatched", 404, "not-found")


async def test_failed_programs_log_their_steps_and_problem(
        make_client: Callable[..., Any], lines: list[dict[str, Any]]) -> None:
    async with make_client() as c:
        problem(await post(c, [{"print": 1}, {"while": True, "do": []}]), "limit-exceeded", 422)
        problem(await post(c, [{"name": "x", "op": "nope"}]), "unknown-op", 422)
    looped, unknown = lines
    assert looped["problem"] == "limit-exceeded" and looped["status"] == 422
    assert looped["steps"] == 2 + TEST_SETTINGS.max_loop_iterations
    assert unknown["problem"] == "unknown-op" and unknown["steps"] is None  # refused before running


async def test_tensor_data_is_never_logged(make_client: Callable[..., Any],
                                           lines: list[dict[str, Any]]) -> None:
    secret = [271828.125, 314159.25]
    async with make_client() as c:
        await ok(c, [{"name": "x", "op": "tensor", "args": [secret]}, {"print": "x"}])
        await post(c, [{"name": "x", "op": "tensor", "args": [secret]},
                       {"name": "y", "op": "add", "args": ["x", [1.0, 2.0, 3.0]]}])
        await c.post("/v1/run", json={"program": [{"name": "x", "op": "tensor", "args": [
            {"shape": [2], "datatype": "FP32", "data": secret}]}], "encoding": "base64"})
    assert len(lines) == 3
    text = json.dumps(lines)
    for number in ("271828", "314159", "2718", "3141"):
        assert number not in text


async def test_access_log_can_be_turned_off(make_client: Callable[..., Any],
                                            lines: list[dict[str, Any]]) -> None:
    async with make_client(access_log=False) as c:
        r = await c.get("/v1/info")
    assert r.status_code == 200 and r.headers["x-request-id"]
    assert lines == []


def test_the_access_logger_writes_bare_json_lines_to_stdout() -> None:
    from service.observability import configure_access_log

    configure_access_log()
    configure_access_log()  # idempotent: still one handler
    ours = [h for h in access_log.handlers if getattr(h, "_gradserve", False)]
    assert len(ours) == 1 and not access_log.propagate
    record = logging.LogRecord("gradserve.access", logging.INFO, __file__, 1, '{"a": 1}', None,
                               None)
    assert ours[0].format(record) == '{"a": 1}'
