"""Tensor dtypes and torch's type-promotion rules.

gradserve supports torch's float32 (the default floating dtype), float64, int64 and bool.  Results of
mixed-dtype ops follow torch's ``result_type``: a category order bool < integer < floating, and a
priority order dimensioned tensors > zero-dimensional tensors > Python numbers, so that
``int_tensor * 2.5`` is float32 and ``float32_tensor + float64_zero_dim`` stays float32.
"""

from __future__ import annotations

from typing import Any

from engine.backend import xp


class DType:
    """A tensor dtype: prints as torch does (``torch.float32``), and carries the other names
    torch's messages give it."""

    __slots__ = ("name", "np", "dtype", "category", "itemsize", "scalar_type", "c_type", "method")

    def __init__(self, name: str, np_dtype: Any, category: int, itemsize: int, scalar_type: str,
                 c_type: str, method: str) -> None:
        self.name = name
        self.np = np_dtype
        self.dtype = xp.dtype(np_dtype)  # the dtype instance arrays carry (a singleton)
        self.category = category  # 0 bool, 1 integer, 2 floating
        self.itemsize = itemsize
        self.scalar_type = scalar_type  # c10's ScalarType name: "expected scalar type Float"
        self.c_type = c_type  # the C++ type: "expected m1 and m2 to have the same dtype: float"
        self.method = method  # the Tensor method that casts to it: x.double()

    @property
    def is_floating_point(self) -> bool:
        return self.category == 2

    @property
    def legacy_type(self) -> str:
        """The legacy tensor type name torch's older checks print: torch.FloatTensor (bool has
        none, and prints as its dispatch type)."""
        return "CPUBoolType" if self.name == "bool" else f"torch.{self.scalar_type}Tensor"

    def __repr__(self) -> str:
        return f"torch.{self.name}"


bool_ = DType("bool", xp.bool_, 0, 1, "Bool", "bool", "bool")
int64 = DType("int64", xp.int64, 1, 8, "Long", "long int", "long")
float32 = DType("float32", xp.float32, 2, 4, "Float", "float", "float")
float64 = DType("float64", xp.float64, 2, 8, "Double", "double", "double")

BY_NAME: dict[str, DType] = {d.name: d for d in (float32, float64, int64, bool_)}
NAMES: tuple[str, ...] = tuple(BY_NAME)
_BY_NP: dict[Any, DType] = {xp.dtype(d.np): d for d in BY_NAME.values()}  # by array.dtype
DEFAULT_FLOAT = float32


def of_array(a: Any) -> DType:
    """The DType of a backend array (which must already hold one of the supported dtypes)."""
    return _BY_NP[a.dtype]


def of_dtype(d: Any) -> DType:
    """The DType of a backend array dtype (``array.dtype``)."""
    return _BY_NP[d]


def get(name: str | DType | None) -> DType | None:
    if name is None or isinstance(name, DType):
        return name
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; expected one of {', '.join(NAMES)}") from None


def promote(a: DType, b: DType) -> DType:
    """torch.promote_types for the supported dtypes."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return a if a.itemsize >= b.itemsize else b


def of_scalar(v: Any) -> DType:
    """The dtype a Python number takes part in promotion with (floats take the default dtype)."""
    if isinstance(v, bool):
        return bool_
    if isinstance(v, int):
        return int64
    return DEFAULT_FLOAT


def _combine(higher: DType | None, lower: DType | None) -> DType | None:
    # Mirrors torch's combine_categories: a lower-priority operand only matters when it lifts the
    # category (an int tensor meeting a float scalar becomes floating; bool meeting int becomes int).
    if higher is None:
        return lower
    if lower is None or higher.category == 2:
        return higher
    if higher is bool_ or lower.category == 2:
        return promote(higher, lower)
    return higher


def result_type(*operands: Any) -> DType:
    """The dtype torch computes a mixed op in. Operands are Tensors or Python numbers."""
    dim: DType | None = None
    zero: DType | None = None
    wrapped: DType | None = None
    for o in operands:
        d = getattr(o, "dtype", None)
        if d is None:
            s = of_scalar(o)
            wrapped = s if wrapped is None else promote(wrapped, s)
        elif o.ndim == 0:
            zero = d if zero is None else promote(zero, d)
        else:
            dim = d if dim is None else promote(dim, d)
    out = _combine(dim, _combine(zero, wrapped))
    assert out is not None
    return out
