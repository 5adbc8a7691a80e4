"""The wire format takes what torch takes (issue 13 point 4): lists of gradients with null for
some outputs (``autograd.grad``'s grad_outputs, ``autograd.backward``'s grad_tensors), and
``tensor(data)`` whose data holds Python numbers computed at run time (``item()`` results). The
printed text of both front ends is compared with torch's in test_source.py (the
``gradient_lists`` examples); these tests pin the contract: what is accepted, what is refused, and
where."""

from __future__ import annotations

import httpx
import pytest

from tests.service.helpers import call, let, ok, post, printed, problem

pytestmark = pytest.mark.anyio

X = let("x", "tensor", [1.0, -2.0, 0.5], requires_grad=True)
OUTPUTS = [X, let("total", "sum", call("pow", "x", 2)), let("scaled", "mul", "x", 3)]


@pytest.mark.parametrize("gradient", [[1.0, 0.5, 0.25], "v"])
async def test_grad_outputs_null_for_a_scalar_output(client: httpx.AsyncClient,
                                                     gradient: object) -> None:
    lines = await printed(client, [
        *OUTPUTS, let("v", "tensor", [1.0, 0.5, 0.25]),
        let(["g"], "autograd.grad", ["total", "scaled"], "x", [None, gradient]), {"print": "g"}])
    assert lines == ["tensor([ 5.0000, -2.5000,  1.7500])"]  # torch 2.13's text


async def test_grad_outputs_all_null(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [*OUTPUTS, let(["g"], "autograd.grad", ["total"], "x", [None]),
                                   {"print": "g"}])
    assert lines == ["tensor([ 2., -4.,  1.])"]


async def test_a_null_gradient_for_a_non_scalar_output_is_torch_s_error(
        client: httpx.AsyncClient) -> None:
    body = problem(await post(client, [
        *OUTPUTS, let("one", "tensor", 1.0),
        let(["g"], "autograd.grad", ["total", "scaled"], "x", ["one", None])]),
        "autograd-error", 422, "/program/4")
    assert body["detail"].startswith("grad can be implicitly created only for scalar outputs")


async def test_autograd_backward_takes_a_gradient_list_with_nulls(
        client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        *OUTPUTS, let("ones", "ones", size=[3]),
        call("autograd.backward", ["scaled", "total"], ["ones", None]),
        {"print": call("grad", "x")}], outputs=["x"])
    assert body["printed"] == ["tensor([ 5., -1.,  4.])"]
    assert body["tensors"]["x"]["grad"]["data"] == [5.0, -1.0, 4.0]


async def test_autograd_backward_with_inputs_and_no_gradients(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [
        *OUTPUTS, let("w", "tensor", [2.0], requires_grad=True), let("y", "mul", "total", "w"),
        call("autograd.backward", ["y"], None, ["w"]),
        {"print": call("grad", "x")}, {"print": call("grad", "w")}])
    assert lines == ["None", "tensor([5.2500])"]


async def test_tensor_of_item_results(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [
        *OUTPUTS, let("v", "item", "total"), let("n", "numel", "x"),
        {"print": call("tensor", "v")}, {"print": call("tensor", ["v", 2.0])},
        {"print": call("tensor", [["v"], ["n"]])}, {"print": call("tensor", ["n", 2])},
        {"print": call("tensor", ["v", "n"], dtype="float64")},
        {"print": call("tensor", [True, "v"])}])
    assert lines == ["tensor(5.2500)", "tensor([5.2500, 2.0000])",
                     "tensor([[5.2500],\n        [3.0000]])", "tensor([3, 2])",
                     "tensor([5.2500, 3.0000], dtype=torch.float64)", "tensor([1.0000, 5.2500])"]


async def test_a_name_in_tensor_data_must_hold_a_number(client: httpx.AsyncClient) -> None:
    body = problem(await post(client, [*OUTPUTS, let("t", "tensor", [[1.0], ["scaled"]])]),
                   "type-error", 422, "/program/3/args/0/1/0")
    assert body["detail"] == ("tensor(): an element of data must be a number; 'scaled' is Tensor "
                              "(use scaled.item())")
    problem(await post(client, [let("t", "tensor", [1.0, "nowhere"])]), "unknown-name", 422,
            "/program/0/args/0/1")


async def test_the_catalog_lists_autograd_backward(client: httpx.AsyncClient) -> None:
    ops = {o["name"]: o for o in (await client.get("/v1/ops")).json()["ops"]}
    inputs = {i["name"]: i for i in ops["autograd.backward"]["inputs"]}
    assert list(inputs) == ["tensors", "grad_tensors", "inputs"]
    assert inputs["grad_tensors"]["nullable"] is True
