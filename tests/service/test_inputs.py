"""The ``inputs`` member: tensors bound to names before the program runs (JSON programs and
PyTorch source), and its problems, each pointing into /inputs."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from tests.service.helpers import call, let, ok, post, problem

pytestmark = pytest.mark.anyio

# f(x) = sum(x * x) and its gradient: what an optimiser asks for at each point
SQUARES = [let("y", "mul", "x", "x"), let("f", "sum", "y"), call("backward", "f")]


def fp32(*values: float, requires_grad: bool = False) -> dict[str, Any]:
    return {"shape": [len(values)], "datatype": "FP32", "data": list(values),
            "requires_grad": requires_grad}


async def test_an_input_is_bound_before_the_program_runs(client: httpx.AsyncClient) -> None:
    body = await ok(client, SQUARES, inputs={"x": fp32(1.0, -2.0, requires_grad=True)},
                    outputs=["x", "f"])
    x = body["tensors"]["x"]
    assert x["data"] == [1.0, -2.0] and x["is_leaf"] and x["requires_grad"]
    assert x["grad"]["data"] == [2.0, -4.0]
    assert body["tensors"]["f"]["data"] == [5.0]
    # the leaf is the name's, as if the program had made it
    leaf = next(n for n in body["graph"].values() if n["name"] == "AccumulateGrad")
    assert leaf["variable"] == "x"


async def test_an_input_answers_as_the_same_tensor_made_in_the_program(
        client: httpx.AsyncClient) -> None:
    made = [let("x", "tensor", [[1.5, 2.0], [3.0, 4.0]], requires_grad=True), *SQUARES]
    given = {"x": {"shape": [2, 2], "datatype": "FP32", "data": [1.5, 2.0, 3.0, 4.0],
                   "requires_grad": True}}
    a = await ok(client, made, outputs=["x", "f"])
    b = await ok(client, SQUARES, inputs=given, outputs=["x", "f"])
    for body in (a, b):
        del body["stats"]
    assert a == b


async def test_inputs_take_every_tensor_encoding(client: httpx.AsyncClient) -> None:
    raw = struct.pack("<3d", 0.5, 1.0, 2.0)
    inputs = {
        "a": [[1, 2], [3, 4]],  # an array literal: int64, as torch.tensor makes it
        "b": {"shape": [3], "datatype": "FP64", "b64": base64.b64encode(raw).decode()},
        "c": {"shape": [2], "datatype": "FP32", "data": ["NaN", "-Infinity"]},
        "d": [True, False],
    }
    program = [{"print": {"values": ["a", "b", "c", "d"]}}]
    body = await ok(client, program, inputs=inputs, outputs=["a", "b"])
    assert body["printed"] == ["tensor([[1, 2],\n        [3, 4]]) tensor([0.5000, 1.0000, "
                               "2.0000], dtype=torch.float64) tensor([nan, -inf]) "
                               "tensor([ True, False])"]
    assert body["tensors"]["a"]["datatype"] == "INT64"
    assert body["tensors"]["b"]["data"] == [0.5, 1.0, 2.0]


async def test_the_names_an_input_may_give_are_the_programs_free_names(
        client: httpx.AsyncClient) -> None:
    # read as an argument, inside an array of tensors, inside an index and a setitem index;
    # "i" is bound by the for loop, "z" by a statement: neither is free
    program = [
        let("z", "cat", ["a", "b"]),
        let("w", "getitem", "z", index=["mask"]),
        {"setitem": ["z", ["k"], 0.0]},
        {"for": "i", "in": call("py.call", 2, function="range"), "do": [{"print": "i"}]},
        {"print": "w"},
    ]
    inputs = {"a": [1.0, 2.0], "b": [3.0], "mask": [True, False, True], "k": [0]}
    body = await ok(client, program, inputs=inputs, outputs=["z", "w"])
    assert body["printed"] == ["0", "1", "tensor([1., 3.])"]
    assert body["tensors"]["z"]["data"] == [0.0, 2.0, 3.0]
    for bound in ("i", "z"):
        r = await post(client, program, inputs={**inputs, bound: [1.0]})
        assert problem(r, "invalid-program", 422, f"/inputs/{bound}")["name"] == bound


async def test_an_input_the_program_does_not_read(client: httpx.AsyncClient) -> None:
    r = await post(client, SQUARES, inputs={"x": [1.0], "xs": [2.0]})
    body = problem(r, "invalid-program", 422, "/inputs/xs")
    assert body["detail"] == ("the program has no input named 'xs': an input gives a name the "
                              "program reads and never assigns (this program's: 'x')")


async def test_a_missing_input(client: httpx.AsyncClient) -> None:
    r = await post(client, SQUARES, inputs={})
    body = problem(r, "unknown-name", 422, "/inputs")
    assert body["name"] == "x"
    assert body["detail"] == ("inputs does not give 'x', which the program reads (at "
                              "/program/0/args/0) and never assigns")
    # without inputs, a program reading an unbound name fails where it reads it, as before
    r = await post(client, SQUARES)
    assert problem(r, "unknown-name", 422, "/program/0/args/0")["name"] == "x"


@pytest.mark.parametrize(("given", "where", "fragment"), [
    ({"shape": [3], "datatype": "FP32", "data": [1.0, 2.0]}, "/inputs/x/data",
     "shape [3] needs 3 values, data has 2"),
    ({"shape": [2], "datatype": "FP16x", "data": [1.0, 2.0]}, "/inputs/x/datatype", ""),
    ({"shape": [2], "datatype": "INT64", "data": [1.5, 2.0]}, "/inputs/x/data", "float"),
    ({"shape": [1], "datatype": "FP32", "b64": "AAAA"}, "/inputs/x/b64", "base64 characters"),
    ({"shape": [1], "datatype": "FP32", "data": [1.0], "b64": "AACAPw=="}, "/inputs/x",
     "exactly one of data and b64"),
    ({"shape": [1], "datatype": "FP32", "data": [1.0], "grad": True}, "/inputs/x/grad", ""),
    ([1.0, "y"], "/inputs/x/1", ""),  # an input's array holds numbers, never names
    ("y", "/inputs/x", "an input is an array literal of numbers or a tensor object"),
])
async def test_an_input_that_is_no_tensor(client: httpx.AsyncClient, given: Any, where: str,
                                          fragment: str) -> None:
    body = problem(await post(client, SQUARES, inputs={"x": given}), "invalid-program", 422,
                   where)
    assert fragment in body["detail"]


async def test_an_input_that_cannot_require_grad(client: httpx.AsyncClient) -> None:
    given = {"shape": [2], "datatype": "INT64", "data": [1, 2], "requires_grad": True}
    body = problem(await post(client, SQUARES, inputs={"x": given}), "autograd-error", 422,
                   "/inputs/x/requires_grad")
    assert body["detail"].startswith("only Tensors of floating point dtype can require "
                                     "gradients")


async def test_an_input_of_a_wrong_shape_fails_where_the_program_uses_it(
        client: httpx.AsyncClient) -> None:
    program = [let("y", "matmul", "x", "w")]
    r = await post(client, program, inputs={"x": [[1.0, 2.0]], "w": [[1.0, 2.0]]})
    body = problem(r, "shape-error", 422, "/program/0")
    assert "cannot be multiplied" in body["detail"]


async def test_an_oversized_input_is_refused_before_it_is_allocated(
        make_client: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]) -> None:
    async with make_client(max_tensor_elements=4) as c:
        r = await post(c, SQUARES, inputs={"x": fp32(*range(5))})
        body = problem(r, "limit-exceeded", 422, "/inputs/x")
        assert body["limit"] == "max_tensor_elements" and body["value"] == 5
        r = await post(c, SQUARES, inputs={"x": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]})
        assert problem(r, "limit-exceeded", 422, "/inputs/x")["value"] == 6
        # a huge shape with a b64 that does not match it: refused by arithmetic alone
        r = await post(c, SQUARES, inputs={"x": {"shape": [1 << 40], "datatype": "FP32",
                                                   "b64": ""}})
        problem(r, "invalid-program", 422, "/inputs/x/b64")
        r = await post(c, SQUARES, inputs={"x": fp32(1.0, 2.0, requires_grad=True)})
        assert r.status_code == 200


# ----- source ------------------------------------------------------------------------------------
SOURCE = "import torch\nf = (x * x).sum()\nf.backward()\nprint(x.grad)\n"


async def test_a_source_reads_an_input_as_a_tensor(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/run", json={
        "source": SOURCE, "inputs": {"x": fp32(1.0, 3.0, requires_grad=True)},
        "outputs": ["x", "f"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["printed"] == ["tensor([2., 6.])"]
    assert body["tensors"]["f"]["data"] == [10.0]
    # a method and an operator on the input are the tensor's (x.sum() is the op sum)
    r = await client.post("/v1/run", json={"source": "s = x.sum() * 2\n",
                                           "inputs": {"x": [1.0, 2.0]}})
    assert r.status_code == 200, r.text
    assert r.json()["tensors"]["s"]["data"] == [6.0]


async def test_a_source_input_problem(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/run", json={"source": SOURCE, "inputs": {"x": [1.0], "w": [1.0]}})
    problem(r, "invalid-program", 422, "/inputs/w")
    # a name the source assigns is no input
    r = await client.post("/v1/run", json={"source": "import torch\nx = torch.ones(2)\nprint(x)\n",
                                           "inputs": {"x": [1.0]}})
    problem(r, "invalid-program", 422, "/inputs/x")
    # a name neither assigned nor given: the source's own problem, at its line
    r = await client.post("/v1/run", json={"source": SOURCE, "inputs": {}})
    body = problem(r, "unknown-name", 422, "/source")
    assert body["location"]["line"] == 2 and body["name"] == "x"
