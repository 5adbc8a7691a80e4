"""Tensor-and-number arithmetic as torch's C++ derivative formulas compute it.

In Python, ``t * 2`` wraps the number in a tensor: mul's Tensor overload, whose node
(MulBackward0) has an edge for each side, ``(None, 0)`` for the number. Inside torch's C++ formulas
``2 * t`` calls the Scalar overload instead: MulBackward1, with a single edge. A VJP that torch
writes with a C++ number calls these helpers, so the graph it records under create_graph is
torch's. Each also takes a bare backend array (a first-order pass, see graph.on_arrays) and then
just computes.
"""

from __future__ import annotations

from typing import Any

from engine.graph import Node
from engine.ops.core import record
from engine.registry import internal_node
from engine.tensor import Tensor

_MUL_SCALAR = internal_node("MulBackward1")
_ADD_SCALAR = internal_node("AddBackward1")
_SUB_SCALAR = internal_node("SubBackward1")
_DIV_SCALAR = internal_node("DivBackward1")


def mul_scalar(t: Any, s: float) -> Any:
    """``t * s`` (C++ ``s * t`` too): MulBackward1."""
    if not isinstance(t, Tensor):
        return t * s
    return record(t._data * s, _MUL_SCALAR, _mul_scalar_vjp, (t,), attrs=s)


def _mul_scalar_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (mul_scalar(g, node.attrs),)


def div_scalar(t: Any, s: float) -> Any:
    """``t / s``: DivBackward1."""
    if not isinstance(t, Tensor):
        return t / s
    return record(t._data / s, _DIV_SCALAR, _div_scalar_vjp, (t,), attrs=s)


def _div_scalar_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (div_scalar(g, node.attrs),)


def add_scalar(t: Any, s: float) -> Any:
    """``t + s`` (C++ ``s + t`` too): AddBackward1, whose VJP passes the gradient on."""
    if not isinstance(t, Tensor):
        return t + s
    return record(t._data + s, _ADD_SCALAR, _pass_vjp, (t,))


def sub_scalar(t: Any, s: float) -> Any:
    """``t - s``: SubBackward1, whose VJP passes the gradient on."""
    if not isinstance(t, Tensor):
        return t - s
    return record(t._data - s, _SUB_SCALAR, _pass_vjp, (t,))


def _pass_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (g,)
