"""summation.column_sum, the lean torch-order column sum of a bias's gradient (issue 18), answers
the general path's bits (torch_sum through TensorIterator's order, its direct paths turned off)
byte for byte, and autograd's ``_sum_to`` gives the same gradients with it as without it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine as ge
from engine import autograd, ops, summation
from engine.backend import DEVICE, from_host, to_host

FILLS = ["values", "negative zeros", "specials", "cancelling", "overflowing", "one column of nan"]


def _matrix(dtype: Any, rows: int, cols: int, fill: str) -> Any:
    rng = np.random.default_rng(rows * 1000 + cols)
    x = rng.standard_normal((rows, cols)).astype(dtype)
    if fill == "negative zeros":
        x[...] = -0.0
    elif fill == "specials":
        pick = rng.random(x.shape)
        x[pick < 0.05] = -0.0
        x[(pick > 0.5) & (pick < 0.51)] = np.inf
        x[(pick > 0.6) & (pick < 0.605)] = -np.inf
        x[(pick > 0.7) & (pick < 0.705)] = np.nan
    elif fill == "cancelling" and rows >= 2:
        x[1::2] = -x[0:rows - rows % 2:2]
    elif fill == "overflowing":  # (partial sums overflow to inf in some orders and not others)
        x *= np.finfo(dtype).max / 3
    elif fill == "one column of nan":
        x[:, 3] = np.nan
        x[rows // 2, 3] = -np.nan
    return x


def _general(a: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The spec: torch_sum over dim 0 with its direct paths off (TensorIterator's order)."""
    with monkeypatch.context() as m:
        m.setattr(summation, "_contiguous", lambda a, dims: None)
        return summation.torch_sum(a, (0,), False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 2, 3, 15, 16, 17, 31, 32, 33, 255, 256, 257, 271, 272,
                                  4095, 4096, 4097, 4352, 65536, 65537])
@pytest.mark.parametrize("groups", [1, 2, 32])  # columns: whole groups of 4 vectors (1024 floats)
@pytest.mark.parametrize("fill", FILLS)
def test_column_sum_is_the_general_path_byte_for_byte(
        dtype: Any, rows: int, groups: int, fill: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # (256 rows x 32 groups of float32: a bias gradient in the MLP bench; 65537: 3 cascade levels)
    cols = groups * 4 * summation.LANES_BYTES // np.dtype(dtype).itemsize
    if rows * cols > 1 << 21:
        cols = 4 * summation.LANES_BYTES // np.dtype(dtype).itemsize
    with np.errstate(all="ignore"):  # (inf + -inf and overflows, on purpose)
        a = from_host(_matrix(dtype, rows, cols, fill))
        got = summation.column_sum(a)
        if DEVICE != "cpu":  # (torch's CUDA order is another: the plain backend sum there)
            assert got is None
            return
        want = to_host(_general(a, monkeypatch))
        got = to_host(got)
    assert got.shape == want.shape == (cols,) and got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("case", ["transposed", "sliced columns", "float16", "int64", "vector",
                                  "3-d", "odd columns", "no rows", "no columns"])
def test_column_sum_declines_what_it_does_not_cover(case: str) -> None:
    host = np.ones((64, 128), dtype=np.float32)
    a = from_host(host)  # (the views made on the backend's array: from_host may copy)
    a = {"transposed": a.T, "sliced columns": a[:, :64], "float16": from_host(host.astype(
        np.float16)), "int64": from_host(host.astype(np.int64)), "vector": a[0],
         "3-d": a.reshape(4, 16, 128), "odd columns": from_host(host[:, :40].copy()),
         "no rows": a[:0], "no columns": a[:, :0]}[case]
    assert summation.column_sum(a) is None


def test_column_sum_is_a_fresh_writable_array() -> None:
    a = from_host(np.ones((256, 64), dtype=np.float32))
    got = summation.column_sum(a)
    if DEVICE != "cpu":
        assert got is None
        return
    got += 1.0  # (writable, and a's values stay)
    assert to_host(got).tolist() == [257.0] * 64 and to_host(a).sum() == 256 * 64


def _bias_step(dtype: str, rows: int, cols: int, create_graph: bool) -> tuple[Any, ...]:
    x = ge.tensor(_matrix(np.dtype(dtype).type, rows, cols, "values"))
    w = ge.tensor(_matrix(np.dtype(dtype).type, cols, cols, "cancelling"), requires_grad=True)
    b = ge.tensor(_matrix(np.dtype(dtype).type, 1, cols, "values")[0], requires_grad=True)
    loss = ((x @ w + b).tanh() ** 2).mean()
    loss.backward(create_graph=create_graph)
    assert b.grad is not None and w.grad is not None
    return (to_host(b.grad._data).tobytes(), to_host(w.grad._data).tobytes(),
            None if b.grad.grad_fn is None else b.grad.grad_fn.name(), b.grad.requires_grad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows,cols", [(256, 64), (5, 32), (3, 40), (1, 32), (300, 16)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_bias_gradients_are_the_same_with_and_without_the_lean_sum(
        dtype: str, rows: int, cols: int, create_graph: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    got = _bias_step(dtype, rows, cols, create_graph)
    with monkeypatch.context() as m:
        m.setattr(autograd, "column_sum", lambda a: None)
        want = _bias_step(dtype, rows, cols, create_graph)
    assert got == want


def test_a_bias_gradient_taken_by_the_lean_sum_is_the_leaf_s_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # (the first gradient of a leaf adopts an array nothing else holds: it must not be g's view)
    taken = []
    monkeypatch.setattr(autograd, "column_sum",
                        lambda a: taken.append(summation.column_sum(a)) or taken[-1])
    x = ge.tensor(np.ones((256, 32), dtype=np.float32))
    b = ge.zeros([32], requires_grad=True)
    y = x + b
    y.backward(ops.ones_like(y))
    assert [t is not None for t in taken] == [DEVICE == "cpu"]
    assert b.grad is not None and to_host(b.grad._data).tolist() == [256.0] * 32
    b.grad.add_(1.0)
    assert to_host(x._data).max() == 1.0
