"""Creation ops: constant fills, ranges, identity and random draws from the program's generator.

Each checks the size it is asked for against the program's limits before allocating.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from engine import context, dtypes, sizes
from engine.backend import xp
from engine.errors import INT_REQUIRES_GRAD_CTOR, ArgumentError, AutogradError, DTypeError, ShapeError
from engine.ops.core import check_alloc, check_tensor
from engine.registry import A, T, defop
from engine.tensor import Tensor

_NEW = "creation"
_SIZE = A("size", "ints", doc="the shape")
_DTYPE = A("dtype", "dtype", None, optional=True)
_RG = A("requires_grad", "bool", False)


def _shape(size: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(map(int, size))
    if shape and min(shape) < 0:  # (torch names the first negative one)
        s = next(s for s in shape if s < 0)
        raise ArgumentError(f"Trying to create tensor with negative dimension {s}: "
                            f"[{', '.join(map(str, shape))}]")
    check_alloc(shape, "tensor")
    return shape


def _varargs_size(forward: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """torch's call forms for a creation function whose size comes first: ``ones(2, 3)``,
    ``ones((2, 3))`` or ``ones(size=(2, 3))``, with torch's TypeErrors for mixed forms; the other
    parameters are keyword-only, as in torch. (The signature seen by inspect stays the forward's,
    whose parameters are the registry's.)"""
    name = forward.__name__

    @functools.wraps(forward)
    def call(*args: Any, **kwargs: Any) -> Tensor:
        size = sizes.varargs_size(name, "size", args, kwargs)
        kwargs.pop("size", None)
        return forward(size, **kwargs)

    return call


def _sequence_size(forward: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """A creation function whose size comes first and, as in torch, only as one sequence
    (``full((2, 3), 1.0)``), with torch's TypeError for anything else."""
    name = forward.__name__

    @functools.wraps(forward)
    def call(*args: Any, **kwargs: Any) -> Tensor:
        if args:
            return forward(sizes.sequence_size(name, "size", args[0], 1), *args[1:], **kwargs)
        if "size" in kwargs:
            kwargs["size"] = sizes.sequence_size(name, "size", kwargs["size"])
        return forward(**kwargs)

    return call


def _leaf(arr: Any, requires_grad: bool) -> Tensor:
    t = Tensor(arr)
    if requires_grad:
        if not t.dtype.is_floating_point:  # (a factory's own words, not requires_grad_'s)
            raise AutogradError(INT_REQUIRES_GRAD_CTOR)
        t._requires_grad = True  # (all requires_grad_ would do to a new float leaf)
    return t


def _fill(size: Sequence[int], value: Any, dtype: str | None, requires_grad: bool) -> Tensor:
    dt = dtypes.get(dtype) or (dtypes.result_type(value) if not isinstance(value, float)
                               else dtypes.DEFAULT_FLOAT)
    return _leaf(xp.full(_shape(size), value, dtype=dt.np), requires_grad)


@defop("zeros", [_SIZE, _DTYPE, _RG], doc="A tensor of zeros.", category=_NEW, method=False,
       creation=True)
@_varargs_size
def zeros(size: Sequence[int], dtype: str | None = None, requires_grad: bool = False) -> Tensor:
    if any(s < 0 for s in size):  # (torch's zeros checks sizes itself, before allocating)
        raise ArgumentError("zeros: Dimension size must be non-negative.")
    return _fill(size, 0, dtype or "float32", requires_grad)


@defop("ones", [_SIZE, _DTYPE, _RG], doc="A tensor of ones.", category=_NEW, method=False,
       creation=True)
@_varargs_size
def ones(size: Sequence[int], dtype: str | None = None, requires_grad: bool = False) -> Tensor:
    return _fill(size, 1, dtype or "float32", requires_grad)


@defop("full", [_SIZE, A("fill_value", "number"), _DTYPE, _RG],
       doc="A tensor filled with fill_value (its dtype inferred from the value).", category=_NEW,
       method=False, creation=True)
@_sequence_size
def full(size: Sequence[int], fill_value: float, dtype: str | None = None,
         requires_grad: bool = False) -> Tensor:
    return _fill(size, fill_value, dtype, requires_grad)


@defop("eye", [A("n", "int"), A("m", "int", None, optional=True), _DTYPE, _RG],
       doc="An n x m identity matrix.", category=_NEW, method=False, creation=True)
def eye(n: int, m: int | None = None, dtype: str | None = None, requires_grad: bool = False) -> Tensor:
    for name, value in (("n", n), ("m", m)):
        if value is not None and value < 0:
            raise ArgumentError(f"{name} must be greater or equal to 0, got {value}")
    if n * (n if m is None else m) > 2**63 - 1:  # (torch's numel check comes first)
        raise ShapeError("numel: integer multiplication overflow")
    shape = _shape((n, n if m is None else m))
    dt = dtypes.get(dtype) or dtypes.DEFAULT_FLOAT
    return _leaf(xp.eye(shape[0], shape[1], dtype=dt.np), requires_grad)


@defop("arange", [A("start", "number"), A("end", "number", None, optional=True), A("step", "number", 1),
                  _DTYPE, _RG],
       doc="Values from start (inclusive) to end (exclusive) by step; int64 when all are ints.",
       category=_NEW, method=False, creation=True)
def arange(start: float, end: float | None = None, step: float = 1, dtype: str | None = None,
           requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if not all(math.isfinite(v) for v in (start, end)):
        raise ArgumentError(f"unsupported range: {start:g} -> {end:g}")
    int_dtype = dtypes.get(dtype) is dtypes.int64
    # (torch's test is step > 0 || step < 0, which NaN fails; an integer dtype truncates it first)
    if not (step > 0 or step < 0) or (int_dtype and math.isfinite(step) and int(step) == 0):
        raise ArgumentError("step must be nonzero")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):  # torch's test: NaN fails
        raise ArgumentError("upper bound and lower bound inconsistent with step sign")
    size = math.ceil((float(end) - float(start)) / float(step)) if math.isfinite(
        (float(end) - float(start)) / float(step)) else math.inf
    if size > 2**63 - 1:  # (torch computes the size in doubles: 1e308 by 1e-308 is infinite)
        raise ArgumentError("invalid size, possible overflow?")
    n = max(0, math.ceil((end - start) / step))
    _shape((n,))
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end, step))
    dt = dtypes.get(dtype) or (dtypes.int64 if ints else dtypes.DEFAULT_FLOAT)
    _not_bool(dt, "arange_cpu")
    vals = start + xp.arange(n, dtype=xp.float64 if not ints else xp.int64) * step
    return _leaf(vals.astype(dt.np), requires_grad)


@defop("linspace", [A("start", "number"), A("end", "number"), A("steps", "int"), _DTYPE, _RG],
       doc="steps values evenly spaced from start to end inclusive.", category=_NEW, method=False,
       creation=True)
def linspace(start: float, end: float, steps: int, dtype: str | None = None,
             requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise ArgumentError("number of steps must be non-negative")
    _shape((steps,))
    dt = dtypes.get(dtype) or dtypes.DEFAULT_FLOAT
    _not_bool(dt, "linspace_cpu")
    return _leaf(xp.linspace(start, end, steps, dtype=xp.float64).astype(dt.np), requires_grad)


def _float_dtype(dtype: str | None, op: str) -> dtypes.DType:
    dt = dtypes.get(dtype) or dtypes.DEFAULT_FLOAT
    if not dt.is_floating_point:
        raise DTypeError(f"\"{op}\" not implemented for '{dt.scalar_type}'")
    return dt


def _not_bool(dt: dtypes.DType, kernel: str) -> None:
    if dt is dtypes.bool_:
        raise DTypeError(f"\"{kernel}\" not implemented for 'Bool'")


@defop("rand", [_SIZE, _DTYPE, _RG], doc="Uniform [0, 1) draws from the program's generator.",
       category=_NEW, method=False, creation=True)
@_varargs_size
def rand(size: Sequence[int], dtype: str | None = None, requires_grad: bool = False) -> Tensor:
    dt = _float_dtype(dtype, "check_uniform_bounds")
    return _leaf(context.generator().uniform(_shape(size), dt.np), requires_grad)


@defop("randn", [_SIZE, _DTYPE, _RG], doc="Standard normal draws from the program's generator.",
       category=_NEW, method=False, creation=True)
@_varargs_size
def randn(size: Sequence[int], dtype: str | None = None, requires_grad: bool = False) -> Tensor:
    dt = _float_dtype(dtype, "normal_kernel_cpu")
    return _leaf(context.generator().normal(_shape(size), dt.np), requires_grad)


def _randint_forms(forward: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """torch's two positional forms, ``randint(high, size)`` and ``randint(low, high, size)``; the
    size is one sequence (torch takes no varargs here)."""

    @functools.wraps(forward)
    def call(*args: Any, **kwargs: Any) -> Tensor:
        # (what the call gave, for torch's message)
        given: tuple[tuple[Any, ...], dict[str, Any]] = (args, dict(kwargs))
        if len(args) == 1 and not kwargs:  # randint(3): no signature takes one argument
            raise sizes.refuse("randint", "randint() takes a size", *given)
        position = None  # the size's place among the positional arguments, if it is one
        if len(args) == 2 and "size" not in kwargs:  # randint(high, size): low is 0
            kwargs["low"], kwargs["high"], kwargs["size"] = kwargs.get("low", 0), *args
            args, position = (), 2
        elif len(args) == 3:
            kwargs["low"], kwargs["high"], kwargs["size"] = args
            args, position = (), 3
        if "size" in kwargs:
            kwargs["size"] = sizes.sequence_size("randint", "size", kwargs["size"], position, given)
        return forward(*args, **kwargs)

    return call


@defop("randint", [A("low", "int", 0), A("high", "int"), _SIZE, _DTYPE],
       doc="Integers in [low, high) from the program's generator.", category=_NEW, method=False,
       creation=True)
@_randint_forms
def randint(low: int = 0, high: int = 0, size: Sequence[int] = (), dtype: str | None = None) -> Tensor:
    if high <= low:
        raise ArgumentError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = dtypes.get(dtype) or dtypes.int64
    if dt is dtypes.bool_ and not 0 <= low <= 1:
        raise ArgumentError("from is out of bounds for bool")
    if dt is dtypes.bool_ and high - 1 > 1:
        raise ArgumentError("to - 1 is out of bounds for bool")
    return Tensor(context.generator().integers(low, high, _shape(size), dt.np))


def _like(name: str, make: Any, doc: str, extra: Sequence[Any] = ()) -> Any:
    @defop(name, [T(), *extra, _DTYPE, _RG], doc=doc, category=_NEW, method=False, creation=True)
    def op(input: Tensor, *args: Any, dtype: str | None = None, requires_grad: bool = False
           ) -> Tensor:
        check_tensor(input, name)
        return make(list(input.shape), *args, dtype=dtype or input.dtype.name,
                    requires_grad=requires_grad)

    op.__name__ = name
    return op


zeros_like = _like("zeros_like", zeros, "Zeros shaped like input.")
ones_like = _like("ones_like", ones, "Ones shaped like input.")
rand_like = _like("rand_like", rand, "Uniform draws shaped like input.")
randn_like = _like("randn_like", randn, "Normal draws shaped like input.")


@defop("full_like", [T(), A("fill_value", "number"), _DTYPE, _RG],
       doc="fill_value shaped like input.", category=_NEW, method=False, creation=True)
def full_like(input: Tensor, fill_value: float, dtype: str | None = None,
              requires_grad: bool = False) -> Tensor:
    check_tensor(input, "full_like")
    return full(list(input.shape), fill_value, dtype=dtype or input.dtype.name,
                requires_grad=requires_grad)


@defop("randint_like", [T(), A("low", "int", 0), A("high", "int"), _DTYPE],
       doc="Integers in [low, high) shaped like input.", category=_NEW, method=False, creation=True)
def randint_like(input: Tensor, low: int = 0, high: int = 0, dtype: str | None = None) -> Tensor:
    check_tensor(input, "randint_like")
    return randint(low, high, list(input.shape), dtype=dtype or input.dtype.name)
