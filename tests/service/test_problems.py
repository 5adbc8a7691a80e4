"""service/problems.py: every error class becomes its own RFC 9457 problem type, with a pointer;
autograd misuse carries torch's message verbatim."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import engine as ge
from engine import errors as engine_errors
from service.problems import PROBLEM_KINDS
from service.signatures import SIGNATURES
from tests.service.helpers import post, problem

pytestmark = pytest.mark.anyio

X = {"name": "x", "op": "ones", "attrs": {"size": [2, 2], "requires_grad": True}}


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/run", content=b'{"program": [', headers={
        "content-type": "application/json"})
    problem(r, "invalid-json", 400, "")


async def test_a_body_not_sent_as_json_is_415(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/run", content=b'{"program": []}',
                          headers={"content-type": "text/plain"})
    problem(r, "unsupported-media-type", 415)


async def test_a_missing_body(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/run", headers={"content-type": "application/json"})
    assert problem(r, "invalid-program", 422, "")["detail"] == "the request needs a JSON body"


async def test_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    problem(await client.get("/v2/run"), "not-found", 404)
    problem(await client.get("/v1/run"), "method-not-allowed", 405)


@pytest.mark.parametrize(("program", "detail"), [
    ([X, {"name": "o", "op": "sum", "args": [{"op": "mul", "args": ["x", "x"]}]},
      {"op": "backward", "args": ["o"]}, {"op": "backward", "args": ["o"]}], engine_errors.FREED),
    ([X, {"op": "backward", "args": [{"op": "mul", "args": ["x", 2]}]}],
     engine_errors.IMPLICIT_SCALAR),
    ([X, {"op": "requires_grad_", "args": [{"op": "mul", "args": ["x", 2]}],
          "attrs": {"requires_grad": False}}], engine_errors.NON_LEAF_FLAG),
    ([{"name": "i", "op": "tensor", "args": [[1, 2]], "attrs": {"requires_grad": True}}],
     engine_errors.INT_REQUIRES_GRAD_CTOR),
    ([{"name": "i", "op": "tensor", "args": [[1.0]]}, {"op": "retain_grad", "args": ["i"]}],
     "can't retain_grad on Tensor that has requires_grad=False"),
])
async def test_autograd_misuse_carries_torchs_message(client: httpx.AsyncClient,
                                                      program: list[Any], detail: str) -> None:
    body = problem(await post(client, program), "autograd-error", 422,
                   f"/program/{len(program) - 1}")
    # torch's message first and whole; a hint may follow (service/hints.py)
    assert body["detail"] == detail or body["detail"].startswith(detail.rstrip(".") + ". ")


async def test_shape_dtype_and_argument_errors(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"print": {"op": "add", "args": [[1.0, 2.0], [1.0, 2.0, 3.0]]}}])
    body = problem(r, "shape-error", 422, "/program/0/print")
    assert body["detail"] == ("The size of tensor a (2) must match the size of tensor b (3) at "
                              "non-singleton dimension 0")
    r = await post(client, [{"print": {"op": "mean", "args": [[1, 2]]}}])
    assert "Got: Long" in problem(r, "dtype-error", 422, "/program/0/print")["detail"]
    r = await post(client, [{"name": "a", "op": "arange", "attrs": {"start": 0, "end": 3,
                                                                     "step": 0}}])
    problem(r, "argument-error", 422, "/program/0")


def test_every_engine_error_class_has_a_problem_title() -> None:
    classes, stack = [], [ge.EngineError]
    while stack:
        cls = stack.pop()
        classes.append(cls)
        stack.extend(cls.__subclasses__())
    assert {c.kind for c in classes} <= set(PROBLEM_KINDS)


async def test_linalg_errors(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"print": {"op": "inverse", "args": [[[1.0, 2.0], [2.0, 4.0]]]}}])
    assert problem(r, "linalg-error", 422, "/program/0/print")["detail"].startswith("linalg.inv")


async def test_undecodable_tensor_data_points_inside_the_literal(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"print": {"op": "neg", "args": [[[1.0, 2.0], [3.0]]]}}])
    body = problem(r, "invalid-tensor", 422, "/program/0/print/args/0/1")
    assert body["detail"] == "expected sequence of length 2 at dim 1 (got 1)"


async def test_detect_anomaly_names_the_step_that_made_the_nan(client: httpx.AsyncClient) -> None:
    program = [{"name": "x", "op": "tensor", "args": [[0.0]], "attrs": {"requires_grad": True}},
               {"name": "y", "op": "sqrt", "args": ["x"]},
               {"op": "backward", "args": [{"op": "sum", "args": [{"op": "mul", "args": ["y", 0.0]}]}]}]
    body = problem(await post(client, program, detect_anomaly=True), "anomaly", 422, "/program/2")
    assert body["detail"] == "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert body["report"]["step"] == "/program/1"
    # without detect_anomaly the same program runs, and the gradient is NaN
    assert (await post(client, program)).json()["tensors"]["x"]["grad"]["data"] == ["NaN"]


async def test_a_failed_program_reports_what_it_printed(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"print": 1}, {"print": "nope"}])
    assert problem(r, "unknown-name", 422, "/program/1/print")["printed"] == ["1"]


async def test_a_bug_is_a_500_that_says_where(make_client: Callable[..., Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(values: list[Any], attrs: dict[str, Any]) -> Any:
        raise ZeroDivisionError("secret internals")

    # (direct=None: the interpreter then calls ``call``, not the engine function itself)
    monkeypatch.setitem(SIGNATURES, "numel",
                        dataclasses.replace(SIGNATURES["numel"], call=boom, direct=None))
    async with make_client() as c:
        r = await post(c, [{"print": 1}, {"print": {"op": "numel", "args": [[1.0]]}}])
    problem(r, "internal-error", 500, "/program/1/print")
    assert "secret" not in r.text  # no internals leak


async def test_json_too_deep_to_parse_is_the_nesting_limit(client: httpx.AsyncClient) -> None:
    # measured before parsing (service/jsonbody.py): no parser recursion, the limit named
    text = '{"program": [' + "[" * 5000 + "]" * 5000 + "]}"
    r = await client.post("/v1/run", content=text, headers={"content-type": "application/json"})
    body = problem(r, "limit-exceeded", 422, "")
    assert body["limit"] == "max_nesting_depth" and body["value"] == 5002
