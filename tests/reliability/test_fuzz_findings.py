"""Regressions: each request here once made the server answer 500 (or accept what the contract
refuses). They were found by the fuzzers of this suite (schemathesis from the contract, a sweep of
every registry op over edge-case tensors) and are kept as plain tests so that they stay fixed
whatever the fuzzers generate next."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.service.helpers import problem

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

EMPTY = {"shape": [0], "datatype": "FP32", "data": []}


async def run(client: httpx.AsyncClient, program: list[Any], **fields: Any) -> httpx.Response:
    return await client.post("/v1/run", json={"program": program, **fields})


@pytest.mark.parametrize(("program", "kind", "detail"), [
    ([{"name": "a", "op": "arange", "attrs": {"start": "-Infinity"}}], "argument-error",
     "unsupported range: 0 -> -inf"),
    ([{"name": "a", "op": "arange", "attrs": {"start": 0, "end": 10, "step": "NaN"}}],
     "argument-error", "step must be nonzero"),
    ([{"name": "i", "op": "argmax", "args": [EMPTY]}], "shape-error",
     "argmax(): Expected reduction dim to be specified for input.numel() == 0."),
    ([{"name": "i", "op": "argmin", "args": [{"shape": [2, 0], "datatype": "FP32", "data": []}],
       "attrs": {"dim": 1}}], "shape-error", "argmin(): Expected reduction dim 1 to have non-zero size."),
    ([{"name": "e", "op": "expand", "args": [[1.0]], "attrs": {"size": [-3]}}], "shape-error",
     "numel: integer multiplication overflow"),
    ([{"name": "s", "op": "sub", "args": [[True], True]}], "dtype-error",
     "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
     "`logical_xor()` operator instead."),
    ([{"name": "s", "op": "rsub", "args": [[True], [False]]}], "dtype-error",
     "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
     "`logical_xor()` operator instead."),
    ([{"name": "n", "op": "neg", "args": [[True]]}], "dtype-error",
     "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a "
     "mask, use the `~` or `logical_not()` operator instead."),
    ([{"name": "u", "op": "unsqueeze", "args": [{"op": "ones", "attrs": {"size": [1] * 64}}],
       "attrs": {"dim": 0}}], "shape-error",
     "unsqueeze(): a tensor can have at most 64 dimensions, not 65"),
    ([{"name": "w", "op": "where", "args": [{"op": "tensor", "args": [True]}, EMPTY, [1.0, 2.0]]}],
     "shape-error",
     "The size of tensor a (0) must match the size of tensor b (2) at non-singleton dimension 0"),
    ([{"name": "c", "op": "cross_entropy", "args": [{"op": "tensor", "args": [2.0]},
                                                    {"op": "tensor", "args": [2.0]}]}],
     "shape-error", "Dimension specified as 1 but tensor has no dimensions"),
    ([{"name": "s", "op": "scatter_add", "args": [[[1.0, 2.0]], [[0, 0]], [1.0, 2.0]],
       "attrs": {"dim": 0}}], "shape-error",
     "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    ([{"name": "e", "op": "eye", "attrs": {"n": 34409630518797208}}], "shape-error",
     "numel: integer multiplication overflow"),  # (torch's check, before any limit)
])
async def test_once_a_500_now_a_problem(client: httpx.AsyncClient, program: list[Any], kind: str,
                                        detail: str | None) -> None:
    body = problem(await run(client, program), kind, 422, "/program/0")
    if detail is not None:
        assert body["detail"] == detail


@pytest.mark.parametrize(("program", "expected"), [
    ([{"name": "y", "op": "softmax", "args": [EMPTY], "attrs": {"dim": 0}}], {"shape": [0]}),
    ([{"name": "y", "op": "log_softmax", "args": [EMPTY], "attrs": {"dim": 0}}], {"shape": [0]}),
    ([{"name": "y", "op": "sign", "args": [[True, False]]}], {"data": [True, False]}),
    ([{"name": "y", "op": "tril", "args": [[[1.0, 2.0], [3.0, 4.0]]],
       "attrs": {"diagonal": 2**63 - 1}}], {"data": [1.0, 2.0, 3.0, 4.0]}),
    ([{"name": "y", "op": "triu", "args": [[[1.0, 2.0], [3.0, 4.0]]],
       "attrs": {"diagonal": -(2**63)}}], {"data": [1.0, 2.0, 3.0, 4.0]}),
    ([{"name": "y", "op": "diagonal", "args": [[[1.0, 2.0], [3.0, 4.0]]],
       "attrs": {"offset": -(2**63)}}], {"shape": [0]}),
])
async def test_once_a_500_now_answered(client: httpx.AsyncClient, program: list[Any],
                                       expected: dict[str, Any]) -> None:
    r = await run(client, program)
    assert r.status_code == 200, r.text
    y = r.json()["tensors"]["y"]
    assert {k: y[k] for k in expected} == expected


async def test_the_request_scalars_are_strict(client: httpx.AsyncClient) -> None:
    # schemathesis: "seed": false was accepted as 0, though the contract says integer
    problem(await run(client, [], seed=False), "invalid-program", 422, "/seed")
    problem(await run(client, [], detect_anomaly=1), "invalid-program", 422, "/detect_anomaly")


async def test_the_contract_documents_the_answers(client: httpx.AsyncClient) -> None:
    # schemathesis: every 200 was documented as {"type": "string"} (the response class was not a
    # JSONResponse, so FastAPI left the response models out of the document)
    doc = (await client.get("/openapi.json")).json()
    ok = doc["paths"]["/v1/run"]["post"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/RunResponse"}
