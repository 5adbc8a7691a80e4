"""Every limit, reached fast and named in the problem (service/interpreter.py, the engine's
allocation checks, service/middleware.py for the body)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.service.helpers import TEST_SETTINGS, ManualClock, post, problem

pytestmark = pytest.mark.anyio
S = TEST_SETTINGS


def limited(r: httpx.Response, limit: str, pointer: str | None = None, status: int = 422
            ) -> dict[str, Any]:
    body = problem(r, "limit-exceeded", status, pointer)
    assert body["limit"] == limit and body["maximum"] == getattr(S, limit)
    assert body["value"] > body["maximum"]
    return body


async def test_max_tensor_elements_for_ops_literals_and_objects(client: httpx.AsyncClient) -> None:
    n = S.max_tensor_elements + 1
    limited(await post(client, [{"op": "zeros", "attrs": {"size": [n]}}]), "max_tensor_elements",
            "/program/0")
    big = {"shape": [n], "datatype": "BOOL", "b64": "AAAA" * ((n + 2) // 3)}
    limited(await post(client, [{"print": {"op": "logical_not", "args": [big]}}]),
            "max_tensor_elements", "/program/0/print/args/0")
    side = int(S.max_tensor_elements ** 0.5) + 1
    square = [[0] * side] * side
    assert len(str(square)) < S.max_body_bytes * 2
    prog = [{"name": "a", "op": "ones", "attrs": {"size": [side - 1, side - 1]}},
            {"name": "b", "op": "matmul", "args": [{"op": "ones", "attrs": {"size": [side, 1]}},
                                                     {"op": "ones", "attrs": {"size": [1, side]}}]}]
    limited(await post(client, prog), "max_tensor_elements", "/program/1")


async def test_max_alive_elements(client: httpx.AsyncClient) -> None:
    n = S.max_tensor_elements
    prog = [{"name": f"t{i}", "op": "zeros", "attrs": {"size": [n]}}
            for i in range(S.max_alive_elements // n + 1)]
    limited(await post(client, prog), "max_alive_elements", f"/program/{len(prog) - 1}")


async def test_max_steps_counts_loop_iterations(client: httpx.AsyncClient) -> None:
    prog = [{"while": True, "do": [{"print": 1}] * 9, "max_iter": 10_000}]
    # max_loop_iterations would stop this loop later than max_steps does
    assert S.max_steps < S.max_loop_iterations * 10
    body = limited(await post(client, prog), "max_steps")
    assert body["pointer"].startswith("/program/0")  # the loop or one of its statements


async def test_max_loop_iterations_and_max_iter(client: httpx.AsyncClient) -> None:
    body = limited(await post(client, [{"while": True, "do": []}]), "max_loop_iterations",
                   "/program/0")
    assert body["value"] == S.max_loop_iterations + 1
    r = await post(client, [{"while": True, "do": [], "max_iter": 5}])
    body = problem(r, "limit-exceeded", 422, "/program/0/max_iter")
    assert (body["limit"], body["maximum"], body["value"]) == ("max_iter", 5, 6)


async def test_max_nesting_depth(client: httpx.AsyncClient) -> None:
    expr: Any = "x"
    for _ in range(S.max_nesting_depth):
        expr = {"op": "neg", "args": [expr]}
    body = limited(await post(client, [{"print": expr}]), "max_nesting_depth")
    assert body["pointer"].startswith("/program/0/print/args/0/args/0")
    block: list[Any] = [{"print": 1}]
    for _ in range(S.max_nesting_depth):
        block = [{"no_grad": block}]
    limited(await post(client, block), "max_nesting_depth")
    literal: Any = [1.0]
    for _ in range(S.max_nesting_depth):
        literal = [literal]
    limited(await post(client, [{"print": {"op": "neg", "args": [literal]}}]),
            "max_nesting_depth", "/program/0/print/args/0")


async def test_max_printed_chars(client: httpx.AsyncClient) -> None:
    prog = [{"name": "x", "op": "zeros", "attrs": {"size": [100]}},
            {"while": True, "do": [{"print": "x"}]}]
    body = limited(await post(client, prog), "max_printed_chars", "/program/1/do/0")
    assert sum(len(line) + 1 for line in body["printed"]) <= S.max_printed_chars


async def test_request_timeout_is_checked_between_steps(
        make_client: Callable[..., Any]) -> None:
    # The program's clock moves 0.04 s each time it is read: the deadline passes inside the loop
    # (max_steps stops it instead if the deadline were not checked there).
    async with make_client(request_timeout=0.3, max_steps=10_000, max_loop_iterations=10**9,
                           clock=ManualClock(step=0.04)) as c:
        r = await post(c, [{"name": "x", "op": "ones", "attrs": {"size": [50]}},
                           {"while": True, "do": [{"name": "x", "op": "add", "args": ["x", 1]}]}])
    body = problem(r, "limit-exceeded", 422)
    assert body["limit"] == "request_timeout" and body["maximum"] == 0.3
    assert body["pointer"] in ("/program/1", "/program/1/do/0")


@pytest.mark.parametrize("pad", [0, 1, 2])
async def test_request_timeout_while_a_loop_takes_a_tensors_rows(
        make_client: Callable[..., Any], pad: int) -> None:
    # A for loop over a tensor takes each row as it goes (a tensor made, the clock read); the
    # deadline passing there is the request_timeout problem about the loop's iterable, as
    # anywhere else, not an error escaping the run (a 500). (``pad`` statements shift which
    # reading passes the deadline: a row's, a statement's or the loop's own step.)
    program = [{"name": "x", "op": "ones", "attrs": {"size": [400, 2]}}]
    program += [{"name": "n", "op": "numel", "args": ["x"]}] * pad
    program += [{"for": "r", "in": "x", "do": [{"name": "n", "op": "numel", "args": ["r"]}]}]
    async with make_client(request_timeout=0.3, max_steps=10_000,
                           clock=ManualClock(step=0.01)) as c:
        r = await post(c, program)
    body = problem(r, "limit-exceeded", 422)
    assert body["limit"] == "request_timeout" and body["maximum"] == 0.3
    loop = f"/program/{1 + pad}"
    assert body["pointer"] in (loop, f"{loop}/in", f"{loop}/do/0")


async def test_body_limit_with_content_length(client: httpx.AsyncClient) -> None:
    payload = b'{"program": [], "pad": "' + b"x" * S.max_body_bytes + b'"}'
    r = await client.post("/v1/run", content=payload,
                          headers={"content-type": "application/json"})
    body = limited(r, "max_body_bytes", status=413)
    assert body["value"] == len(payload)


async def test_body_limit_when_streamed_without_length(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"program": [], "pad": "'
        for _ in range(S.max_body_bytes // 8192 + 2):
            yield b"x" * 8192
        yield b'"}'

    r = await client.post("/v1/run", content=chunks(),
                          headers={"content-type": "application/json"})
    limited(r, "max_body_bytes", status=413)


async def test_a_body_at_the_limit_passes(client: httpx.AsyncClient) -> None:
    head = b'{"program": [], "seed": 1'
    payload = head + b" " * (S.max_body_bytes - len(head) - 1) + b"}"
    r = await client.post("/v1/run", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text


async def test_request_timeout_is_checked_before_every_call_too(
        make_client: Callable[..., Any]) -> None:
    # One statement whose single expression holds many calls, on a clock that moves 0.03 s each
    # time it is read: the deadline passes inside the statement, and the call it passes at is
    # named.
    total = {"op": "sum", "args": [{"op": "mul", "args": [{"op": "ones", "attrs": {"size": [3]}},
                                                          2]}]}
    async with make_client(request_timeout=0.2, clock=ManualClock(step=0.03)) as c:
        r = await post(c, [{"print": {"values": [total] * 100}}])
    body = problem(r, "limit-exceeded", 422)
    assert body["limit"] == "request_timeout"
    assert body["pointer"].startswith("/program/0/print/values/")


async def test_nesting_far_beyond_the_limit_is_still_that_limit(client: httpx.AsyncClient) -> None:
    # Deep enough that the schema validator's own recursion guard meets it first.
    depth = 300
    text = ('{"program": [{"print": ' + '{"op": "neg", "args": [' * depth + '"x"' + "]}" * depth
            + "}]}")
    r = await client.post("/v1/run", content=text, headers={"content-type": "application/json"})
    body = problem(r, "limit-exceeded", 422)
    assert body["limit"] == "max_nesting_depth" and body["maximum"] == S.max_nesting_depth
