"""The shorter ways an MLP step takes (issue 18) answer what the general ways answer.

* matmul of two matrices goes straight to mm, and mm reads its checks off the arrays: the same
  results, grad_fn and refusals (torch's messages) as before.
* pow(x, 2)'s first-order backward multiplies arrays (no recorded ``x * 2``): the same bits as
  its recorded form, for a gradient that is a new array, an expanded one or another dtype's.
* a cascade level with no leftovers adds no zeros array: the same bits as adding the zeros,
  -0.0 included (the reference below is the kernel's order written out with the zeros).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine import ops, summation
from engine.backend import from_host, to_host
from engine.errors import DTypeError, ShapeError


def _data(seed: int, shape: list[int], dtype: str = "float32") -> ge.Tensor:
    n = math.prod(shape)
    values = [math.sin(seed * 7.1 + i * 3.3) * 10 ** (i % 5 - 2) for i in range(n)]
    return ops.reshape(ge.tensor(values, dtype=dtype), shape)


# ----- matmul / mm ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul_of_matrices_is_mm(dtype: str) -> None:
    a = _data(1, [4, 6], dtype).requires_grad_(True)
    b = _data(2, [6, 5], dtype).requires_grad_(True)
    via_matmul, via_mm = ops.matmul(a, b), ops.mm(a, b)
    assert via_matmul.grad_fn is not None and via_matmul.grad_fn.name() == "MmBackward0"
    assert via_matmul.tolist() == via_mm.tolist() == (a.detach() @ b.detach()).tolist()
    assert (a @ b.t().t()).tolist() == via_mm.tolist()  # (a view operand: the same product)


@pytest.mark.parametrize("a,b,error,message", [
    ([2, 3], [4, 5], ShapeError, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    ([2, 3, 1], [3, 5], ShapeError, "self must be a matrix"),
    ([2, 3], [3], ShapeError, "mat2 must be a matrix"),
])
def test_mm_refusals(a: list[int], b: list[int], error: type, message: str) -> None:
    with pytest.raises(error) as info:
        ops.mm(_data(1, a), _data(2, b))
    assert str(info.value) == message


def test_mm_dtype_refusals() -> None:
    with pytest.raises(DTypeError) as info:
        ops.mm(_data(1, [2, 3]), _data(2, [3, 2], "float64"))
    assert str(info.value) == "expected m1 and m2 to have the same dtype, but got: float != double"
    flags = ge.tensor([[True, False], [False, True]])
    with pytest.raises(DTypeError) as info:
        ops.mm(flags, flags)
    assert str(info.value) == "\"addmm_impl_cpu_\" not implemented for 'Bool'"
    with pytest.raises(DTypeError):
        ops.mm([[1.0]], _data(2, [1, 1]))  # (not a tensor: refused as before)


# ----- pow's first-order backward ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("call", [
    lambda x: (x ** 2).mean(),  # a new gradient array (mean's)
    lambda x: (x ** 2).sum(),  # an expanded one (sum's)
    lambda x: ((x ** 2) * 3.0).sum(1).mean(),
    lambda x: (x.pow(2) + x).sum(),  # two gradients meet at x
    lambda x: ops.to(x.pow(2), "float64").sum(),  # the gradient arrives as another dtype's
])
def test_pow_two_backward_same_values_both_ways(dtype: str, call: Any) -> None:
    x = _data(3, [5, 7], dtype).requires_grad_(True)
    (plain,) = ge.grad(call(x), [x])
    (recorded,) = ge.grad(call(x), [x], create_graph=True)
    assert plain.dtype == recorded.dtype
    assert plain.tolist() == recorded.tolist()
    plain.add_(1.0)  # a new tensor, as torch's: it may be written to


# ----- the cascade's empty levels -----------------------------------------------------------------
def _cascade_with_zeros(x: Any) -> Any:
    """The kernel's multi_row_sum as written before: every level's leftovers added, empty or not."""
    n = x.shape[1]
    step = 1 << max(4, (1 if n <= 2 else (n - 1).bit_length()) // summation._LEVELS)
    level, leftovers = x, []
    for _ in range(summation._LEVELS - 1):
        whole = level.shape[1] // step * step
        leftovers.append(summation._in_order(level[:, whole:]))
        level = summation._in_order_groups(level[:, :whole], step)
    acc = leftovers[0]
    for extra in (*leftovers[1:], summation._in_order(level)):
        acc = acc + extra
    return acc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,cols", [(0, 8), (1, 8), (2, 8), (15, 8), (16, 8), (17, 8), (255, 8),
                                       (256, 1024), (257, 32), (4096, 8), (4097, 32), (65537, 8)])
@pytest.mark.parametrize("fill", ["values", "negative zeros", "specials", "cancelling"])
def test_cascade_without_zero_levels_same_bits(dtype: Any, rows: int, cols: int, fill: str
                                               ) -> None:
    # ((256, 1024): a bias gradient's column sum in the MLP bench)
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((2, rows, cols)).astype(dtype)
    if fill == "negative zeros":
        x[...] = -0.0
    elif fill == "specials" and x.size:
        pick = rng.random(x.shape)
        x[pick < 0.05] = -0.0
        x[(pick > 0.5) & (pick < 0.51)] = np.inf
        x[(pick > 0.7) & (pick < 0.705)] = np.nan
    elif fill == "cancelling" and rows >= 2:
        x[:, 1::2] = -x[:, 0:rows - rows % 2:2]
    x = from_host(x)
    want, got = to_host(_cascade_with_zeros(x)), to_host(summation._cascade(x))
    assert got.shape == want.shape and got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()
