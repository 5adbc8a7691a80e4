"""engine/backend.py ``with_number``: an op between a broadcast view of one value and a number,
computed once and filled in, answers exactly what the op on the whole view answers; and the
gradient it makes (the VJP of ``x * c`` under ``sum``) is the general path's, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine as ge
from engine import backend
from engine.backend import with_number, xp

_VALUES = [1.0, -0.0, 0.1, 3.4e38, 1e-45, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 1, 3)])
@pytest.mark.parametrize("number", [2, -3, 0.1, 1e39, math.nan, -0.0])
def test_a_broadcast_value_times_a_number_is_the_elementwise_product(
        dtype: str, shape: tuple[int, ...], number: float) -> None:
    for value in _VALUES if dtype != "int64" else [0, 1, -7, 2**62]:
        one = xp.asarray(np.asarray(value, dtype=dtype))
        view = xp.broadcast_to(one, shape)
        with backend.quiet():
            want = view * number
            got = with_number(xp.multiply, view, number)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert backend.to_host(got).tobytes() == backend.to_host(want).tobytes()
        assert backend.writable(got)  # a new array of its own, as the product is


def test_other_arrays_take_the_op_itself() -> None:
    a = xp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    for arr in (a, a[:, :1], xp.broadcast_to(a[:1], (4, 3)), a[0, 0]):
        assert backend.to_host(with_number(xp.multiply, arr, 3)).tobytes() == \
            backend.to_host(arr * 3).tobytes()


@pytest.mark.parametrize("factor", [2, 0.5, -3.0])
def test_the_gradient_of_a_scaled_sum_is_the_general_paths(factor: float) -> None:
    values = np.array([0.1, -2.5, math.inf, 7.0], dtype=np.float32)
    x = ge.tensor(values, requires_grad=True)
    (x * factor).sum().backward()  # the expanded ones: the filled product
    y = ge.tensor(values, requires_grad=True)
    (y * factor).backward(ge.ones(4))  # a contiguous gradient: the elementwise product
    assert x.grad is not None and y.grad is not None
    assert x.grad.numpy().tobytes() == y.grad.numpy().tobytes()
    assert x.grad.dtype == y.grad.dtype
    with ge.execution():  # in an execution context, as the service runs programs
        z = ge.tensor(values, requires_grad=True)
        (z * factor).sum().backward()
        assert z.grad is not None and z.grad.numpy().tobytes() == y.grad.numpy().tobytes()
