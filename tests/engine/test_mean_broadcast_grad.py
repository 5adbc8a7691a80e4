"""A mean's first-order gradient may go on as a read-only broadcast view of its quotients (issue
18: one new array of the input's size and its fill fewer), to a node whose VJP only reads it
elementwise (graph.takes_broadcast) and whose saved arrays are C-ordered (reductions._takes_broadcast).
What anyone can see stays what it was, and torch's:

* every gradient has the same bits and the same layout as with the quotient spread into a new
  array, for every marked VJP, every form of mean, both dtypes, below and above the size where the
  fused backwards work in place (elementwise.INPLACE_MIN_BYTES), bare and in an execution context,
  with anomaly detection, and with create_graph (where the view is never made);
* the view is made exactly where it may be (a spy), and never for a VJP that passes its gradient
  on, reads it by layout (a matrix product, a torch-order sum) or saved a non-C-ordered array;
* whatever hands a gradient out or keeps it gives a new, writable, C-ordered array shared with
  nothing: a leaf's .grad (first and accumulated), autograd.grad's results, retain_grad's .grad,
  backward(inputs=...)'s; in-place ops on them afterwards change nothing else.
* The engine has no gradient hooks (nothing else can see a gradient in flight).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine import backend, ops
from engine.backend import repeats, shares_memory, to_host, writable
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


def _seen(t: Any) -> tuple[Any, ...]:
    """What a caller can see of a gradient: dtype, shape, bytes, and its layout (which decides
    whether view() works and in which order a later sum adds)."""
    a = to_host(t._data)
    return str(a.dtype), a.shape, a.tobytes(), a.strides


def _spread_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reductions, "_takes_broadcast", lambda consumer: False)


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    seen: list[bool] = []
    real = reductions._takes_broadcast
    monkeypatch.setattr(reductions, "_takes_broadcast",
                        lambda consumer: seen.append(real(consumer)) or seen[-1])
    return seen


# each marked VJP as the mean's consumer: f(x) for a leaf x (positive where the op needs it)
_CONSUMERS: dict[str, Callable[[ge.Tensor, ge.Tensor], ge.Tensor]] = {
    "pow2": lambda x, p: (x - 1.0) ** 2,  # the MLP's loss
    "pow3": lambda x, p: x ** 3,
    "pow0": lambda x, p: x ** 0,
    "exp": lambda x, p: x.exp(),
    "expm1": lambda x, p: x.expm1(),
    "exp2": lambda x, p: ops.exp2(x),
    "abs": lambda x, p: x.abs(),
    "sin": lambda x, p: x.sin(),
    "cos": lambda x, p: x.cos(),
    "tan": lambda x, p: x.tan(),
    "neg": lambda x, p: -x,
    "relu": lambda x, p: x.relu(),
    "sigmoid": lambda x, p: x.sigmoid(),
    "sqrt": lambda x, p: (p + x * 0.0).sqrt(),
    "rsqrt": lambda x, p: (p + x * 0.0).rsqrt(),
    "log": lambda x, p: (p + x * 0.0).log(),
    "log1p": lambda x, p: (p + x * 0.0).log1p(),
    "reciprocal": lambda x, p: (p + x * 0.0).reciprocal(),
    "div_by": lambda x, p: x / p,
    "div_of": lambda x, p: p / (p + x * 0.0),
    "div_number": lambda x, p: x / 3.0,
    "tanh": lambda x, p: x.tanh(),
    "mul_by": lambda x, p: x * p,
    "mul_of": lambda x, p: p * (x + 0.0),
    "mul_self": lambda x, p: x * x,
    "mul_number": lambda x, p: x * 3.0,
    "mul_int": lambda x, p: x * 2,
}
# the forms of mean (and what follows it, to a scalar)
_MEANS: dict[str, Callable[[ge.Tensor], ge.Tensor]] = {
    "all": lambda y: y.mean(),
    "dim1": lambda y: y.mean(1).sum(),
    "dim0_keep": lambda y: y.mean(0, keepdim=True).sum(),
    "dims_list": lambda y: y.mean([0, 1]),
    "met_twice": lambda y: y.mean() + y.mean(1).sum(),  # two gradients add at the consumer
}
_SHAPES = [[3, 5], [256, 300]]  # (below and above elementwise.INPLACE_MIN_BYTES)


def _run(consumer: str, mean: str, shape: list[int], dtype: str, fill: str = "values",
         create_graph: bool = False) -> list[Any]:
    x = _data(1, shape, dtype, fill).requires_grad_(True)
    p = _data(2, shape, dtype).abs() + 0.5
    with np.errstate(all="ignore"):
        loss = _MEANS[mean](_CONSUMERS[consumer](x, p))
        loss.backward(create_graph=create_graph)
    assert x.grad is not None
    return [x.grad]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", _SHAPES)
@pytest.mark.parametrize("mean", list(_MEANS))
@pytest.mark.parametrize("consumer", list(_CONSUMERS))
def test_same_bits_and_layout_as_a_new_quotient(monkeypatch: pytest.MonkeyPatch, consumer: str,
                                                 mean: str, shape: list[int], dtype: str) -> None:
    taken = _spy(monkeypatch)
    new = [_seen(g) for g in _run(consumer, mean, shape, dtype)]
    assert any(taken)  # (the view was made: this compares something)
    _spread_off(monkeypatch)
    assert new == [_seen(g) for g in _run(consumer, mean, shape, dtype)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("consumer", ["pow2", "exp", "sigmoid", "div_by", "relu", "tanh",
                                      "mul_by"])
def test_same_bits_with_overflow_inf_nan_and_negative_zero(monkeypatch: pytest.MonkeyPatch,
                                                           consumer: str, dtype: str) -> None:
    new = [_seen(g) for g in _run(consumer, "all", [256, 300], dtype, "specials")]
    _spread_off(monkeypatch)
    assert new == [_seen(g) for g in _run(consumer, "all", [256, 300], dtype, "specials")]


def _mlp_like() -> dict[str, Any]:
    """A step with a bias, a matrix product, tanh and the squared loss: every gradient."""
    x = _data(3, [64, 32], "float32")
    w = _data(4, [32, 48], "float32").requires_grad_(True)
    b = _data(5, [48], "float32").requires_grad_(True)
    h = (x @ w + b).tanh()
    ((h - 0.5) ** 2).mean().backward()
    return {"w": w.grad, "b": b.grad}


# programs where the view must not be made, and why
_DECLINED: dict[str, Callable[[ge.Tensor], ge.Tensor]] = {
    "leaf": lambda x: x.mean(),  # an AccumulateGrad keeps it: a new array it adopts is cheaper
    "add": lambda x: (x + 1.0).mean(),  # passes its gradient on
    "t_tanh": lambda x: x.t().tanh().mean(),  # tanh saved its F-ordered output
    "t_mul": lambda x: (x.t() * x.t()).mean(),  # mul saved F-ordered operands
    "mm": lambda x: (x @ x.t()).mean(),  # a matrix product reads by layout
    "sum_to": lambda x: (x + x[0]).mean(),  # add's, then a torch-order sum (_sum_to)
    "t_pow": lambda x: (x.t() ** 2).mean(),  # pow saved a transposed (F-ordered) input
    "t_exp": lambda x: x.t().exp().mean(),  # exp saved its F-ordered output
}


@pytest.mark.parametrize("name", list(_DECLINED))
def test_declined_where_the_gradient_could_escape_or_be_read_by_layout(
        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def run() -> Any:
        x = _data(6, [4, 6], "float64").requires_grad_(True)
        _DECLINED[name](x).backward()
        return _seen(x.grad)

    taken = _spy(monkeypatch)
    new = run()
    assert taken == [False]
    _spread_off(monkeypatch)
    assert new == run()  # (with a view, x.grad of t_pow and t_exp would be laid out otherwise)


def test_taken_in_the_mlp_step_and_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _spy(monkeypatch)
    new = {k: _seen(v) for k, v in _mlp_like().items()}
    assert taken == [True]
    _spread_off(monkeypatch)
    assert new == {k: _seen(v) for k, v in _mlp_like().items()}


@pytest.mark.parametrize("detect_anomaly", [False, True])
@pytest.mark.parametrize("consumer", ["pow2", "sigmoid", "div_by", "tanh", "mul_by"])
def test_same_in_an_execution_context(monkeypatch: pytest.MonkeyPatch, consumer: str,
                                      detect_anomaly: bool) -> None:
    # (there gradients are tensors and the VJPs take their tensor path)
    def run() -> list[Any]:
        with ge.execution(seed=0, detect_anomaly=detect_anomaly):
            return [_seen(g) for g in _run(consumer, "dim1", [256, 300], "float32")]

    taken = _spy(monkeypatch)
    new = run()
    assert taken == [True]
    _spread_off(monkeypatch)
    assert new == run()


@pytest.mark.parametrize("consumer", ["pow2", "exp", "sigmoid", "tanh", "mul_self"])
def test_create_graph_keeps_its_recorded_gradients(monkeypatch: pytest.MonkeyPatch,
                                                   consumer: str) -> None:
    # with create_graph the mean records torch's expand / DivBackward1: no view is ever made
    taken = _spy(monkeypatch)
    x = _data(1, [3, 5], "float64").requires_grad_(True)
    p = _data(2, [3, 5], "float64").abs() + 0.5
    (g,) = ge.grad(_CONSUMERS[consumer](x, p).mean(), [x], create_graph=True)
    assert g.grad_fn is not None and taken == []
    (gg,) = ge.grad(g.sum(), [x])
    _spread_off(monkeypatch)
    x2 = _data(1, [3, 5], "float64").requires_grad_(True)
    (g2,) = ge.grad(_CONSUMERS[consumer](x2, p).mean(), [x2], create_graph=True)
    (gg2,) = ge.grad(g2.sum(), [x2])
    assert _seen(g) == _seen(g2) and _seen(gg) == _seen(gg2)
    assert g.grad_fn.name() == g2.grad_fn.name()


def _own(t: Any, *others: Any) -> None:
    """``t`` is a gradient of its own: writable, no broadcast, C-ordered, sharing no memory with
    ``others``."""
    assert writable(t._data) and not repeats(t._data) and t._data.flags.c_contiguous
    for o in others:
        assert not shares_memory(t._data, o._data)


def _loss(x: ge.Tensor, dim: Any) -> tuple[ge.Tensor, ge.Tensor, ge.Tensor]:
    d = x - 0.5
    sq = d ** 2
    return (sq.mean() if dim is None else sq.mean(dim).sum()), sq, d


@pytest.mark.parametrize("shape", _SHAPES)
@pytest.mark.parametrize("dim", [None, 1, 0])
def test_autograd_grad_hands_out_new_writable_tensors(monkeypatch: pytest.MonkeyPatch,
                                                      shape: list[int], dim: Any) -> None:
    def run() -> tuple[Any, Any, Any, Any]:
        x = _data(3, shape, "float32").requires_grad_(True)
        loss, sq, d = _loss(x, dim)
        g1, gd, gx = ge.grad(loss, [sq, d, x], retain_graph=True)
        (g2,) = ge.grad(loss, [sq])
        return g1, gd, gx, g2

    taken = _spy(monkeypatch)
    new = run()
    assert all(taken)
    _spread_off(monkeypatch)
    ref = run()
    assert [_seen(g) for g in new] == [_seen(g) for g in ref]
    g1, gd, gx, g2 = new
    _own(g1, gd, gx, g2)  # (d's and x's are one array, as torch's: sub passes it on)
    _own(g2, gd, gx)
    _own(gx)
    before = [_seen(g) for g in (gd, gx, g2)]
    g1.add_(1.0)  # writable, and nobody else sees the write
    assert [_seen(g) for g in (gd, gx, g2)] == before
    assert _seen(g1) == _seen(ref[0].add_(1.0))


@pytest.mark.parametrize("dim", [None, 1, 0])
def test_retain_grad_and_backward_inputs_keep_new_tensors(monkeypatch: pytest.MonkeyPatch,
                                                          dim: Any) -> None:
    def run(inputs: bool) -> tuple[Any, Any]:
        x = _data(4, [256, 300], "float32").requires_grad_(True)
        loss, sq, _ = _loss(x, dim)
        if inputs:
            loss.backward(inputs=[sq, x])
        else:
            sq.retain_grad()
            loss.backward()
        return sq.grad, x.grad

    for inputs in (False, True):
        new = run(inputs)
        with monkeypatch.context() as m:
            _spread_off(m)
            ref = run(inputs)
        assert [_seen(g) for g in new] == [_seen(g) for g in ref]
        kept, xg = new
        _own(kept, xg)
        _own(xg)
        before = _seen(xg)
        kept.add_(1.0)
        kept.mul_(2.0)
        assert _seen(xg) == before
        assert _seen(kept) == _seen(ref[0].add_(1.0).mul_(2.0))


def test_accumulating_into_an_existing_grad_and_writing_it_afterwards(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def run() -> tuple[Any, Any, Any]:
        x = _data(5, [256, 300], "float32").requires_grad_(True)
        loss, sq, _ = _loss(x, 1)
        sq.retain_grad()
        loss.backward(retain_graph=True)
        first_x, first_sq = x.grad, sq.grad
        loss.backward()  # added in place into both (the same tensors)
        assert x.grad is first_x and sq.grad is first_sq
        return x.grad, sq.grad, first_x

    taken = _spy(monkeypatch)
    xg, sqg, _ = run()
    assert taken == [True, True]
    _spread_off(monkeypatch)
    rx, rsq, _ = run()
    assert (_seen(xg), _seen(sqg)) == (_seen(rx), _seen(rsq))
    _own(xg, sqg)
    _own(sqg)
    before = _seen(sqg)
    xg.mul_(0.5)
    ops.zero_(xg)
    assert _seen(sqg) == before and not to_host(xg._data).any()


def test_an_expanded_sum_gradient_is_still_captured_as_it_was() -> None:
    x = _data(5, [3, 4], "float32").requires_grad_(True)
    sq = x ** 2
    (g,) = ge.grad(sq.sum(), [sq])
    assert g._base is not None  # (sum's expand: a view, as torch's)


def test_repeats_sees_broadcasts_and_their_views() -> None:
    q = backend.from_host(np.arange(4.0))
    view = backend.xp.broadcast_to(q, (3, 4))
    assert repeats(view) and repeats(view[0:1]) and not repeats(q)
    assert not repeats(backend.xp.broadcast_to(q[:1], (1,)) + 0.0)
