"""In-place ops, views, setitem and .grad over HTTP: a 50-step SGD loop written the torch way
against torch's golden (tests/golden/sgd_loop.json, scripts/goldens_sgd.py), names seeing the
mutation of the tensor they are bound to, and every misuse as a 422 problem with torch's message
and the pointer of its statement."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

from tests.service.helpers import ROOT, call, let, ok, post, printed, problem

pytestmark = pytest.mark.anyio

SGD = json.loads((ROOT / "tests" / "golden" / "sgd_loop.json").read_text())
LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."


def _sgd_program() -> list[Any]:
    """The loop of scripts/goldens_sgd.py, statement for statement."""
    lr = SGD["lr"]
    return [
        let("x", "tensor", SGD["x"]),
        let("y", "tensor", SGD["y"]),
        let("w", "tensor", SGD["w0"], requires_grad=True),
        let("b", "tensor", 0.0, requires_grad=True),
        let("i", "tensor", 0),
        {"while": call("lt", "i", SGD["steps"]), "do": [
            let("loss", "mean", call("pow", call("sub", call("add", call("matmul", "x", "w"), "b"),
                                                  "y"), 2)),
            {"print": "loss"},
            call("backward", "loss"),
            {"no_grad": [
                call("sub_", "w", call("mul", call("grad", "w"), lr)),
                let("b", "sub_", "b", call("grad", "b"), alpha=lr),
            ]},
            call("zero_", call("grad", "w")),
            call("zero_grad", ["b"], set_to_none=False),
            call("add_", "i", 1),
        ]},
        {"print": "w"}, {"print": "b"}, {"print": call("grad", "w")}, {"print": "i"},
    ]


async def test_sgd_loop_the_torch_way_matches_torch(client: httpx.AsyncClient) -> None:
    body = await ok(client, _sgd_program(), outputs=["w", "b"])
    assert body["printed"] == SGD["printed"]
    w, b = body["tensors"]["w"], body["tensors"]["b"]
    np.testing.assert_allclose(w["data"], SGD["w"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b["data"], [SGD["b"]], rtol=1e-5, atol=1e-6)
    assert w["is_leaf"] and w["requires_grad"] and w["grad_fn"] is None  # still the same leaf
    assert w["grad"]["data"] == [0.0, 0.0, 0.0]


async def test_every_name_sees_the_mutation(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [
        let("a", "zeros", size=[2, 3]),
        let("alias", "add_", "a", 1),          # the same tensor, under a second name
        let("row", "getitem", "a", index=1),   # a view
        call("mul_", "row", 5),
        {"setitem": ["a", [0, {"start": 1}], 7.0]},
        {"print": "alias"},
        {"setitem": ["a", [[False, True]], -1.0]},
        {"print": "a"}, {"print": "row"},
    ])
    assert lines == ["tensor([[1., 7., 7.],\n        [5., 5., 5.]])",
                     "tensor([[ 1.,  7.,  7.],\n        [-1., -1., -1.]])", "tensor([-1., -1., -1.])"]


async def test_setitem_records_copyslices_and_index_put(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        let("x", "ones", size=[3], requires_grad=True),
        let("y", "mul", "x", 2),
        {"setitem": ["y", 0, 5.0]},
        let("z", "mul", "x", 2),
        let("idx", "tensor", [0, 2]),
        {"setitem": ["z", ["idx"], call("mul", call("getitem", "x", index=["idx"]), 3)]},
        call("backward", call("add", call("sum", "y"), call("sum", "z"))),
    ], outputs=["y", "z", "x"])
    graph = body["graph"]
    assert graph[body["tensors"]["y"]["grad_fn"]]["name"] == "CopySlices"
    assert graph[body["tensors"]["z"]["grad_fn"]]["name"] == "IndexPutBackward0"
    assert body["tensors"]["y"]["data"] == [5.0, 2.0, 2.0]
    assert body["tensors"]["x"]["grad"]["data"] == [3.0, 4.0, 5.0]


async def test_version_and_views_are_visible(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        let("a", "zeros", size=[3]),
        let("v", "getitem", "a", index={"start": 1}),
        let("d", "detach", "a"),
        call("add_", "v", 1),
        call("mul_", "d", 2),
        let("va", "version", "a"), let("vv", "version", "v"), let("vd", "version", "d"),
        let("view", "is_view", "v"),
        let("not_view", "is_view", "d"),
    ], outputs=["va", "vv", "vd", "view", "not_view", "a"])
    assert body["values"] == {"va": 2, "vv": 2, "vd": 2, "view": True, "not_view": False}
    assert body["tensors"]["a"]["data"] == [0.0, 2.0, 2.0]


async def test_set_grad_then_backward_accumulates(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [
        let("x", "ones", size=[2], requires_grad=True),
        {"set_grad": ["x", call("full", size=[2], fill_value=7.0)]},
        call("backward", call("sum", call("mul", "x", "x"))),
        {"print": call("grad", "x")},
        {"set_grad": ["x", None]},
        {"print": call("grad", "x")},
    ])
    assert lines == ["tensor([9., 9.])", "None"]


async def test_catalog_marks_inplace_ops(client: httpx.AsyncClient) -> None:
    ops = {o["name"]: o for o in (await client.get("/v1/ops")).json()["ops"]}
    assert ops["sub_"]["inplace"] is True and ops["setitem"]["inplace"] is True
    assert ops["sub"]["inplace"] is False


def _exp_add(add: str = "add_") -> list[Any]:
    return [let("x", "ones", size=[2], requires_grad=True), let("y", "exp", "x"),
            call(add, "y", 1), call("backward", call("sum", "y"))]


ERRORS = {
    "leaf": ([let("w", "ones", size=[3], requires_grad=True), call("add_", "w", 1)],
             "autograd-error", "/program/1", LEAF),
    "view_of_leaf": ([let("w", "ones", size=[3], requires_grad=True),
                      {"setitem": ["w", 0, 5.0]}], "autograd-error", "/program/1", VIEW_OF_LEAF),
    "view_of_leaf_t": ([let("w", "ones", size=[2, 2], requires_grad=True),
                        call("add_", call("t", "w"), 1)], "autograd-error", "/program/1",
                       VIEW_OF_LEAF),
    "saved_output_modified": (_exp_add(), "autograd-error", "/program/3",
                              "one of the variables needed for gradient computation has been "
                              "modified by an inplace operation: [torch.FloatTensor [2]], which is "
                              "output 0 of Exp, is at version 1; expected version 0 instead. Hint:"),
    "int_add_float": ([let("i", "zeros", size=[3], dtype="int64"), call("add_", "i", 1.5)],
                      "argument-error", "/program/1",
                      "result type Float can't be cast to the desired output type Long"),
    "broadcast": ([let("f", "ones", size=[3]), call("add_", "f", call("ones", size=[2, 3]))],
                  "shape-error", "/program/1",
                  "output with shape [3] doesn't match the broadcast shape [2, 3]"),
    "split_view": ([let("x", "ones", size=[4], requires_grad=True),
                    let(["a", "b"], "split", call("mul", "x", 1), split_size_or_sections=2),
                    call("mul_", "a", 2)],
                   "autograd-error", "/program/2", "Output 0 of Split is a view and is being "
                   "modified inplace."),
    "expand_overlap": ([let("e", "expand", call("ones", size=[2, 1]), size=[2, 3]),
                        call("add_", "e", 1)], "shape-error", "/program/1",
                       "unsupported operation: more than one element of the written-to tensor "
                       "refers to a single memory location."),
    "setitem_shape": ([let("z", "ones", size=[2, 3]),
                       {"setitem": ["z", [[0, 1]], call("ones", size=[3, 3])]}], "shape-error",
                      "/program/1", "shape mismatch: value tensor of shape [3, 3] cannot be "
                      "broadcast to indexing result of shape [2, 3]"),
    "grad_wrong_size": ([let("x", "ones", size=[2], requires_grad=True),
                         {"set_grad": ["x", call("zeros", size=[3])]}], "shape-error", "/program/1",
                        "attempting to assign a gradient of size '[3]' to a tensor of size '[2]'."),
    "grad_not_tensor": ([let("x", "ones", size=[2], requires_grad=True), {"set_grad": ["x", 3]}],
                        "type-error", "/program/1/set_grad/1",
                        "assigned grad expected to be a Tensor or None but got grad of type int"),
    "setitem_unknown_index_name": ([let("z", "ones", size=[3]), {"setitem": ["z", ["m"], 0.0]}],
                                   "unknown-name", "/program/1/setitem/1/0",
                                   "name 'm' is not defined"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
async def test_misuse_is_a_problem_with_torchs_message(client: httpx.AsyncClient, case: str
                                                       ) -> None:
    program, kind, where, message = ERRORS[case]
    body = problem(await post(client, program), kind, 422, where)
    assert body["detail"].startswith(message), body["detail"]


async def test_bad_statement_shapes_are_validation_problems(client: httpx.AsyncClient) -> None:
    r = await post(client, [let("z", "ones", size=[3]), {"setitem": ["z", 0]}])
    assert r.status_code == 422 and "/program/1/setitem" in r.text
    r = await post(client, [let("z", "ones", size=[3]), {"set_grad": ["z"]}])
    assert r.status_code == 422 and "/program/1/set_grad" in r.text
