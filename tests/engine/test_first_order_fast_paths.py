"""VJPs that take a shorter way in a first-order pass (nothing recorded: issue 18) give the very
values of their recorded form, and gradients as usable as torch's (new, writable arrays).

mean's backward divides each element of its gradient once and spreads the quotients, instead of
dividing an expanded array; mm's backward multiplies the arrays without the transposed view
tensors and mm's checks. With create_graph the recorded form runs (its graph is what the goldens
check), so comparing the two passes compares the two ways.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import engine as ge
from engine import ops


def _data(seed: int, shape: list[int], dtype: str = "float32") -> ge.Tensor:
    n = math.prod(shape)
    values = [math.sin(seed * 7.1 + i * 3.3) * 10 ** (i % 5 - 2) for i in range(n)]
    return ops.reshape(ge.tensor(values, dtype=dtype), shape)


def _both(f: Any, inputs: list[ge.Tensor]) -> tuple[list[Any], list[Any]]:
    """The gradients of f(*inputs) in a first-order pass and in a recording one, as lists."""
    leaves = [x.detach().requires_grad_(True) for x in inputs]
    plain = ge.grad(f(*leaves), leaves)
    recorded = ge.grad(f(*leaves), leaves, create_graph=True)
    return [g.tolist() for g in plain], [g.tolist() for g in recorded]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,call", [
    ([7, 5], lambda x: x.mean()),
    ([7, 5], lambda x: x.mean(0).sum()),
    ([7, 5], lambda x: x.mean(1, keepdim=True).sum()),
    ([3, 4, 5], lambda x: x.mean([0, 2]).sum()),
    ([3, 4, 5], lambda x: (x.mean([0, 2], keepdim=True) * 3).sum()),
    ([3, 4, 5], lambda x: x.mean(-1).pow(2).sum()),
    ([], lambda x: x.mean()),
    ([0, 3], lambda x: x.mean(0).sum()),
    ([6, 1], lambda x: x.mean(1).sum()),
])
def test_mean_backward_same_values_both_ways(dtype: str, shape: list[int], call: Any) -> None:
    plain, recorded = _both(call, [_data(3, shape, dtype)])
    assert plain == recorded


def test_mean_backward_gradient_is_a_new_writable_tensor() -> None:
    x = _data(1, [4, 3]).requires_grad_(True)
    y = x * 2
    for call in (lambda y: y.mean(), lambda y: y.mean(0).sum()):
        (want,) = ge.grad(call(y), [y], create_graph=True)
        (g,) = ge.grad(call(y), [y])
        g.add_(1.0)  # torch's gradient here is a new tensor: it may be written to
        assert g.tolist() == (want.detach() + 1.0).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("a_t,b_t", [(False, False), (True, False), (False, True), (True, True)])
def test_mm_backward_same_values_both_ways(dtype: str, a_t: bool, b_t: bool) -> None:
    # (a transposed leaf is column-major: torch's backward then takes another form)
    a = _data(1, [6, 4] if a_t else [4, 6], dtype)
    b = _data(2, [5, 6] if b_t else [6, 5], dtype)

    def f(a: ge.Tensor, b: ge.Tensor) -> ge.Tensor:
        return ((a.t() if a_t else a) @ (b.t() if b_t else b)).tanh().sum()

    plain, recorded = _both(f, [a, b])
    assert plain == recorded


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("a_t,b_t", [(False, False), (True, False), (False, True), (True, True)])
def test_mm_backward_on_arrays_hands_out_what_its_tensor_form_does(dtype: str, a_t: bool,
                                                                  b_t: bool) -> None:
    # a bare first-order pass runs mm's VJP on arrays (graph.on_arrays); an execution context runs
    # it on tensors: the gradients must be the same bits, layouts and views (torch's transposed
    # forms hand out view tensors: _is_view), captured and accumulated alike
    def run() -> list[Any]:
        a = _data(1, [6, 4] if a_t else [4, 6], dtype).requires_grad_(True)
        b = _data(2, [5, 6] if b_t else [6, 5], dtype).requires_grad_(True)
        ma, mb = (a.t() if a_t else a * 1.0), (b.t() if b_t else b * 1.0)
        out = (ma @ mb).tanh().sum()
        grads = list(ge.grad(out, [ma, mb, a, b], retain_graph=True))
        out.backward()
        return [(str(g.dtype), g.shape, g.detach().numpy().tobytes(), g._is_view(),
                 g._data.strides) for g in [*grads, a.grad, b.grad]]

    bare = run()
    with ge.execution(seed=0):
        assert run() == bare


def test_linear_backward_same_values_both_ways() -> None:
    x, w, b = _data(1, [4, 6]), _data(2, [5, 6]), _data(3, [5])
    plain, recorded = _both(lambda x, w, b: ops.linear(x, w, b).pow(2).mean(), [x, w, b])
    assert plain == recorded


def test_in_an_execution_context_too() -> None:
    # (a request's backward pass: gradients are tensors, the element accounting sees them)
    x, w, b = _data(1, [4, 6]), _data(2, [6, 5]), _data(3, [5])
    want = _both(lambda x, w, b: (x @ w + b).tanh().mean(), [x, w, b])[1]
    with ge.execution(limits=ge.Limits(max_alive_elements=10_000)):
        got = _both(lambda x, w, b: (x @ w + b).tanh().mean(), [x, w, b])
    assert got == (want, want)
