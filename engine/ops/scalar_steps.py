"""tensor-and-number arithmetic as torch's own C++ code records it.

Inside torch's backward formulas and composite losses, ``t * 2.0`` calls mul's Scalar overload:
its node is MulBackward1 with a single edge, where the same expression in Python is MulBackward0
with a second, empty edge for the wrapped number. These helpers record the Scalar overloads'
nodes (each declared once, here), so a VJP written with them records the graph torch's formula
records; their own VJPs use them again, as torch's do.
"""

from __future__ import annotations

from typing import Any

from engine.graph import Node
from engine.ops.core import record
from engine.registry import internal_node
from engine.tensor import Tensor

__all__ = ["add_scalar", "div_scalar", "mul_scalar", "sub_scalar"]

_MUL = internal_node("MulBackward1")
_ADD = internal_node("AddBackward1")
_SUB = internal_node("SubBackward1")
_DIV = internal_node("DivBackward1")


def mul_scalar(t: Tensor, s: float) -> Tensor:
    """``t * s`` (MulBackward1)."""
    return record(t._data * s, _MUL, _mul_vjp, (t,), attrs=s)


def _mul_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (mul_scalar(g, node.attrs),)


def div_scalar(t: Tensor, s: float) -> Tensor:
    """``t / s`` (DivBackward1)."""
    return record(t._data / s, _DIV, _div_vjp, (t,), attrs=s)


def _div_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (div_scalar(g, node.attrs),)


def add_scalar(t: Tensor, s: float) -> Tensor:
    """``t + s`` (AddBackward1)."""
    return record(t._data + s, _ADD, _pass_vjp, (t,))


def sub_scalar(t: Tensor, s: float) -> Tensor:
    """``t - s`` (SubBackward1)."""
    return record(t._data - s, _SUB, _pass_vjp, (t,))


def _pass_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (g,)
