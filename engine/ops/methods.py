"""torch's Tensor methods and Python operators, attached to the Tensor class from the ops layer.

engine/tensor.py sits below the ops and imports none of them; this module gives the class its
op-backed methods once every op is registered: each registry op declared as a method under its
own name, the forms torch spells with varargs (``x.view(2, 3)``), and the Python operators that
are ops (``x * y`` is ``mul(x, y)``). The operators that only forward to one op are bound straight
to it: one Python call per operator instead of two.
"""

from __future__ import annotations

from typing import Any

from engine import ops, sizes
from engine.dtypes import BY_NAME, DType
from engine.errors import ArgumentTypeError
from engine.registry import OPS
from engine.tensor import Tensor

# Python operator -> the op it is (``x * y`` is ``mul(x, y)``, ``2 * x`` is ``mul(x, 2)``).
OPERATORS = {
    "__add__": "add", "__radd__": "add", "__sub__": "sub", "__rsub__": "rsub", "__mul__": "mul",
    "__rmul__": "mul", "__truediv__": "div", "__pow__": "pow", "__matmul__": "matmul",
    "__neg__": "neg", "__abs__": "abs", "__invert__": "logical_not", "__and__": "logical_and",
    "__or__": "logical_or", "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge",
    "__eq__": "eq", "__ne__": "ne", "__getitem__": "getitem",
}


# Augmented assignment -> the in-place op it is (``x += y`` is ``x.add_(y)``; torch has no @=).
INPLACE_OPERATORS = {
    "__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_",
    "__ipow__": "pow_",
}


def _varargs_method(name: str, arg: str) -> Any:
    """A method torch lets take its ints as varargs or one sequence (``x.view(2, 3)``,
    ``x.view((2, 3))``, ``x.view(size=(2, 3))``); ``arg`` is torch's name for them. (Made at
    install, once every op is registered.)"""
    op = OPS[name].fn

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        for key in kwargs:
            if key != arg:
                raise ArgumentTypeError(f"{name}() got an unexpected keyword argument '{key}'")
        return op(self, sizes.varargs_size(name, arg, args, kwargs))

    method.__name__ = method.__qualname__ = name
    return method


def _transposed(self: Tensor) -> Tensor:
    return ops.permute(self, list(range(self.ndim))[::-1])


def _rtruediv(self: Tensor, other: Any) -> Tensor:
    # torch computes `s / x` as `x.reciprocal() * s`, hence MulBackward0 over ReciprocalBackward0
    return ops.mul(ops.reciprocal(self), other)


def _rpow(self: Tensor, base: Any) -> Tensor:
    return ops.pow(base, self)


def _rmatmul(self: Tensor, other: Tensor) -> Tensor:
    return ops.matmul(other, self)


def _cast(dtype: DType) -> Any:
    def cast(self: Tensor) -> Tensor:
        return ops.to(self, dtype.name)

    cast.__name__ = cast.__qualname__ = dtype.method
    return cast


# Methods torch lets take their ints as varargs -> torch's name for that argument.
VARARGS_METHODS = {
    "reshape": "shape", "view": "size", "permute": "dims", "expand": "size", "repeat": "repeats",
    "tile": "dims", "flip": "dims", "broadcast_to": "size",
}


# Methods that are not one registry op called as it is (these reorder or gather their arguments).
METHODS: dict[str, Any] = {
    "T": property(_transposed), "__rtruediv__": _rtruediv, "__rpow__": _rpow,
    "__rmatmul__": _rmatmul, **{d.method: _cast(d) for d in BY_NAME.values()},
}


def install() -> None:
    """Attach every op-backed method to Tensor (once, when engine.ops is imported)."""
    for name, method in METHODS.items():
        setattr(Tensor, name, method)
    for name, arg in VARARGS_METHODS.items():
        setattr(Tensor, name, _varargs_method(name, arg))
    for name, op in OPS.items():
        if op.method and not hasattr(Tensor, name):
            setattr(Tensor, name, op.fn)
    for dunder, name in OPERATORS.items():
        setattr(Tensor, dunder, getattr(ops, name))  # (getitem: Python's meaning, not the registry's)
    for dunder, name in INPLACE_OPERATORS.items():
        setattr(Tensor, dunder, OPS[name].fn)
    Tensor.__setitem__ = ops.setitem_python  # type: ignore[method-assign]  # x[i] = v
    Tensor._view_history = ops.view_history  # type: ignore[method-assign,assignment]
