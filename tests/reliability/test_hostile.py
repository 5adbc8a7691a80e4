"""A catalogue of hostile requests, one named test each: every one is answered with the right
status and problem type, within a bounded time (each test's timeout and the client's), and
``GET /health/ready`` still answers right after. Each runs against the app in-process and against a
real uvicorn (``client`` is parametrised over both; conftest.py).

Limits are RELIABILITY_SETTINGS (TEST_SETTINGS: a 256 KiB body, 100,000 elements per tensor, 5,000
steps, 1,000 loop iterations, nesting 16).
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from engine import errors as engine_errors
from tests.reliability.conftest import RELIABILITY_SETTINGS as S
from tests.reliability.conftest import Server
from tests.service.helpers import problem

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

JSON = {"content-type": "application/json"}
X = {"name": "x", "op": "ones", "attrs": {"size": [2, 2], "requires_grad": True}}


async def ready(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"


async def refused(client: httpx.AsyncClient, r: httpx.Response, status: int, kind: str,
                  pointer: str | None = None) -> dict[str, Any]:
    """``r`` is the problem ``kind`` with ``status``; the server is still ready afterwards."""
    body = problem(r, kind, status, pointer)
    await ready(client)
    return body


async def answered(client: httpx.AsyncClient, r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    await ready(client)
    return body


async def run(client: httpx.AsyncClient, program: list[Any], **fields: Any) -> httpx.Response:
    return await client.post("/v1/run", json={"program": program, **fields})


async def raw(client: httpx.AsyncClient, text: str | bytes) -> httpx.Response:
    content = text.encode() if isinstance(text, str) else text
    return await client.post("/v1/run", content=content, headers=JSON)


def limit(body: dict[str, Any], name: str) -> None:
    assert body["limit"] == name, body
    assert body["maximum"] == getattr(S, name)
    assert body["value"] > body["maximum"]


# ----- the body: not JSON, broken JSON, JSON nobody should send --------------------------------
async def test_body_not_json(client: httpx.AsyncClient) -> None:
    await refused(client, await raw(client, "this is not json"), 400, "invalid-json", "")


async def test_truncated_json(client: httpx.AsyncClient) -> None:
    body = await refused(client, await raw(client, '{"program": [{"op": "ones", "attrs": {"si'),
                         400, "invalid-json", "")
    assert "line 1" in body["detail"]


async def test_empty_body(client: httpx.AsyncClient) -> None:
    body = await refused(client, await raw(client, b""), 422, "invalid-program", "")
    assert body["detail"] == "the request needs a JSON body"


async def test_body_not_utf8(client: httpx.AsyncClient) -> None:
    r = await raw(client, b'{"program": [{"print": "\xff\xfe"}]}')
    assert "not UTF-8" in (await refused(client, r, 400, "invalid-json", ""))["detail"]


async def test_body_is_a_json_array_not_an_object(client: httpx.AsyncClient) -> None:
    await refused(client, await raw(client, "[1, 2, 3]"), 422, "invalid-program", "")


async def test_body_is_json_null(client: httpx.AsyncClient) -> None:
    await refused(client, await raw(client, "null"), 422, "invalid-program", "")


async def test_body_sent_as_text_plain(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/run", content=b'{"program": []}',
                          headers={"content-type": "text/plain"})
    await refused(client, r, 415, "unsupported-media-type")


async def test_duplicate_keys(client: httpx.AsyncClient) -> None:
    # one parser keeps the first, another the last: refused, so that nobody has to guess
    r = await raw(client, '{"program": [], "program": [{"print": 1}]}')
    body = await refused(client, r, 400, "invalid-json", "")
    assert "'program' appears twice" in body["detail"]


async def test_duplicate_keys_deep_inside_a_statement(client: httpx.AsyncClient) -> None:
    r = await raw(client, '{"program": [{"op": "ones", "op": "zeros", "attrs": {"size": [1]}}]}')
    assert "'op' appears twice" in (await refused(client, r, 400, "invalid-json"))["detail"]


async def test_nan_and_infinity_tokens_are_not_json(client: httpx.AsyncClient) -> None:
    for token in ("NaN", "Infinity", "-Infinity"):
        r = await raw(client, '{"program": [{"print": {"op": "add", "args": [[1.0], ' + token
                      + "]}}]}")
        body = await refused(client, r, 400, "invalid-json", "")
        assert f"{token} is not a JSON value" in body["detail"]


async def test_nan_and_infinity_strings_are_numbers(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "y", "op": "add", "args": [["NaN", 1.0], "Infinity"]},
                           {"name": "z", "op": "mul", "args": [[1.0], "-Infinity"]}])
    body = await answered(client, r)
    assert body["tensors"]["y"]["data"] == ["NaN", "Infinity"]
    assert body["tensors"]["z"]["data"] == ["-Infinity"]


async def test_nan_string_in_int64_data(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [1], "datatype": "INT64", "data": ["NaN"]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/print/data")


# ----- nesting ------------------------------------------------------------------------------------
DEPTH = 10_000


async def test_ten_thousand_nested_arrays_in_the_body(client: httpx.AsyncClient) -> None:
    r = await raw(client, '{"program": [' + "[" * DEPTH + "]" * DEPTH + "]}")
    body = await refused(client, r, 422, "limit-exceeded", "")
    limit(body, "max_nesting_depth")
    assert body["value"] == DEPTH + 2


async def test_ten_thousand_nested_objects_in_the_body(client: httpx.AsyncClient) -> None:
    r = await raw(client, '{"program": [' + '{"a":' * DEPTH + "1" + "}" * DEPTH + "]}")
    limit(await refused(client, r, 422, "limit-exceeded", ""), "max_nesting_depth")


async def test_ten_thousand_nested_calls_in_an_expression(client: httpx.AsyncClient) -> None:
    text = ('{"program": [{"print": ' + '{"op":"neg","args":[' * DEPTH + '"x"' + "]}" * DEPTH
            + "}]}")
    assert len(text) < S.max_body_bytes
    limit(await refused(client, await raw(client, text), 422, "limit-exceeded", ""),
          "max_nesting_depth")


async def test_ten_thousand_nested_blocks(client: httpx.AsyncClient) -> None:
    text = '{"program": ' + '[{"no_grad":' * DEPTH + "[]" + "}]" * DEPTH + "}"
    limit(await refused(client, await raw(client, text), 422, "limit-exceeded", ""),
          "max_nesting_depth")


async def test_ten_thousand_nested_array_literal(client: httpx.AsyncClient) -> None:
    text = '{"program": [{"print": {"op": "neg", "args": [' + "[" * DEPTH + "1.0" + "]" * DEPTH
    text += "]}}]}"
    limit(await refused(client, await raw(client, text), 422, "limit-exceeded", ""),
          "max_nesting_depth")


async def test_brackets_inside_strings_do_not_count_as_nesting(client: httpx.AsyncClient) -> None:
    # 10,000 "[" inside a string nest nothing: the depth check must not refuse it, the schema does
    r = await raw(client, json.dumps({"program": [{"print": "[" * DEPTH}]}))
    await refused(client, r, 422, "invalid-program", "/program/0/print")


async def test_nesting_just_over_the_limit_points_at_the_element(
        client: httpx.AsyncClient) -> None:
    expr: Any = "x"
    for _ in range(S.max_nesting_depth):
        expr = {"op": "neg", "args": [expr]}
    body = await refused(client, await run(client, [{"print": expr}]), 422, "limit-exceeded")
    limit(body, "max_nesting_depth")
    assert body["pointer"].startswith("/program/0/print/args/0/args/0")


# ----- size ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["asgi", "uvicorn"])
async def test_body_over_the_limit_declared_by_content_length_is_refused_unread(
        transport: str, app: FastAPI, request: pytest.FixtureRequest) -> None:
    declared = 100 * S.max_body_bytes
    if transport == "asgi":
        reads: list[Any] = []

        async def receive() -> dict[str, Any]:
            reads.append(1)
            return {"type": "http.request", "body": b"{", "more_body": True}

        status, body = await asgi_post(app, [(b"content-length", str(declared).encode())],
                                       receive)
        assert reads == []  # not one byte of the body was read
    else:
        live: Server = request.getfixturevalue("server")
        # Only the head is sent: the answer cannot be waiting for the body.
        head = (f"POST /v1/run HTTP/1.1\r\nHost: gradserve\r\nContent-Type: application/json\r\n"
                f"Content-Length: {declared}\r\n\r\n").encode()
        status, body = raw_exchange(live.url, head)
    assert status == 413
    assert body["type"].endswith("/limit-exceeded") and body["limit"] == "max_body_bytes"
    assert body["value"] == declared


@pytest.mark.parametrize("transport", ["asgi", "uvicorn"])
async def test_body_over_the_limit_streamed_without_length_is_cut_off(
        transport: str, app: FastAPI, request: pytest.FixtureRequest) -> None:
    chunk, total = 64 * 1024, 64 * 1024 * 1024  # 64 MiB offered: 256 times the limit
    if transport == "asgi":
        sent = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            sent += chunk
            return {"type": "http.request", "body": b" " * chunk, "more_body": sent < total}

        status, body = await asgi_post(app, [(b"transfer-encoding", b"chunked")], receive)
        assert sent <= S.max_body_bytes + chunk  # reading stopped one chunk past the limit
    else:
        live: Server = request.getfixturevalue("server")
        for _ in range(3):  # (see chunked_upload: a reset may overtake the answer; then again)
            answer = chunked_upload(live.url, chunk, total)
            if answer is not None:
                break
        assert answer is not None, "each upload was reset before its answer could be read"
        status, body, sent = answer
        assert sent < total  # answered long before the body was sent whole
    assert status == 413
    assert body["limit"] == "max_body_bytes" and body["maximum"] == S.max_body_bytes


async def test_a_million_statements_is_over_the_body_limit(client: httpx.AsyncClient) -> None:
    text = '{"program": [' + ",".join(['{"print": 1}'] * 1_000_000) + "]}"
    r = await raw(client, text)
    limit(await refused(client, r, 413, "limit-exceeded"), "max_body_bytes")


async def test_a_shape_of_a_trillion_elements_is_refused_before_allocation(
        client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "x", "op": "zeros", "attrs": {"size": [10**6, 10**6]}}])
    body = await refused(client, r, 422, "limit-exceeded", "/program/0")
    limit(body, "max_tensor_elements")
    assert body["value"] == 10**12


async def test_a_trillion_elements_by_broadcasting_is_refused(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "expand", "args": [[1.0]],
                                      "attrs": {"size": [10**6, 10**6]}}}])
    limit(await refused(client, r, 422, "limit-exceeded", "/program/0/print"),
          "max_tensor_elements")


async def test_a_trillion_element_tensor_object_is_refused_unread(
        client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [10**6, 10**6], "datatype": "FP64", "b64": ""}}])
    body = await refused(client, r, 422, "invalid-program", "/program/0/print/b64")
    assert "8000000000000 bytes" in body["detail"]


async def test_element_count_past_64_bits(client: httpx.AsyncClient) -> None:
    """A count no int64 holds is refused as torch refuses it, before any limit is looked at."""
    r = await run(client, [{"name": "e", "op": "eye", "attrs": {"n": 34409630518797208}}])
    body = await refused(client, r, 422, "shape-error", "/program/0")
    assert body["detail"] == "numel: integer multiplication overflow"
    r = await run(client, [{"name": "z", "op": "zeros", "attrs": {"size": [2**40, 2**40]}}])
    body = await refused(client, r, 422, "shape-error", "/program/0")
    assert body["detail"] == "Storage size calculation overflowed with sizes=[1099511627776, 1099511627776]"


async def test_max_alive_elements(client: httpx.AsyncClient) -> None:
    n = S.max_tensor_elements
    prog = [{"name": f"t{i}", "op": "zeros", "attrs": {"size": [n]}}
            for i in range(S.max_alive_elements // n + 1)]
    limit(await refused(client, await run(client, prog), 422, "limit-exceeded"),
          "max_alive_elements")


async def test_ten_thousand_outputs_requested_not_bound(client: httpx.AsyncClient) -> None:
    r = await run(client, [X], outputs=[f"y{i}" for i in range(10_000)])
    body = await refused(client, r, 422, "unknown-name", "/outputs/0")
    assert body["name"] == "y0"


async def test_ten_thousand_outputs_requested_of_one_name(client: httpx.AsyncClient) -> None:
    body = await answered(client, await run(client, [X], outputs=["x"] * 10_000))
    assert list(body["tensors"]) == ["x"]


async def test_print_flood(client: httpx.AsyncClient) -> None:
    prog = [{"name": "x", "op": "zeros", "attrs": {"size": [100]}},
            {"while": True, "do": [{"print": "x"}]}]
    limit(await refused(client, await run(client, prog), 422, "limit-exceeded", "/program/1/do/0"),
          "max_printed_chars")


# ----- shapes, datatypes and tensor data ----------------------------------------------------------
async def test_negative_shape(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "x", "op": "zeros", "attrs": {"size": [2, -1]}}])
    body = await refused(client, r, 422, "argument-error", "/program/0")
    assert body["detail"] == "zeros: Dimension size must be non-negative."  # (torch 2.13's zeros)


async def test_negative_shape_in_a_tensor_object(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [-1], "datatype": "FP32", "data": []}}])
    await refused(client, r, 422, "invalid-program", "/program/0/print/shape/0")


async def test_negative_expand_size(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "expand", "args": [[1.0]], "attrs": {"size": [-5]}}}])
    body = await refused(client, r, 422, "shape-error", "/program/0/print")
    assert body["detail"] == "numel: integer multiplication overflow"  # (torch 2.13's words)


async def test_non_integer_shape(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "x", "op": "zeros", "attrs": {"size": [2.5]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/attrs/size/0")


async def test_non_integer_shape_in_a_tensor_object(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": ["2"], "datatype": "FP32", "data": [1, 2]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/print/shape/0")


async def test_more_dimensions_than_arrays_can_have(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "getitem", "args": [[1.0]],
                                      "attrs": {"index": [None] * 64}}}])
    assert "at most 64 dimensions" in (await refused(client, r, 422, "shape-error"))["detail"]


async def test_wrong_datatype_name(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [1], "datatype": "FP16", "data": [1.0]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/print/datatype")


async def test_wrong_dtype_name_in_attrs(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "x", "op": "zeros", "attrs": {"size": [1], "dtype": "half"}}])
    await refused(client, r, 422, "invalid-program", "/program/0/attrs/dtype")


async def test_data_shorter_than_its_shape(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}}])
    body = await refused(client, r, 422, "invalid-program", "/program/0/print/data")
    assert "needs 4 values, data has 3" in body["detail"]


async def test_data_longer_than_its_shape(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [1], "datatype": "INT64", "data": [1, 2]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/print/data")


async def test_base64_of_the_wrong_length(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [2], "datatype": "FP32", "b64": "AAAA"}}])
    body = await refused(client, r, 422, "invalid-program", "/program/0/print/b64")
    assert "12 base64 characters" in body["detail"]


async def test_base64_outside_its_alphabet(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [2], "datatype": "FP32", "b64": "AAAA!AA*AAA="}}])
    await refused(client, r, 422, "invalid-tensor", "/program/0/print/b64")


async def test_bool_bytes_other_than_0_and_1(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [3], "datatype": "BOOL", "b64": "AgAA"}}])
    await refused(client, r, 422, "invalid-tensor", "/program/0/print/b64")


async def test_ragged_array_literal(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "neg", "args": [[[1.0, 2.0], [3.0]]]}}])
    await refused(client, r, 422, "invalid-tensor", "/program/0/print/args/0/1")


# ----- numbers ------------------------------------------------------------------------------------
BIG = 2**63  # one past int64


async def test_integer_past_int64_as_a_scalar(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "add", "args": [[1.0], BIG]}}])
    body = await refused(client, r, 422, "invalid-program", "/program/0/print/args/1")
    assert body["detail"] == f"the integer {BIG} is outside the int64 range"


async def test_integer_past_int64_in_an_array_literal(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "neg", "args": [[1, -BIG - 1]]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/print/args/0/1")


async def test_integer_past_int64_in_int64_data(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"shape": [1], "datatype": "INT64", "data": [10**30]}}])
    body = await refused(client, r, 422, "invalid-program", "/program/0/print/data/0")
    assert "outside the int64 range" in body["detail"]


async def test_integer_past_int64_in_an_attr(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "x", "op": "zeros", "attrs": {"size": [BIG]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/attrs/size/0")


async def test_integer_of_five_thousand_digits(client: httpx.AsyncClient) -> None:
    r = await raw(client, '{"program": [{"print": ' + "9" * 5000 + "}]}")
    body = await refused(client, r, 400, "invalid-json", "")
    assert "too many digits" in body["detail"]


async def test_float_overflowing_in_the_json(client: httpx.AsyncClient) -> None:
    # 1e999 is a JSON number that no double holds: it reads as infinity, as Python's float() does
    r = await raw(client, '{"program": [{"name": "y", "op": "mul", "args": [[1.0], 1e999]}]}')
    assert (await answered(client, r))["tensors"]["y"]["data"] == ["Infinity"]


async def test_division_by_zero_is_answered(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "q", "op": "div", "args": [[1.0, 0.0, -1.0], 0.0]},
                           {"name": "i", "op": "div", "args": [[1, 0], 0]}])
    body = await answered(client, r)
    assert body["tensors"]["q"]["data"] == ["Infinity", "NaN", "-Infinity"]
    assert body["tensors"]["i"]["data"] == ["Infinity", "NaN"]


async def test_integer_floor_division_by_zero(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "q", "op": "div", "args": [[1, 2], 0],
                            "attrs": {"rounding_mode": "floor"}}])
    body = await refused(client, r, 422, "argument-error", "/program/0")
    assert body["detail"] == "ZeroDivisionError"  # torch's message


async def test_overflow_to_infinity_is_answered_with_its_gradient(
        client: httpx.AsyncClient) -> None:
    r = await run(client, [
        {"name": "x", "op": "tensor", "args": [[1000.0, 1.0]], "attrs": {"requires_grad": True}},
        {"name": "y", "op": "exp", "args": ["x"]},
        {"op": "backward", "args": [{"op": "sum", "args": ["y"]}]}])
    body = await answered(client, r)
    assert body["tensors"]["y"]["data"] == ["Infinity", 2.718282]
    assert body["tensors"]["x"]["grad"]["data"] == ["Infinity", 2.718282]


async def test_arange_to_infinity(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "a", "op": "arange", "attrs": {"start": 0, "end": "Infinity"}}])
    body = await refused(client, r, 422, "argument-error", "/program/0")
    assert body["detail"] == "unsupported range: 0 -> inf"


async def test_seed_past_uint64(client: httpx.AsyncClient) -> None:
    await refused(client, await run(client, [], seed=2**64), 422, "invalid-program", "/seed")


async def test_a_boolean_is_not_a_seed(client: httpx.AsyncClient) -> None:
    await refused(client, await run(client, [], seed=False), 422, "invalid-program", "/seed")


async def test_a_string_is_not_a_flag(client: httpx.AsyncClient) -> None:
    r = await run(client, [], detect_anomaly="yes")
    await refused(client, r, 422, "invalid-program", "/detect_anomaly")


async def test_a_float_is_not_a_loop_bound(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"while": False, "do": [], "max_iter": 2.0}])
    await refused(client, r, 422, "invalid-program", "/program/0/max_iter")


# ----- names, ops and attrs ----------------------------------------------------------------------
async def test_unknown_op(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "y", "op": "matmull", "args": [[[1.0]], [[1.0]]]}])
    body = await refused(client, r, 422, "unknown-op", "/program/0/op")
    assert "matmul" in body["suggestions"]


async def test_unknown_name(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": "nobody"}])
    assert (await refused(client, r, 422, "unknown-name", "/program/0/print"))["name"] == "nobody"


async def test_unknown_attr(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "x", "op": "zeros", "attrs": {"size": [1], "colour": "red"}}])
    await refused(client, r, 422, "invalid-program", "/program/0/attrs/colour")


async def test_unknown_statement_key(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"op": "zeros", "attrs": {"size": [1]}, "then": []}])
    await refused(client, r, 422, "invalid-program", "/program/0/then")


async def test_name_used_before_it_is_bound(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "y", "op": "add", "args": ["x", 1]}, X])
    body = await refused(client, r, 422, "unknown-name", "/program/0/args/0")
    assert body["detail"].startswith("name 'x' is not defined")


async def test_unicode_name(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "grädient", "op": "ones", "attrs": {"size": [1]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/name")


async def test_very_long_name(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "n" * 100_000, "op": "ones", "attrs": {"size": [1]}}])
    body = await refused(client, r, 422, "invalid-program", "/program/0/name")
    assert "at most 64 characters" in body["detail"]


async def test_lone_surrogate_in_a_name(client: httpx.AsyncClient) -> None:
    r = await raw(client, '{"program": [{"print": "x\\ud800"}]}')
    await refused(client, r, 422, "invalid-program", "/program/0/print")


async def test_nul_byte_in_a_name(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "x\x00", "op": "ones", "attrs": {"size": [1]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/name")


async def test_non_finite_spelling_as_a_name(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "NaN", "op": "ones", "attrs": {"size": [1]}}])
    await refused(client, r, 422, "invalid-program", "/program/0/name")


async def test_a_nested_call_cannot_bind_a_name(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "ones", "attrs": {"size": [1]}, "name": "sneaky"}}])
    await refused(client, r, 422, "invalid-program", "/program/0/print/name")


async def test_empty_program(client: httpx.AsyncClient) -> None:
    body = await answered(client, await run(client, []))
    assert (body["tensors"], body["values"], body["printed"]) == ({}, {}, [])


# ----- running --------------------------------------------------------------------------------
async def test_while_that_never_ends(client: httpx.AsyncClient) -> None:
    body = await refused(client, await run(client, [{"while": True, "do": []}]), 422,
                         "limit-exceeded", "/program/0")
    limit(body, "max_loop_iterations")


async def test_a_million_steps(client: httpx.AsyncClient) -> None:
    # two nested loops of 1,000 iterations each, within every loop limit: a finite program of
    # two million steps, which the step budget stops long before
    count = [{"name": "j", "op": "tensor", "args": [0]},
             {"while": {"op": "lt", "args": ["j", 1000]},
              "do": [{"name": "j", "op": "add", "args": ["j", 1]}]},
             {"name": "i", "op": "add", "args": ["i", 1]}]
    prog = [{"name": "i", "op": "tensor", "args": [0]},
            {"while": {"op": "lt", "args": ["i", 1000]}, "do": count}]
    body = await refused(client, await run(client, prog), 422, "limit-exceeded")
    limit(body, "max_steps")
    assert body["value"] == S.max_steps + 1 and body["pointer"].startswith("/program/1/do/1")


async def test_backward_twice(client: httpx.AsyncClient) -> None:
    prog = [X, {"name": "o", "op": "sum", "args": [{"op": "mul", "args": ["x", "x"]}]},
            {"op": "backward", "args": ["o"]}, {"op": "backward", "args": ["o"]}]
    body = await refused(client, await run(client, prog), 422, "autograd-error", "/program/3")
    assert body["detail"].startswith(engine_errors.FREED)


async def test_backward_on_an_integer_tensor(client: httpx.AsyncClient) -> None:
    prog = [{"name": "i", "op": "tensor", "args": [[1, 2]]},
            {"op": "backward", "args": [{"op": "sum", "args": ["i"]}]}]
    body = await refused(client, await run(client, prog), 422, "autograd-error", "/program/1")
    assert body["detail"].startswith("element 0 of tensors does not require grad and does not have a grad_fn")


async def test_requires_grad_on_an_integer_tensor(client: httpx.AsyncClient) -> None:
    prog = [{"name": "i", "op": "tensor", "args": [[1, 2]], "attrs": {"requires_grad": True}}]
    body = await refused(client, await run(client, prog), 422, "autograd-error", "/program/0")
    assert body["detail"].startswith(engine_errors.INT_REQUIRES_GRAD_CTOR)


async def test_matmul_shape_mismatch(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "matmul", "args": [[[1.0, 2.0]], [[1.0, 2.0]]]}}])
    body = await refused(client, r, 422, "shape-error", "/program/0/print")
    assert body["detail"] == "mat1 and mat2 shapes cannot be multiplied (1x2 and 1x2)"


async def test_condition_of_many_elements(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"if": [True, False], "then": []}])
    await refused(client, r, 422, "type-error", "/program/0/if")


async def test_unpacking_the_wrong_number_of_values(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": ["a", "b", "c"], "op": "max", "args": [[[1.0, 2.0]]],
                            "attrs": {"dim": 0}}])
    await refused(client, r, 422, "type-error", "/program/0/name")


async def test_bool_subtraction(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "sub", "args": [[True], True]}}])
    await refused(client, r, 422, "dtype-error", "/program/0/print")


async def test_singular_matrix(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "inverse", "args": [[[1.0, 2.0], [2.0, 4.0]]]}}])
    await refused(client, r, 422, "linalg-error", "/program/0/print")


async def test_index_out_of_range(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"print": {"op": "getitem", "args": [[1.0, 2.0]], "attrs": {"index": 5}}}])
    await refused(client, r, 422, "shape-error", "/program/0/print")


async def test_huge_diagonal_offset(client: httpx.AsyncClient) -> None:
    r = await run(client, [{"name": "d", "op": "diagonal", "args": [[[1.0]]],
                            "attrs": {"offset": BIG - 1}},
                           {"name": "t", "op": "tril", "args": [[[1.0]]], "attrs": {"diagonal": -BIG}}])
    body = await answered(client, r)
    assert body["tensors"]["d"]["shape"] == [0] and body["tensors"]["t"]["data"] == [0.0]


# ----- HTTP ---------------------------------------------------------------------------------------
async def test_unknown_path(client: httpx.AsyncClient) -> None:
    await refused(client, await client.get("/v1/../../etc/passwd"), 404, "not-found")


async def test_wrong_method(client: httpx.AsyncClient) -> None:
    await refused(client, await client.delete("/v1/run"), 405, "method-not-allowed")


async def test_garbage_query_string_is_ignored(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/run?%ff%00=%zz&a[]=1", json={"program": [{"print": 1}]})
    assert (await answered(client, r))["printed"] == ["1"]


# ----- helpers: bodies the HTTP client would not send -------------------------------------------
async def asgi_post(app: FastAPI, headers: list[tuple[bytes, bytes]],
                    receive: Callable[[], Awaitable[dict[str, Any]]]) -> tuple[int, dict[str, Any]]:
    """POST /v1/run straight into the ASGI app with ``receive`` as the body."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/run", "raw_path": b"/v1/run", "root_path": "",
             "query_string": b"", "server": ("gradserve", 80), "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"gradserve"), (b"content-type", b"application/json"),
                         *headers]}
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)


def _split(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port
    return parts.hostname, parts.port


def _read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, json.loads(rest[:length])


def raw_exchange(url: str, payload: bytes) -> tuple[int, dict[str, Any]]:
    """Send ``payload`` on a fresh connection and read one response (30 s bound)."""
    with socket.create_connection(_split(url), timeout=30) as sock:
        sock.sendall(payload)
        return _read_response(sock)


def chunked_upload(url: str, chunk: int, total: int) -> tuple[int, dict[str, Any], int] | None:
    """Upload up to ``total`` bytes chunked, stopping as soon as the server answers (or closes);
    the status, the problem and how many body bytes were sent. None if the connection was reset
    before the answer could be read: the server closes it with the rest of the body unread, and
    the kernel's reset may overtake the answer (conftest.load says more)."""
    with socket.create_connection(_split(url), timeout=30) as sock:
        sock.sendall(b"POST /v1/run HTTP/1.1\r\nHost: gradserve\r\nContent-Type: application/json"
                     b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        frame = f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n"
        sent = 0
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += chunk
        try:
            status, body = _read_response(sock)
        except ConnectionResetError:
            return None
        return status, body, sent

