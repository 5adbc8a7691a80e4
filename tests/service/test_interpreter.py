"""service/interpreter.py and service/answer.py over HTTP: statements, names, control flow, grad
mode, accessors, autograd calls, and the answer's tensors, values and graph."""

from __future__ import annotations

import httpx
import pytest

from tests.service.helpers import call, let, ok, post, printed, problem

pytestmark = pytest.mark.anyio

X = {"name": "x", "op": "ones", "attrs": {"size": [2, 2], "requires_grad": True}}



async def test_the_issue_sketch_runs(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        X,
        {"print": "x"},
        let("y", "add", "x", 2),
        {"print": call("grad_fn", "y")},
        let("out", "mean", call("mul", call("mul", "y", "y"), 3)),
        call("backward", "out"),
        {"name": "v", "op": "randn", "attrs": {"size": [3], "requires_grad": True}},
        let("w", "mul", "v", 2),
        {"while": call("lt", call("norm", call("data", "w")), 1000), "do": [let("w", "mul", "w", 2)]},
        call("backward", "w", [0.1, 1.0, 0.0001]),
        {"no_grad": [{"print": call("requires_grad", call("pow", "v", 2))}]},
    ], seed=0, outputs=["x", "out", "v"])
    assert list(body["tensors"]) == ["x", "out", "v"]
    assert body["printed"][1:] == ["<AddBackward0 object>", "False"]
    assert body["tensors"]["x"]["grad"]["data"] == [4.5] * 4
    assert body["stats"]["loop_iterations"] >= 1


async def test_rebinding_and_default_outputs(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        let("y", "tensor", [1.0, 2.0]), let("y", "mul", "y", 2), let("n", "numel", "y"),
        let("s", "shape", "y"), let("d", "dtype", "y"), let("f", "item", call("sum", "y")),
    ])
    assert list(body["tensors"]) == ["y"]
    assert body["tensors"]["y"]["data"] == [2.0, 4.0]
    assert body["values"] == {"n": 2, "s": [2], "d": "torch.float32", "f": 6.0}


async def test_if_else_and_while_with_data_dependent_conditions(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [
        let("i", "tensor", 0),
        {"while": call("lt", "i", 3), "do": [let("i", "add", "i", 1), {"print": "i"}]},
        {"if": call("eq", "i", 3), "then": [{"print": True}], "else": [{"print": False}]},
        {"if": False, "then": [{"print": 1}]},
        {"if": call("gt", "i", 5), "then": [{"print": "no"}], "else": [{"print": 0.5}]},
    ])
    assert lines == ["tensor(1)", "tensor(2)", "tensor(3)", "True", "0.5"]


async def test_grad_mode_blocks_nest_and_end(client: httpx.AsyncClient) -> None:
    rg = call("requires_grad", call("mul", "x", 2))
    lines = await printed(client, [
        X,
        {"no_grad": [{"print": rg}, {"enable_grad": [{"print": rg}]}, {"print": rg}]},
        {"print": rg},
    ])
    assert lines == ["False", "True", "False", "True"]


async def test_print_several_values_and_python_values(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [
        X, let("y", "mul", "x", 3),
        {"print": {"values": ["x", 1, 2.5, True, None, "NaN", call("shape", "x")]}},
        {"print": call("next_functions", call("grad_fn", "y"))},
        {"print": call("is_leaf", "y")},
        {"print": call("dtype", call("to", "x", dtype="float64"))},
    ])
    assert lines[0].endswith(" 1 2.5 True None nan torch.Size([2, 2])")
    assert lines[1] == "((<AccumulateGrad object>, 0), (None, 0))"
    assert lines[2:] == ["False", "torch.float64"]


async def test_tuple_results_unpack_into_names(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        let("m", "tensor", [[1.0, 5.0], [3.0, 2.0]], requires_grad=True),
        let(["values", "indices"], "max", "m", dim=0),
        let("r", "max", "m", dim=1),
        {"print": "r"},
        call("backward", call("sum", "values")),
        let(["g"], "autograd.grad", call("sum", call("mul", "m", "m")), ["m"]),
    ], outputs=["values", "indices", "m", "g"])
    t = body["tensors"]
    assert t["values"]["data"] == [3.0, 5.0] and t["indices"]["data"] == [1, 0]
    assert t["indices"]["datatype"] == "INT64" and t["indices"]["grad_fn"] is None
    assert t["m"]["grad"]["data"] == [0.0, 1.0, 1.0, 0.0]
    assert t["g"]["data"] == [2.0, 10.0, 6.0, 4.0]
    assert body["printed"] == ["torch.return_types.max(\nvalues=tensor([5., 3.], "
                               "grad_fn=<MaxBackward0>),\nindices=tensor([1, 0]))"]


async def test_unpacking_the_wrong_count_points_at_the_names(client: httpx.AsyncClient) -> None:
    r = await post(client, [let("m", "tensor", [1.0, 2.0]), let(["a"], "max", "m", dim=0)])
    assert "cannot unpack 2 values into 1 names" in problem(r, "type-error", 422,
                                                            "/program/1/name")["detail"]


async def test_graph_follows_torch_next_functions(client: httpx.AsyncClient) -> None:
    body = await ok(client, [X, let("y", "add", "x", 2), let("z", "mul", "y", "y")],
                    outputs=["z"])
    g = body["graph"]
    root = g[body["tensors"]["z"]["grad_fn"]]
    assert root["name"] == "MulBackward0"
    (a, _), (b, _) = root["next"]
    assert a == b and g[a]["name"] == "AddBackward0"
    acc, nr = g[a]["next"][0]
    assert g[a]["next"][1] == [None, 0] and nr == 0
    assert g[acc] == {"name": "AccumulateGrad", "next": [], "variable": "x", "shape": [2, 2]}


async def test_retain_grad_requires_grad_and_backward_options(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        let("a", "tensor", [1.0, 2.0]),
        call("requires_grad_", "a"),
        let("b", "mul", "a", "a"),
        call("retain_grad", "b"),
        let("s", "sum", "b"),
        call("backward", "s", retain_graph=True),
        call("backward", "s"),
    ], outputs=["a", "b"])
    assert body["tensors"]["a"]["grad"]["data"] == [4.0, 8.0]  # accumulated twice
    assert body["tensors"]["b"]["retains_grad"] is True
    assert body["tensors"]["b"]["grad"]["data"] == [2.0, 2.0]


async def test_create_graph_gives_second_derivatives(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        let("x", "tensor", [3.0], requires_grad=True),
        let(["g"], "autograd.grad", call("sum", call("pow", "x", 3)), "x", create_graph=True),
        let(["h"], "autograd.grad", call("sum", "g"), "x"),
    ], outputs=["g", "h"])
    assert body["tensors"]["g"]["data"] == [27.0] and body["tensors"]["g"]["requires_grad"]
    assert body["tensors"]["h"]["data"] == [18.0]


async def test_indexing_with_a_mask_bound_to_a_name(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [
        let("x", "arange", start=6), let("m", "gt", "x", 2),
        {"print": call("getitem", "x", index="m")},
        {"print": call("getitem", "x", index=[{"start": 1, "step": 2}])},
    ])
    assert lines == ["tensor([3, 4, 5])", "tensor([1, 3, 5])"]


async def test_tensors_inputs_take_names_and_literals(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [let("w", "tensor", [1.0, 2.0]),
                                   {"print": call("cat", ["w", [5.0]])}])
    assert lines == ["tensor([1., 2., 5.])"]


async def test_tensor_builtin_honours_dtype_and_requires_grad(client: httpx.AsyncClient) -> None:
    body = await ok(client, [let("a", "tensor", [0.1], dtype="float64", requires_grad=True),
                             let("b", "tensor", 7), let("c", "tensor", "a")])
    t = body["tensors"]
    assert t["a"]["datatype"] == "FP64" and t["a"]["data"] == [0.1] and t["a"]["requires_grad"]
    assert t["b"]["shape"] == [] and t["b"]["datatype"] == "INT64"
    assert t["c"]["requires_grad"] is False


async def test_a_name_used_before_it_is_bound(client: httpx.AsyncClient) -> None:
    r = await post(client, [X, {"print": call("add", "x", call("mul", "nope", 2))}])
    body = problem(r, "unknown-name", 422, "/program/1/print/args/1/args/0")
    assert body["name"] == "nope" and body["detail"].startswith("name 'nope' is not defined")


async def test_unknown_output_name(client: httpx.AsyncClient) -> None:
    r = await post(client, [X], outputs=["x", "y"])
    problem(r, "unknown-name", 422, "/outputs/1")


async def test_wrong_kind_of_value_points_at_the_argument(client: httpx.AsyncClient) -> None:
    r = await post(client, [X, let("s", "shape", "x"), {"print": call("exp", "s")}])
    body = problem(r, "type-error", 422, "/program/2/print/args/0")
    assert body["detail"] == "exp(): argument 'input' must be Tensor, not torch.Size"
    r = await post(client, [X, {"print": call("variable", call("grad_fn", call("mul", "x", 2)))}])
    assert problem(r, "type-error", 422)["detail"] == \
        "'MulBackward0' object has no attribute 'variable'"


async def test_ambiguous_condition(client: httpx.AsyncClient) -> None:
    r = await post(client, [X, {"if": "x", "then": []}])
    body = problem(r, "type-error", 422, "/program/1/if")
    assert body["detail"] == "Boolean value of Tensor with more than one value is ambiguous"


async def test_seeded_randomness_is_reproducible(client: httpx.AsyncClient) -> None:
    prog = [let("r", "randn", size=[4])]
    a = await ok(client, prog, seed=7)
    b = await ok(client, prog, seed=7)
    c = await ok(client, prog, seed=8)
    assert a["tensors"]["r"]["data"] == b["tensors"]["r"]["data"] != c["tensors"]["r"]["data"]


async def test_stats(client: httpx.AsyncClient) -> None:
    # the while statement checks its condition as its own step, and each re-check is one more
    prog = [let("i", "tensor", 0), {"while": call("lt", "i", 3), "do": [let("i", "add", "i", 1)]}]
    stats = (await ok(client, prog))["stats"]
    assert stats["steps"] == 1 + 1 + 3 * 2 and stats["loop_iterations"] == 3
    assert stats["backend"] and stats["device"] and stats["peak_alive_elements"] >= 1
