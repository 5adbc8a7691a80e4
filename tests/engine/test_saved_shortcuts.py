"""The backward pass's shortcuts past ``Node.saved`` and ``autograd._saved_alike`` (issue 18: a
call each costs a chain's backward about a tenth) answer what the calls answer: the same
gradients, bit for bit, and torch's errors for a freed graph and for a saved tensor changed in
place (the shortcuts leave those cases to the calls)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine as ge
from engine import autograd, graph
from engine.backend import to_host
from engine.ops import elementwise

_SHAPES = [[5], [300, 256]]  # (below and above elementwise.INPLACE_MIN_BYTES)


def _x(shape: list[int], dtype: str) -> ge.Tensor:
    n = int(np.prod(shape))
    values = np.sin(np.arange(n) * 1.3).reshape(shape).astype(dtype)
    return ge.tensor(values, requires_grad=True)


def _general(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count Node.saved's calls (every shortcut bypasses it)."""
    calls: list[int] = []
    real = graph.Node.saved
    monkeypatch.setattr(graph.Node, "saved", lambda self, like=None: calls.append(1) or
                        real(self, like))
    return calls


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", _SHAPES)
@pytest.mark.parametrize("op", ["tanh", "mul_float", "mul_int"])
def test_a_vjp_past_node_saved_answers_what_node_saved_gives(
        monkeypatch: pytest.MonkeyPatch, op: str, shape: list[int], dtype: str) -> None:
    y = {"tanh": lambda x: (x * 1.0).tanh(), "mul_float": lambda x: x.tanh() * 1.01,
         "mul_int": lambda x: x.tanh() * 3}[op](_x(shape, dtype))
    node = y.grad_fn
    g = ge.tensor(np.cos(np.arange(y.numel()) * 0.7).reshape(shape).astype(dtype))
    calls = _general(monkeypatch)
    fast = node.vjp(node, g._data)  # (bare: the shortcut where there is one)
    general = node.vjp(node, g)  # (a tensor gradient, grad mode on)
    # one of the two went through Node.saved: the tensor gradient's, except for a mul by an int,
    # whose bare VJP has no 0-d array to take and whose tensor VJP records g * 3 past it
    # (test_mul_number_paths.py compares that shortcut with the general code)
    assert calls == [1]
    a, b = to_host(fast[0]), to_host(general[0]._data)
    assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes())
    # the loop's _saved_alike shortcut: the call's answer
    assert autograd._saved_alike(node)


@pytest.mark.parametrize("op", ["tanh", "mul_float"])
def test_the_shortcuts_leave_torch_s_errors_to_node_saved(op: str) -> None:
    def make() -> Any:
        x = _x([4], "float32")
        return x, ((x * 1.0).tanh() if op == "tanh" else x.tanh() * 1.01)

    x, y = make()
    loss = y.sum()
    loss.backward()
    with pytest.raises(ge.AutogradError, match="backward through the graph a second time"):
        loss.backward()
    node = y.grad_fn  # (and its VJP given a bare gradient, as the loop never does once freed)
    with pytest.raises(ge.AutogradError, match="backward through the graph a second time"):
        node.vjp(node, ge.ones(4)._data)
    if op == "tanh":  # (mul by a number saves no tensor that could change)
        x, y = make()
        y.add_(1.0)
        with pytest.raises(ge.AutogradError, match="output 0 of Tanh, is at version 1"):
            y.sum().backward()
    assert elementwise.INPLACE_MIN_BYTES > 4 * 4  # (the small path: the one a chain takes)
