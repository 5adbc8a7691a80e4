"""Reductions: sum, mean, prod, max/min, amax/amin, argmax/argmin, var/std, norm, logsumexp.

Subgradients follow torch: max()/amax/amin split the gradient evenly between ties, max(dim) sends
it all to the index it returns, norm at 0 has gradient 0.
"""

from __future__ import annotations

import math
from typing import Any

from engine import dtypes, ops
from engine.backend import xp
from engine.dims import wrap_dim, wrap_dims
from engine.errors import ArgumentError, DTypeError, ShapeError
from engine.graph import Node
from engine.ops.core import (
    NOT_GIVEN,
    OUT,
    check_tensor,
    expand_reduced,
    floating,
    record,
    record_multi,
)
from engine.registry import A, T, defop
from engine.summation import torch_sum
from engine.tensor import Tensor

_RED = "reduction"
_DIMS = A("dim", "dims", None, optional=True)
_KEEP = A("keepdim", "bool", False)


def _kept_shape(shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool) -> tuple[int, ...]:
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _reduce(fn: Any, a: Any, dims: tuple[int, ...], keepdim: bool, **kw: Any) -> Any:
    return xp.asarray(fn(a, axis=dims, keepdims=keepdim, **kw))



# ----- sum / mean -----------------------------------------------------------------------------
@defop("sum", [T(), _DIMS, _KEEP, A("dtype", "dtype", None, optional=True)],
       grad_fns=("SumBackward0", "SumBackward1"), doc="Sum of all elements, or over dim.",
       category=_RED)
def sum(input: Tensor, dim: Any = NOT_GIVEN, keepdim: bool = False, dtype: str | None = None
        ) -> Tensor:  # noqa: A001
    check_tensor(input, "sum")
    given = dim is not NOT_GIVEN
    dims = wrap_dims(dim if given else None, input.ndim)
    out_dt = dtypes.get(dtype) or (input.dtype if input.dtype.category == 2 else dtypes.int64)
    a = input._data if input._data.dtype == out_dt.np else input._data.astype(out_dt.np)
    out = torch_sum(a, dims, keepdim)  # (torch's order of additions: its last bits)
    if not given:
        return record(out, sum.op.forms["SumBackward0"], _sum_vjp, (input,), attrs=(input.shape, dims, False))
    return record(out, sum.op.forms["SumBackward1"], _sum_vjp, (input,), attrs=(input.shape, dims, keepdim))


def _sum_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    shape, dims, keepdim = node.attrs
    return (expand_reduced(g, shape, dims, keepdim),)


@defop("mean", [T(), _DIMS, _KEEP], grad_fns=("MeanBackward0", "MeanBackward1"),
       doc="Mean of all elements, or over dim.", category=_RED)
def mean(input: Tensor, dim: Any = NOT_GIVEN, keepdim: bool = False) -> Tensor:
    check_tensor(input, "mean")
    given = dim is not NOT_GIVEN
    dim = dim if given else None
    if input.dtype.category != 2:
        raise DTypeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {input.dtype.scalar_type}"
        )
    dims = wrap_dims(dim, input.ndim)
    count = math.prod(input.shape[d] for d in dims)
    out = xp.asarray(torch_sum(input._data, dims, keepdim) / count)  # (torch's CPU mean: sum / n)
    name = mean.op.forms["MeanBackward1"] if given else mean.op.forms["MeanBackward0"]
    return record(out, name, _mean_vjp, (input,), attrs=(input.shape, dims, keepdim, count))


def _mean_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    shape, dims, keepdim, count = node.attrs
    return (expand_reduced(g, shape, dims, keepdim) / count,)


# ----- prod -----------------------------------------------------------------------------------
@defop("prod", [T(), A("dim", "int", None, optional=True), _KEEP],
       grad_fns=("ProdBackward0", "ProdBackward1"), doc="Product of all elements, or over dim.",
       category=_RED)
def prod(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    check_tensor(input, "prod")
    dims = wrap_dims(dim, input.ndim)
    a = input._data if input.dtype.category == 2 else input._data.astype(xp.int64)
    out = _reduce(xp.prod, a, dims, keepdim)
    name = prod.op.forms["ProdBackward0"] if dim is None else prod.op.forms["ProdBackward1"]
    return record(out, name, _prod_vjp, (input,), saved=(input, OUT),
                  attrs=(input.shape, dims, keepdim))


def _prod_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # d prod / d x_i is the product of the other elements. Without zeros that is result / x_i;
    # with zeros it is computed as a product with x_i replaced by 1, which stays right for
    # second derivatives too (unlike a formula branching on the count of zeros).
    x, out = node.saved()
    shape, dims, keepdim = node.attrs
    g = expand_reduced(g, shape, dims, keepdim)
    if not bool((x._data == 0).any()):
        return (g * (expand_reduced(out, shape, dims, keepdim) / x),)
    if len(dims) != 1:  # prod over everything: the same, on the flattened tensor
        others = _exclusive_prod(ops.flatten(x) if x.ndim else ops.reshape(x, [1]), 0)
        return (g * ops.reshape(others, list(shape)),)
    return (g * _exclusive_prod(x, dims[0]),)


def _exclusive_prod(x: Tensor, d: int) -> Tensor:
    """For each element, the product of the others along dim d (a masked n x n product)."""
    n = x.shape[d]
    xt = ops.transpose(x, d, -1)
    rows = ops.expand(ops.unsqueeze(xt, -2), [*xt.shape[:-1], n, n])
    eye = ops.eye(n, dtype="bool")
    others = ops.prod(ops.where(eye, 1.0, rows), -1)
    return ops.transpose(others, d, -1)


# ----- max / min ------------------------------------------------------------------------------
def _extreme(name: str, fn: Any, arg: Any) -> Any:
    all_name = "MaxBackward1" if name == "max" else "MinBackward1"
    dim_name = "MaxBackward0" if name == "max" else "MinBackward0"

    @defop(name, [T(), A("dim", "int", None, optional=True), _KEEP],
           grad_fns=(all_name, dim_name), outputs=("values", "indices"),
           doc=f"{name} of all elements (ties share the gradient), or (values, indices) over dim.",
           category=_RED)
    def op(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
        check_tensor(input, name)
        a = input._data
        if dim is None:
            if a.size == 0:
                raise ShapeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument."
                )
            return record(xp.asarray(fn(a)), all_name, _max_all_vjp, (input,),
                          saved=(input, OUT), attrs=(input.shape, tuple(range(input.ndim)), False))
        d = wrap_dim(dim, input.ndim)
        if input.ndim and input.shape[d] == 0:
            raise ShapeError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        idx = xp.expand_dims(arg(a, axis=d), d) if input.ndim else xp.zeros((), dtype=xp.int64)
        vals = xp.take_along_axis(a, idx, axis=d) if input.ndim else a
        if not keepdim and input.ndim:
            idx, vals = xp.squeeze(idx, axis=d), xp.squeeze(vals, axis=d)
        return record_multi((vals, idx.astype(xp.int64)), dim_name, _select_vjp, (input,),
                            saved=(Tensor(idx),), attrs=(input.shape, d, keepdim),
                            differentiable=(True, False))

    op.__name__ = name
    return op


def _even_split_vjp(node: Node, g: Any) -> tuple[Any, ...]:
    """Gradient of a value-selecting reduction shared evenly among the elements that tie."""
    x, out = node.saved()
    shape, dims, keepdim = node.attrs
    mask = x == expand_reduced(out, shape, dims, keepdim)
    count = ops.sum(mask, list(dims), keepdim=True)
    return (expand_reduced(g, shape, dims, keepdim) * mask / count,)


def _max_all_vjp(node: Node, g: Any) -> tuple[Any, ...]:
    """max()/min() of everything: ties share the gradient; a NaN result sends it all to the NaN
    elements (torch's evenly_distribute_backward)."""
    x, out = node.saved()
    mask = ops.isnan(x) if bool(xp.isnan(out._data)) else x == out
    return (g * mask / ops.sum(mask),)


def _select_vjp(node: Node, grads: list[Tensor]) -> tuple[Any, ...]:
    """Gradient of max(dim)/min(dim): all of it to the index returned."""
    (idx,) = node.saved()
    shape, d, keepdim = node.attrs
    g = grads[0]
    if not shape:
        return (g,)
    if not keepdim:
        g = ops.unsqueeze(g, d)
        idx = ops.unsqueeze(idx, d)
    return (ops.scatter_add(ops.zeros(list(shape), dtype=g.dtype), d, idx, g),)


max = _extreme("max", xp.max, xp.argmax)  # noqa: A001
min = _extreme("min", xp.min, xp.argmin)  # noqa: A001


def _amax_like(name: str, fn: Any, grad_fn: str) -> Any:
    @defop(name, [T(), A("dim", "dims", ()), _KEEP], grad_fns=grad_fn,
           doc=f"{name[1:]} over dim (all dims by default); ties share the gradient.",
           category=_RED)
    def op(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
        check_tensor(input, name)
        dims = wrap_dims(dim, input.ndim)
        if input._data.size == 0 and any(input.shape[d] == 0 for d in dims):
            raise ShapeError(f"{name}(): Expected reduction dim to have non-zero size.")
        out = _reduce(fn, input._data, dims, keepdim)
        return record(out, grad_fn, _even_split_vjp, (input,), saved=(input, OUT),
                      attrs=(input.shape, dims, keepdim))

    op.__name__ = name
    return op


amax = _amax_like("amax", xp.max, "AmaxBackward0")
amin = _amax_like("amin", xp.min, "AminBackward0")


def _arg(name: str, fn: Any) -> Any:
    @defop(name, [T(), A("dim", "int", None, optional=True), _KEEP],
           doc=f"Index of the {name[3:]} (first on ties), flattened unless dim.", category=_RED,
           differentiable=False)
    def op(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
        check_tensor(input, name)
        a = input._data
        if dim is None:
            if a.size == 0:
                raise ShapeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
            r = xp.asarray(fn(a.reshape(-1)))
            if keepdim:
                r = r.reshape((1,) * input.ndim)
            return Tensor(r.astype(xp.int64))
        d = wrap_dim(dim, input.ndim)
        if input.ndim and input.shape[d] == 0:
            raise ShapeError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        r = fn(a, axis=d) if input.ndim else xp.zeros((), dtype=xp.int64)
        if keepdim and input.ndim:
            r = xp.expand_dims(r, d)
        return Tensor(xp.asarray(r).astype(xp.int64))

    op.__name__ = name
    return op


argmax = _arg("argmax", xp.argmax)
argmin = _arg("argmin", xp.argmin)


# ----- var / std ------------------------------------------------------------------------------
def _spread(name: str, grad_fn: str) -> Any:
    @defop(name, [T(), _DIMS, A("correction", "number", 1), _KEEP], grad_fns=grad_fn,
           doc=f"{'Variance' if name == 'var' else 'Standard deviation'} with torch's correction "
               "(1 = unbiased).", category=_RED)
    def op(input: Tensor, dim: Any = None, correction: float = 1, keepdim: bool = False
           ) -> Tensor:
        check_tensor(input, name)
        if input.dtype.category != 2:
            raise DTypeError(f"{name}(): input dtype should be floating point, got "
                             f"{input.dtype.scalar_type}")
        dims = wrap_dims(dim, input.ndim)
        fn = xp.var if name == "var" else xp.std
        out = _reduce(fn, input._data, dims, keepdim, ddof=correction)
        saved = (input,) if name == "var" else (input, OUT)
        return record(out, grad_fn, _var_vjp if name == "var" else _std_vjp, (input,),
                      saved=saved, attrs=(input.shape, dims, keepdim, correction))

    op.__name__ = name
    return op


def _var_grad(g: Tensor, x: Tensor, attrs: Any) -> Tensor:
    shape, dims, keepdim, correction = attrs
    n = math.prod(shape[d] for d in dims)
    # no degrees of freedom left: torch's 2 / 0 is inf, which makes the gradient NaN
    scale = 2.0 / (n - correction) if n != correction else math.inf
    centred = x - ops.mean(x, list(dims), keepdim=True)
    return expand_reduced(g, shape, dims, keepdim) * centred * scale


def _var_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()
    return (_var_grad(g, x, node.attrs),)


def _std_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, out = node.saved()
    grad_var = ops.where(out == 0, 0.0, g / (2 * out))
    return (_var_grad(grad_var, x, node.attrs),)


var = _spread("var", "VarBackward0")
std = _spread("std", "StdBackward0")


# ----- norm, logsumexp ------------------------------------------------------------------------
# p: a number (math.inf for the max norm) or torch's "fro". ("inf" and "-inf" are the wire's
# spellings of the infinities, JSON having none: the service turns them into floats.)
@defop("norm", [T(), A("p", "number", "fro", choices=("fro", "inf", "-inf")), _DIMS, _KEEP],
       grad_fns="LinalgVectorNormBackward0",
       doc="Vector p-norm (p = a number, 'fro' (= 2), 'inf' or '-inf') of all elements or over dim.",
       category=_RED)
def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    check_tensor(input, "norm")
    if isinstance(p, bool) or (isinstance(p, str) and p != "fro"):
        raise ArgumentError(f"norm(): unsupported p {p!r}; use a number or 'fro'")
    p = 2.0 if p == "fro" else float(p)
    x = floating(input)
    dims = wrap_dims(dim, input.ndim)
    ax = xp.abs(x)
    if p == math.inf:
        out = xp.max(ax, axis=dims, keepdims=keepdim) if x.size else xp.zeros(
            _kept_shape(x.shape, dims, keepdim), dtype=x.dtype)
    elif p == -math.inf:
        out = xp.min(ax, axis=dims, keepdims=keepdim)
    elif p == 0:
        out = xp.sum(ax != 0, axis=dims, keepdims=keepdim).astype(x.dtype)
    elif p == 1:
        out = xp.sum(ax, axis=dims, keepdims=keepdim)
    elif p == 2:
        out = xp.sqrt(xp.sum(x * x, axis=dims, keepdims=keepdim))
    else:
        out = xp.sum(ax ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)
    return record(xp.asarray(out, dtype=x.dtype), norm.op.grad_fn, _norm_vjp,
                  (input,), saved=(input, OUT), attrs=(input.shape, dims, keepdim, p))


def _norm_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, out = node.saved()
    shape, dims, keepdim, p = node.attrs
    g = expand_reduced(g, shape, dims, keepdim)
    out = expand_reduced(out, shape, dims, keepdim)
    if p == 0:
        return (g * 0.0,)
    if p == 1:
        return (g * ops.sign(x),)
    if p == 2:
        return (g * ops.where(out == 0, 0.0, x / out),)
    if p in (math.inf, -math.inf):
        mask = ops.abs(x) == out
        count = ops.sum(mask, list(dims), keepdim=True)
        return (g * ops.sign(x) * mask / count,)
    scale = ops.where(out == 0, 0.0, x * ops.abs(x) ** (p - 2) / out ** (p - 1))
    return (g * scale,)


@defop("logsumexp", [T(), A("dim", "dims"), _KEEP], grad_fns="LogsumexpBackward0",
       doc="log(sum(exp(input))) over dim, computed stably.", category=_RED)
def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    check_tensor(input, "logsumexp")
    x = floating(input)
    dims = wrap_dims(dim, input.ndim)
    m = xp.max(x, axis=dims, keepdims=True) if x.size else xp.zeros(
        _kept_shape(x.shape, dims, True), dtype=x.dtype)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.sum(xp.exp(x - m), axis=dims, keepdims=True)) + m
    if not keepdim:
        out = xp.squeeze(out, axis=dims)
    return record(xp.asarray(out, dtype=x.dtype), logsumexp.op.grad_fn, _logsumexp_vjp, (input,),
                  saved=(input, OUT), attrs=(input.shape, dims, keepdim))


def _logsumexp_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, out = node.saved()
    shape, dims, keepdim = node.attrs
    return (expand_reduced(g, shape, dims, keepdim) *
            ops.exp(x - expand_reduced(out, shape, dims, keepdim)),)
