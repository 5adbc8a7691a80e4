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
from engine.errors import ArgumentError, AutogradError, DTypeError, ShapeError
from engine.grad_mode import is_grad_enabled
from engine.graph import Node
from engine.ops.core import (
    NOT_GIVEN,
    OUT,
    check_tensor,
    expand_reduced,
    floating,
    record,
    record_multi,
    unsqueeze_multiple,
)
from engine.ops.elementwise import pow_into_temporary
from engine.ops.elementwise import sgn as _sgn
from engine.ops.indexing import narrow
from engine.ops.scalar_ops import div_scalar, mul_scalar
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
def check_result_dtype(input: Tensor, dt: dtypes.DType) -> None:
    """torch's refusal to record a node for a result that cannot carry a gradient: an op asked for
    an integer or bool result of an input that requires grad (sum(x, dtype=int64))."""
    if not dt.is_floating_point and input.requires_grad and is_grad_enabled():
        raise AutogradError(f"Autograd not support dtype: {dt.scalar_type}")


@defop("sum", [T(), _DIMS, _KEEP, A("dtype", "dtype", None, optional=True)],
       grad_fns=("SumBackward0", "SumBackward1"), doc="Sum of all elements, or over dim.",
       category=_RED)
def sum(input: Tensor, dim: Any = NOT_GIVEN, keepdim: bool = False, dtype: str | None = None
        ) -> Tensor:  # noqa: A001
    if dim is NOT_GIVEN and dtype is None and input.__class__ is Tensor and \
            (a := input._data).dtype.kind == "f":
        # The default form of a float tensor (loss.sum()), past the checks it cannot fail and
        # the dim and dtype handling: on a small tensor they cost half the op
        # (tests/engine/test_float_sum_paths.py compares it with the general path)
        dims = tuple(range(a.ndim))
    else:
        check_tensor(input, "sum")
        dims = wrap_dims(None if dim is NOT_GIVEN else dim, input.ndim)
        out_dt = dtypes.get(dtype) or (input.dtype if input.dtype.category == 2 else dtypes.int64)
        if dtype is not None:
            check_result_dtype(input, out_dt)
        a = input._data if input._data.dtype == out_dt.np else input._data.astype(out_dt.np)
    out = torch_sum(a, dims, keepdim)  # (torch's order of additions: its last bits)
    if dim is NOT_GIVEN:
        return record(out, sum.op.forms["SumBackward0"], _sum_vjp, (input,), attrs=(input.shape, (), False))
    return record(out, sum.op.forms["SumBackward1"], _sum_vjp, (input,),
                  attrs=(input.shape, _listed(dim, dims), keepdim))


def _listed(dim: Any, dims: tuple[int, ...]) -> tuple[int, ...]:
    """The reduced dims a VJP puts back one by one: none where torch's formula is given no dim
    list (dim None or []), which then broadcasts the gradient as it is."""
    return () if dim is None or (isinstance(dim, (list, tuple)) and not dim) else dims


def _sum_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    shape, dims, keepdim = node.attrs
    if node.name() == sum.op.forms["SumBackward0"]:  # torch: grad.expand(self.sizes())
        return (ops.expand(g, list(shape)),)
    return (expand_reduced(g, shape, dims, keepdim),)


@defop("mean", [T(), _DIMS, _KEEP], grad_fns=("MeanBackward0", "MeanBackward1"),
       doc="Mean of all elements, or over dim.", category=_RED)
def mean(input: Tensor, dim: Any = NOT_GIVEN, keepdim: bool = False) -> Tensor:
    if dim is NOT_GIVEN and input.__class__ is Tensor and (x := input._data).dtype.kind == "f":
        # The default form (loss.mean()), past the checks it cannot fail and the dim handling:
        # on a small tensor they cost a third of the op (tests/engine/test_float_sum_paths.py
        # compares it with mean(x, None), the general path's)
        return _mean(input, x, tuple(range(x.ndim)), keepdim, (), x.size,
                     mean.op.forms["MeanBackward0"])
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
    name = mean.op.forms["MeanBackward1"] if given else mean.op.forms["MeanBackward0"]
    return _mean(input, input._data, dims, keepdim, _listed(dim, dims), count, name)


def _mean(input: Tensor, x: Any, dims: tuple[int, ...], keepdim: bool, listed: tuple[int, ...],
          count: int, name: str) -> Tensor:
    """The mean of ``input`` (array ``x``) over ``dims``, ``count`` elements each, recorded."""
    out = xp.asarray(torch_sum(x, dims, keepdim) / count)  # (torch's CPU mean: sum / n)
    return record(out, name, _mean_vjp, (input,), attrs=(input.shape, listed, keepdim, count))


def _mean_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch: the sum's gradient divided by the count, a number in C++ (DivBackward1)
    shape, dims, keepdim, count = node.attrs
    if not is_grad_enabled():  # (a first-order pass: no graph to record, values only)
        fresh = not _takes_broadcast(node.next_functions[0][0])
        return (Tensor(_spread_quotient(g._data, shape, dims, keepdim, count, fresh)),)
    if node.name() == mean.op.forms["MeanBackward0"]:
        return (div_scalar(ops.expand(g, list(shape)), count),)
    return (div_scalar(expand_reduced(g, shape, dims, keepdim), count),)


def _takes_broadcast(consumer: Node | None) -> bool:
    """Whether the node a mean's gradient goes to may take it as a read-only broadcast view of the
    quotients instead of a new array (one array of the input's size and its fill fewer: a squared
    loss's backward). Its VJP must say that it only reads its gradient elementwise
    (graph.takes_broadcast), and what it saved must be C-ordered: numpy lays a ufunc's result out
    after its operands' strides, where a broadcast's leave it to the others, so only then is the
    result laid out (and later summed) as it is from a new C-ordered gradient. A gradient that
    leaves the pass is copied where it is such a view (autograd._own)."""
    if consumer is None or not getattr(consumer.vjp, "takes_broadcast", False):
        return False
    saved = consumer._saved
    if saved is None:  # (freed: its VJP raises torch's error)
        return False
    for v in saved:
        a = consumer._output if v is OUT else v._data if v.__class__ is Tensor else None
        if a is not None and not a.flags.c_contiguous:
            return False
    return True


def _spread_quotient(g: Any, shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool,
                     count: int, fresh: bool = True) -> Any:
    """``expand(g) / count`` as a new array of ``shape``: each of g's elements divided once, then
    copied to the places the expansion would repeat it at. The same values (the same division of
    the same number), contiguous and writable as torch's quotient, without dividing a broadcast
    array element by element (a mean's backward over a large tensor: four times the cost).
    Not ``fresh``: the divided elements as a read-only broadcast view of ``shape`` (the same
    values, no copy) where they are C-ordered (see _takes_broadcast)."""
    if not math.prod(shape):  # (an empty result divides nothing: no 0/0 warning)
        return xp.empty(shape, dtype=g.dtype)
    q = xp.divide(g, count)
    if dims and not keepdim and shape:  # (torch's unsqueeze of each reduced dim)
        q = xp.reshape(q, [1 if i in dims else s for i, s in enumerate(shape)])
    if not fresh and q.dtype == g.dtype and q.flags.c_contiguous:
        return xp.broadcast_to(q, shape)
    out = xp.empty(shape, dtype=g.dtype)
    out[...] = q
    return out


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
    # torch's prod_backward: result / x without zeros; with zeros, the product of the others as
    # exclusive cumulative products from both ends (right for second derivatives too)
    x, out = node.saved()
    shape, dims, keepdim = node.attrs
    if x.ndim == 0:
        return (g,)
    any_zero = bool((x._data == 0).any())
    if node.name() == prod.op.forms["ProdBackward0"]:  # everything
        if not any_zero:
            return (g * (out / x),)
        if not is_grad_enabled() and int((x._data == 0).sum()) > 1:
            return (ops.zeros_like(x),)
        flat = ops.view(x, [-1])
        return (ops.view(_prod_safe_zeros(g, flat, 0), list(shape)),)
    d = dims[0]
    if not keepdim:
        g, out = ops.unsqueeze(g, d), ops.unsqueeze(out, d)
    if not any_zero:
        return (g * (out / x),)
    return (_prod_safe_zeros(g, x, d),)


def _prod_safe_zeros(g: Tensor, x: Tensor, d: int) -> Tensor:
    """g times, for each element, the product of the others along dim d: the cumulative product
    of the elements before it times that of the elements after it (torch's
    prod_safe_zeros_backward)."""
    n = x.shape[d]
    if x.numel() == 0:
        return ops.expand(g, list(x.shape))
    if n == 1:
        return g
    ones = ops.ones([1 if i == d else s for i, s in enumerate(x.shape)], dtype=g.dtype.name)
    before = ops.cumprod(ops.cat([ones, narrow(x, d, 0, n - 1)], d), d)
    after_rev = ops.cat([ones, ops.flip(narrow(x, d, 1, n - 1), [d])], d)
    after = ops.flip(ops.cumprod(after_rev, d), [d])
    return g * (before * after)


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
    """Gradient of amax/amin shared evenly among the elements that tie (torch's
    scale_grad_by_count over restore_reduced_dims)."""
    x, out = node.saved()
    shape, dims, keepdim = node.attrs
    if not keepdim:  # the reduced dims back as size 1 (a reshape; of nothing for dim=())
        kept = [1 if i in dims else s for i, s in enumerate(shape)] if dims else list(g.shape)
        g, out = ops.reshape(g, kept), ops.reshape(out, kept)
    mask = out == x
    return ((g / ops.sum(mask, list(dims), keepdim=True)) * mask,)


def _max_all_vjp(node: Node, g: Any) -> tuple[Any, ...]:
    """max()/min() of everything: ties share the gradient; a NaN result sends it all to the NaN
    elements (torch's evenly_distribute_backward, on the CPU: zeros with the share filled in)."""
    x, out = node.saved()
    mask = ops.isnan(x) if bool(xp.isnan(out._data)) else x == out
    return (ops.masked_fill(ops.zeros(list(x.shape), dtype=g.dtype.name), mask, g / ops.sum(mask)),)


def _select_vjp(node: Node, grads: list[Tensor]) -> tuple[Any, ...]:
    """Gradient of max(dim)/min(dim): all of it to the index returned."""
    (idx,) = node.saved()
    shape, d, keepdim = node.attrs
    g = grads[0]
    if not keepdim and shape:
        g = ops.unsqueeze(g, d)
        idx = ops.unsqueeze(idx, d)
    return (ops.scatter(ops.zeros(list(shape), dtype=g.dtype.name), d, idx, g),)


max = _extreme("max", xp.max, xp.argmax)  # noqa: A001
min = _extreme("min", xp.min, xp.argmin)  # noqa: A001


def _amax_like(name: str, fn: Any, grad_fn: str) -> Any:
    @defop(name, [T(), A("dim", "dims", ()), _KEEP], grad_fns=grad_fn,
           doc=f"{name[1:]} over dim (all dims by default); ties share the gradient.",
           category=_RED)
    def op(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
        check_tensor(input, name)
        dims = wrap_dims(dim, input.ndim)
        if input._data.size == 0 and dim in ((), [], None):
            raise ShapeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                             "== 0. Specify the reduction dim with the 'dim' argument.")
        empty = [d for d in dims if input.shape[d] == 0]
        if empty:
            raise ShapeError(f"{name}(): Expected reduction dim {empty[0]} to have non-zero size.")
        out = _reduce(fn, input._data, dims, keepdim)
        return record(out, grad_fn, _even_split_vjp, (input,), saved=(input, OUT),
                      attrs=(input.shape, _listed(dim, dims), keepdim))

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
        if input.dtype is dtypes.bool_:
            raise DTypeError(f"{name}(): does not support bool input")
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
            raise DTypeError("std and var only support floating point and complex dtypes")
        dims = wrap_dims(dim, input.ndim)
        fn = xp.var if name == "var" else xp.std
        out = _reduce(fn, input._data, dims, keepdim, ddof=correction)
        saved = (input,) if name == "var" else (input, OUT)
        return record(out, grad_fn, _var_vjp if name == "var" else _std_vjp, (input,),
                      saved=saved, attrs=(input.shape, dims, keepdim, correction, dim is not None))

    op.__name__ = name
    return op


def _var_grad(g: Tensor, x: Tensor, attrs: Any) -> Tensor:
    """torch's var_backward."""
    shape, dims, keepdim, correction, given = attrs
    if x.ndim == 0 or not given:
        dof = x.numel() - correction
        if dof <= 0:  # 2 / 0 is inf: inf * 0 (x at its mean) is NaN, inf elsewhere
            return g * ops.where(x == ops.mean(x), math.nan, math.inf)
        return mul_scalar(g, 2.0 / dof) * (x - ops.mean(x))
    if not keepdim and x.ndim > 1:
        g = unsqueeze_multiple(g, dims, x.ndim)
    n = math.prod(shape[d] for d in dims) - correction
    scale = 2.0 / n if n else math.inf
    return mul_scalar(g, scale) * (x - ops.mean(x, list(dims), keepdim=True))


def _var_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()
    return (_var_grad(g, x, node.attrs),)


def _std_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, out = node.saved()
    grad_var = ops.masked_fill(g / mul_scalar(out, 2), out == 0, 0)
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
    if p == "fro" and dim is None and input.__class__ is Tensor and \
            (x := input._data).dtype.kind == "f":
        # The default form (t.norm(): a loop's stopping test), past the checks it cannot fail
        # and the other p's tests: on a small tensor they cost as much as the arithmetic. The
        # same values and record as below (tests/engine/test_norm_sum.py compares the two).
        return record(_two_norm(x, tuple(range(x.ndim)), keepdim), _NORM, _norm_vjp,
                      (input,), saved=(input, OUT), attrs=((), keepdim, 2.0))
    check_tensor(input, "norm")
    if isinstance(p, bool) or (isinstance(p, str) and p != "fro"):
        raise ArgumentError(f"norm(): unsupported p {p!r}; use a number or 'fro'")
    if not input.dtype.is_floating_point:
        raise DTypeError("linalg.vector_norm: Expected a floating point or complex tensor as input. "
                         f"Got {input.dtype.scalar_type}")
    p = 2.0 if p == "fro" else float(p)
    x = floating(input)
    dims = wrap_dims(dim, input.ndim)
    ax = xp.abs(x) if p != 2 else None  # (the 2-norm, the default, needs no |x|)
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
        return record(_two_norm(x, dims, keepdim), norm.op.grad_fn, _norm_vjp,
                      (input,), saved=(input, OUT), attrs=(() if dim is None else dims, keepdim, p))
    else:
        out = xp.sum(ax ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)
    given = () if dim is None else dims  # torch's vector_norm: no dim is an empty dim list
    return record(xp.asarray(out, dtype=x.dtype), norm.op.grad_fn, _norm_vjp,
                  (input,), saved=(input, OUT), attrs=(given, keepdim, p))


# norm's grad_fn as its declaration gives it, read once (see elementwise._MUL): the default
# form runs once per iteration of a loop's stopping test
_NORM = norm.op.grad_fn


def _two_norm(x: Any, dims: tuple[int, ...], keepdim: bool) -> Any:
    """The 2-norm (the default) of float array ``x`` over ``dims``: no |x| needed. (The array's
    own sum: numpy's module-level sum wraps the same reduction.) An array of x's dtype."""
    return xp.asarray(xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim)), dtype=x.dtype)


def _norm_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    """torch's norm_backward, formula by formula."""
    x, out = node.saved()
    dims, keepdim, p = node.attrs
    if not keepdim and x.ndim:
        g, out = unsqueeze_multiple(g, dims, x.ndim), unsqueeze_multiple(out, dims, x.ndim)
    if p == 0:
        return (g * 0.0,)
    if p == 1:
        return (_sgn(x) * g,)
    if p == 2:
        return (g * ops.masked_fill(x / out, out == 0, 0),)
    if p in (math.inf, -math.inf):
        ax = ops.abs(x)
        mask = ops.logical_or(ops.eq(ax, out), ops.isnan(ax))
        return (_sgn(x) * ((g / ops.sum(mask, list(dims), keepdim=True)) * mask),)
    if p < 1:
        scaled = _sgn(x) * ops.masked_fill(pow_into_temporary(ops.abs(x), p - 1), x == 0, 0)
        return (scaled * g * out ** (1 - p),)
    scaled = (_sgn(x) * pow_into_temporary(ops.abs(x), p - 1) if p < 2 else
              x * pow_into_temporary(ops.abs(x), p - 2))
    return (scaled * ops.masked_fill(g / out ** (p - 1), out == 0, 0),)


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
    if not keepdim and x.ndim:
        g, out = unsqueeze_multiple(g, dims, x.ndim), unsqueeze_multiple(out, dims, x.ndim)
    return (g * ops.exp(x - out),)
