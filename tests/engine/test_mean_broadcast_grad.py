"""A mean's first-order gradient reaches pow(x, 2) as a broadcast view (issue 18: one new array
and its fill fewer in a squared loss's backward). What anyone can see stays torch's:

* every gradient has the same bits as with the mean's quotient spread into a new array;
* the path is taken for mean(x ** 2), and only there;
* a gradient autograd.grad hands out, or that retain_grad keeps, is a new writable tensor shared
  with nothing else (the capture copies a broadcast), as torch's quotient is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine import ops
from engine.backend import shares_memory, spread, to_host, writable
from engine.ops import reductions


def _data(seed: int, shape: list[int], dtype: str, fill: str = "values") -> ge.Tensor:
    n = math.prod(shape)
    values = [math.sin(seed * 7.1 + i * 3.3) * 10 ** (i % 5 - 2) for i in range(n)]
    if fill == "specials":  # 2x overflows, inf, nan, -0.0
        big = 3e38 if dtype == "float32" else 1e308
        for i, v in enumerate((big, -big, math.inf, math.nan, -0.0)):
            if i < n:
                values[i * 3 % n] = v
    return ops.reshape(ge.tensor(values, dtype=dtype), shape)


def _bits(t: Any) -> bytes:
    return to_host(t._data).tobytes()


def _spread_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reductions, "_reads_only", lambda node: False)


_LOSSES = [
    lambda x: ((x - 1.0) ** 2).mean(),  # the MLP's loss
    lambda x: (x.tanh() ** 2).mean(1).sum(),
    lambda x: (x ** 2).mean(0, keepdim=True).sum(),
    lambda x: (x ** 2).mean([0, 1]),
    lambda x: (x.pow(2) + x.pow(2).mean()).sum(),  # two gradients meet at the pow
]
_SHAPES = [[3, 5], [256, 300]]  # (below and above elementwise.INPLACE_MIN_BYTES)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", _SHAPES)
@pytest.mark.parametrize("fill", ["values", "specials"])
@pytest.mark.parametrize("loss", range(len(_LOSSES)))
def test_same_bits_as_the_spread_quotient(monkeypatch: pytest.MonkeyPatch, dtype: str,
                                          shape: list[int], fill: str, loss: int) -> None:
    results = []
    for off in (False, True):
        if off:
            _spread_off(monkeypatch)
        x = _data(1, shape, dtype, fill).requires_grad_(True)
        with np.errstate(all="ignore"):
            _LOSSES[loss](x).backward()
        assert x.grad is not None
        results.append(_bits(x.grad))
    assert results[0] == results[1]


def test_the_path_is_taken_for_a_squared_mean_only(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = reductions._reads_only
    monkeypatch.setattr(reductions, "_reads_only", lambda node: seen.append(real(node)) or seen[-1])
    x = _data(2, [4, 6], "float32").requires_grad_(True)
    (x ** 2).mean().backward()
    (x ** 3).mean().backward()
    x.tanh().mean().backward()
    x.mean().backward()
    (x * x).mean().backward()
    assert seen == [True, False, False, False, False]


@pytest.mark.parametrize("shape", _SHAPES)
@pytest.mark.parametrize("dim", [None, 1])
def test_a_captured_gradient_is_a_new_writable_tensor(monkeypatch: pytest.MonkeyPatch,
                                                     shape: list[int], dim: Any) -> None:
    def run() -> tuple[Any, Any, Any]:
        x = _data(3, shape, "float32").requires_grad_(True)
        d = x - 0.5
        sq = d ** 2
        loss = sq.mean() if dim is None else sq.mean(dim).sum()
        g1, gd = ge.grad(loss, [sq, d], retain_graph=True)
        (g2,) = ge.grad(loss, [sq])
        return g1, gd, g2

    g1, gd, g2 = run()
    _spread_off(monkeypatch)
    r1, rd, r2 = run()
    for new, ref in ((g1, r1), (gd, rd), (g2, r2)):
        assert new.shape == ref.shape and new.dtype == ref.dtype
        assert _bits(new) == _bits(ref)
        assert not spread(new._data) and writable(new._data)
    assert not shares_memory(g1._data, g2._data)
    before = _bits(g2)
    g1.add_(1.0)  # writable, and nobody else sees the write
    assert _bits(g2) == before
    assert _bits(g1) == _bits(r1.add_(1.0))


def test_retain_grad_keeps_a_new_writable_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    def run() -> tuple[Any, Any]:
        x = _data(4, [256, 300], "float32").requires_grad_(True)
        sq = (x - 0.25) ** 2
        sq.retain_grad()
        sq.mean().backward()
        return sq.grad, x.grad

    kept, xg = run()
    _spread_off(monkeypatch)
    ref_kept, ref_xg = run()
    assert _bits(kept) == _bits(ref_kept) and _bits(xg) == _bits(ref_xg)
    assert not spread(kept._data) and writable(kept._data)
    kept.add_(1.0)
    assert _bits(kept) == _bits(ref_kept.add_(1.0))


def test_an_expanded_sum_gradient_is_still_captured_as_it_was() -> None:
    x = _data(5, [3, 4], "float32").requires_grad_(True)
    sq = x ** 2
    (g,) = ge.grad(sq.sum(), [sq])
    assert g._base is not None  # (sum's expand: a view, as torch's)
