"""torch.tensor's data decoded for its own call (an array literal, a tensor object, a Python value
computed at run time) becomes the new leaf without torch's copy (service/values.py Decoded): it
answers exactly what copying a tensor bound to a name answers -- values, dtype, flags, graph,
gradients and errors."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import numpy as np
import pytest

import engine as ge
from service.encoding import decode_object
from service.program_builtins import _tensor
from service.values import Decoded
from tests.service.helpers import call, let, ok, post

pytestmark = pytest.mark.anyio

_VALUES = np.array([0.1, -0.0, np.nan, np.inf, -3.5, 1e-40], dtype=np.float32)
_B64 = {"shape": [2, 3], "datatype": "FP32", "b64": base64.b64encode(_VALUES.tobytes()).decode()}
_DATA = {"shape": [2, 3], "datatype": "FP32",
         "data": [0.1, -0.0, "NaN", "Infinity", -3.5, float(np.float32(1e-40))]}


@pytest.mark.parametrize(("dtype", "requires_grad"), [
    (None, False), (None, True), ("float32", True), ("float64", True), ("int64", False),
    ("bool", False)])
def test_a_decoded_tensor_is_the_leaf_a_copy_would_be(dtype: str | None,
                                                      requires_grad: bool) -> None:
    made = decode_object([2, 3], "FP32", None, _B64["b64"])
    fast = _tensor(Decoded(made), dtype=dtype, requires_grad=requires_grad)
    slow = _tensor(decode_object([2, 3], "FP32", None, _B64["b64"]), dtype=dtype,
                   requires_grad=requires_grad)
    assert (fast is made) == (dtype in (None, "float32"))  # adopted only when no cast is asked
    assert fast.dtype is slow.dtype and fast.shape == slow.shape
    assert fast.requires_grad == slow.requires_grad and fast.is_leaf and fast.grad_fn is None
    assert fast.detach().numpy().tobytes() == slow.detach().numpy().tobytes()


def test_requires_grad_on_integers_is_refused_as_torch_tensor_refuses_it() -> None:
    made = decode_object([2], "INT64", [1, 2], None)
    with pytest.raises(ge.AutogradError) as fast:
        _tensor(Decoded(made), requires_grad=True)
    with pytest.raises(ge.AutogradError) as slow:
        _tensor(decode_object([2], "INT64", [1, 2], None), requires_grad=True)
    assert str(fast.value) == str(slow.value)


def _strip(answer: dict[str, Any]) -> dict[str, Any]:
    answer.pop("stats")  # (allocated_elements counts torch's copy: one fewer without it)
    return answer


@pytest.mark.parametrize("encoding", ["json", "base64"])
async def test_tensor_objects_and_literals_answer_as_a_copied_tensor(
        client: httpx.AsyncClient, encoding: str) -> None:
    tail = [let("y", "mul", "x", 2), call("backward", call("sum", "y"))]
    copied = await ok(client, [let("t", "tensor", _DATA), {"name": "x", "op": "tensor",
                               "args": ["t"], "attrs": {"requires_grad": True}}, *tail],
                      outputs=["x", "y"], encoding=encoding)
    for data in (_B64, _DATA):
        got = await ok(client, [{"name": "x", "op": "tensor", "args": [data],
                                 "attrs": {"requires_grad": True}}, *tail],
                       outputs=["x", "y"], encoding=encoding)
        assert _strip(got) == _strip(dict(copied))
    literal = [[0.5, -1.0], [2.0, 8.0]]
    by_name = await ok(client, [let("t", "tensor", literal), let("x", "tensor", "t",
                                                                    dtype="float64")],
                       outputs=["x"], encoding=encoding)
    direct = await ok(client, [let("x", "tensor", literal, dtype="float64")], outputs=["x"],
                      encoding=encoding)
    assert _strip(by_name) == _strip(direct)


async def test_a_decoded_tensor_is_not_shared_with_the_name_it_came_from(
        client: httpx.AsyncClient) -> None:
    # a tensor bound to a name is still copied: writing into the new leaf leaves it as it was
    body = await ok(client, [let("t", "tensor", [1.0, 2.0]), let("x", "tensor", "t"),
                             call("add_", "x", 1)], outputs=["t", "x"])
    assert body["tensors"]["t"]["data"] == [1.0, 2.0]
    assert body["tensors"]["x"]["data"] == [2.0, 3.0]


async def test_integer_data_with_requires_grad_is_the_same_problem(
        client: httpx.AsyncClient) -> None:
    answers = []
    for program in ([let("x", "tensor", [1, 2], requires_grad=True)],
                    [let("t", "tensor", [1, 2]), let("x", "tensor", "t", requires_grad=True)]):
        r = await post(client, program)
        answers.append((r.status_code, r.json()["detail"]))
    assert answers[0] == answers[1] and answers[0][0] == 422
