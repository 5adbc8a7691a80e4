"""mul by a Python number on its fast paths: a float tensor times an int in mul itself, and in
mul's VJP ``g * number`` on gradient tensors (a pass in an execution context, or with
create_graph), recorded without mul's general code. Each program runs once through ``*`` (the fast
paths) and once through a copy of the general code written here (mul's ``_binary`` path, the VJP
through ``node.saved``): the same bits, dtypes, graphs and, in a context, the same elements
charged (alive, peak, allocated)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine.backend import to_host, xp
from engine.context import current
from engine.graph import on_arrays
from engine.ops import elementwise
from engine.ops.core import record
from engine.tensor import Tensor
from tests.engine.fast_paths import leaf, seen

Mul = Callable[[Any, Any], Any]


def _general_vjp(node: Any, g: Any) -> tuple[Any, ...]:
    """mul's VJP without its shortcuts: the saved values unpacked, ``g * b`` through mul's general
    code (on bare arrays, numpy's product)."""
    a, b = node.saved(g)
    mul = _general_mul if g.__class__ is Tensor else _array_product
    gb = mul(g, a) if node.edges[2] is not None else None
    return (mul(g, b) if node.edges[0] is not None else None), gb


def _array_product(u: Any, v: Any) -> Any:
    """numpy's product, silent where float32 overflows to inf (as the engine's is, and torch)."""
    with np.errstate(over="ignore"):
        return u * v


# (the same marks as mul's own VJP, so that a bare pass treats both alike)
on_arrays(_general_vjp)
_general_vjp.takes_broadcast = True  # type: ignore[attr-defined]


def _general_mul(input: Any, other: Any) -> Any:
    """mul's general code for a tensor and a number (as before its int shortcut), recording the
    general VJP. A float goes through mul itself (its 0-d array path), with the general VJP."""
    if other.__class__ is float:
        out = elementwise.mul(input, other)
        if out.grad_fn is not None:
            out.grad_fn.vjp = _general_vjp
        return out
    x, y = elementwise._binary(input, other, "mul")
    return record(elementwise._times_number(x, y), elementwise._MUL, _general_vjp,
                  (input, other), (None, other))


NUMBERS: list[Any] = [2, 3, -1, 0, 7, 2 ** 24 + 1, 2 ** 60, 1.01, 2.0, -0.0, math.inf]


def _program(dtype: str, number: Any, kind: str) -> Callable[[Mul], dict[str, Any]]:
    def program(mul: Mul) -> dict[str, Any]:
        x = leaf(dtype, 6)
        y = mul(x, number)
        if kind == "chain":
            w = y
            for _ in range(4):
                w = mul(w, number)
            w.backward(ge.tensor(np.linspace(-2, 2, 6), dtype=dtype))
            return {"y": y, "w": w, "grad": x.grad}
        if kind == "mean":  # (a broadcast view as the gradient reaching the mul)
            z = mul(y.tanh(), number).mean()
            z.backward()
            return {"y": y, "z": z, "grad": x.grad}
        (gx,) = ge.grad([mul(y.tanh(), number).sum()], [x], create_graph=True)
        (ggx,) = ge.grad([mul(gx, number).sum()], [x])
        return {"y": y, "gx": gx, "ggx": ggx}
    return program


def _run(program: Callable[[Mul], dict[str, Any]], mul: Mul, in_context: bool) -> Any:
    try:
        if not in_context:
            return seen(program(mul))
        with ge.execution(seed=0):
            found = seen(program(mul))
            ctx = current()
            assert ctx is not None
            return found, ctx.alive, ctx.peak, ctx.allocated
    except Exception as e:  # noqa: BLE001 - an error must be the same one
        return type(e), str(e)


@pytest.mark.parametrize("in_context", [False, True], ids=["bare", "in_context"])
@pytest.mark.parametrize("kind", ["chain", "mean", "second_order"])
@pytest.mark.parametrize("number", NUMBERS, ids=repr)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mul_by_a_number_answers_as_the_general_path(dtype: str, number: Any, kind: str,
                                                     in_context: bool) -> None:
    program = _program(dtype, number, kind)
    fast = _run(program, lambda a, b: a * b, in_context)
    assert fast == _run(program, _general_mul, in_context)


COMPARED: list[Any] = [0, 1, -2, 1000, 2 ** 70, 0.5, -0.0, math.nan, math.inf, True, False]


@pytest.mark.parametrize("name", ["lt", "le", "gt", "ge", "eq", "ne"])
@pytest.mark.parametrize("number", COMPARED, ids=repr)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
def test_comparison_with_a_number_answers_as_the_general_path(name: str, number: Any, dtype: str,
                                                              shape: tuple[int, ...]) -> None:
    """A float tensor compared with a number (a loop's stopping test) skips _binary's call: the
    same array as the general code (_binary's operands) gives; other operands take that code."""
    t = ge.tensor(np.linspace(-1.5, 1000.0, math.prod(shape)).reshape(shape), dtype=dtype)
    fn = getattr(xp, {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
                      "eq": "equal", "ne": "not_equal"}[name])
    expected = to_host(xp.asarray(fn(*elementwise._binary(t, number))))  # (the backend's arrays)
    got = getattr(elementwise, name)(t, number).numpy()
    assert (got.dtype, got.shape, got.tobytes()) == (expected.dtype, expected.shape,
                                                      expected.tobytes())
