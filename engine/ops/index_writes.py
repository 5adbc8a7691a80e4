"""Ops that write values at indices: ``index_fill``, ``scatter`` and ``index_add`` (out of place;
their in-place forms are in engine/ops/inplace.py). Each VJP is built from ops whose own VJPs
exist, so gradients of any order work.
"""

from __future__ import annotations

import math
from typing import Any

from engine import backend, dtypes, ops
from engine.backend import xp
from engine.dims import wrap_dim
from engine.errors import ArgumentError, DTypeError, ShapeError
from engine.graph import Node
from engine.ops.core import Operand, check_tensor, record
from engine.ops.indexing import _check_index, _leading, _positions, along, gather, index_select
from engine.ops.scalar_ops import mul_scalar
from engine.registry import A, T, defop
from engine.registry import Operand as OperandParam
from engine.tensor import Tensor

__all__ = ["index_add", "index_fill", "scatter"]

_IDX = "indexing"


def scalar_as(value: Any, dtype: Any) -> Any:
    """A Python number as a 0-d array of ``dtype``, with torch's refusal of a float an int64
    cannot hold (NaN, infinity, out of range) where numpy would raise or wrap."""
    if dtype == xp.int64 and isinstance(value, float) and not (
            math.isfinite(value) and -2.0**63 <= value < 2.0**63):
        raise ArgumentError("value cannot be converted to type int64_t without overflow")
    return xp.asarray(value).astype(dtype)


def _same_dtype(op: str, input: Tensor, other: Tensor, what: str) -> None:
    if other.dtype is not input.dtype:
        raise DTypeError(f"{op}(): self ({input.dtype.scalar_type}) and {what} "
                         f"({other.dtype.scalar_type}) must have the same scalar type")


def _positions_along(input: Tensor, d: int, index: Tensor, error: type[ShapeError]) -> Any:
    """The 1-d positions of an index_fill / index_add index along the wrapped dim ``d``, negative
    ones counted from the end; torch's message names the first one out of range."""
    idx = index._data.reshape(-1)
    n = input.shape[d] if input.ndim else 1
    bad = (idx < -n) | (idx >= n)
    if idx.size and bool(bad.any()):
        raise error(f"index {int(idx[bad][0])} is out of bounds for dimension {d} with size {n}")
    return xp.where(idx < 0, idx + n, idx)


def _fill_index(input: Tensor, dim: int, index: Tensor) -> tuple[int, Any]:
    """index_fill's checks, in torch's order: the index's dtype, the dim, the index's rank."""
    check_tensor(index, "index_fill", "index")
    if index.dtype is not dtypes.int64:
        raise ShapeError("index_fill_(): Expected dtype int64 for index.")
    d = wrap_dim(dim, max(input.ndim, 1))
    if index.ndim > 1:
        raise ShapeError("Index has to be a vector/scalar")
    return d, _positions_along(input, d, index, ShapeError)


def _add_index(input: Tensor, dim: int, index: Tensor, source: Tensor, alpha: Any
               ) -> tuple[int, Any]:
    """index_add's checks, in torch's order (its meta function's)."""
    check_tensor(index, "index_add", "index")
    d = wrap_dim(dim, input.ndim)
    if index.ndim > 1:
        raise ShapeError(f"index_add_(): Index is supposed to be a vector, but got dim: "
                         f"{index.ndim} with type: {index.dtype.scalar_type} and size: "
                         f"{list(index.shape)}")
    if index.dtype is not dtypes.int64:
        raise DTypeError(f"index_add_(): Expected dtype int32/int64 for index but got: "
                         f"{index.dtype.scalar_type}")
    _same_dtype("index_add_", input, source, "source")
    if d >= max(source.ndim, 1):
        raise ShapeError(f"index_add_(): Indexing dim {d} is out of bounds of the source tensor "
                         f"with dim {source.ndim}")
    count = int(index._data.size)
    if count != (1 if source.ndim == 0 else source.shape[wrap_dim(d, source.ndim)]):
        if source.ndim == 0:  # (torch's message reads source.size(dim), which raises)
            raise ShapeError(f"Dimension specified as {d} but tensor has no dimensions")
        raise ShapeError(f"index_add_(): Number of indices ({count}) should be equal to "
                         f"source.size(dim): ({source.shape[d]}), for dim: {d}")
    rest, src_rest = list(input.shape), list(source.shape)
    if input.ndim and source.ndim:
        del rest[d], src_rest[d]
    if rest != src_rest:
        raise ShapeError("source tensor shape must match self tensor shape, excluding the "
                         f"specified dimension. Got self.shape = {list(input.shape)} "
                         f"source.shape = {list(source.shape)}")
    idx = index._data.reshape(-1)
    if not input._data.size:  # (nothing to add to: torch reads no position)
        return d, idx
    n = input.shape[d] if input.ndim else 1
    bad = (idx < 0) | (idx >= n)  # (no index counts from the end here)
    if idx.size and bool(bad.any()):
        # torch's two kernels: an unscaled add along the first or last dim of a matrix or more
        # goes through index_put, which names the index; the general loop does not
        if input.ndim > 1 and alpha == 1 and d in (0, input.ndim - 1):
            raise ShapeError(f"index {int(idx[bad][0])} is out of bounds for dimension {d} with "
                             f"size {n}")
        raise ShapeError("index out of range in self")
    return d, idx


# ----- index_fill -----------------------------------------------------------------------------
@defop("index_fill", [T(), A("dim", "int"), T("index"), OperandParam("value")],
       grad_fns=("IndexFillBackward0", "IndexFillBackward1"),
       doc="input with value (a number or a 0-d tensor) at the positions index (1-d int64) "
           "along dim.", category=_IDX)
def index_fill(input: Tensor, dim: int, index: Tensor, value: Operand) -> Tensor:
    check_tensor(input, "index_fill")
    d, idx = _fill_index(input, dim, index)
    out = xp.array(input._data, copy=True)
    key = along(d, idx) if input.ndim else (Ellipsis,)
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError("index_fill_ only supports a 0-dimensional value tensor, but got "
                             f"tensor with {value.ndim} dimension(s).")
        out[key] = value._data.astype(out.dtype)
        return record(out, index_fill.op.forms["IndexFillBackward1"], _index_fill_vjp,
                      (input, value), attrs=(d, index))
    out[key] = scalar_as(value, out.dtype)
    return record(out, index_fill.op.forms["IndexFillBackward0"], _index_fill_vjp, (input,), attrs=(d, index))


def _index_fill_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    d, index = node.attrs
    gi = index_fill(g, d, index, 0.0) if node.needs(0) else None
    if len(node.next_functions) == 1:
        return (gi,)
    return gi, (ops.sum(index_select(g, d, index)) if node.needs(1) else None)


# ----- scatter --------------------------------------------------------------------------------
@defop("scatter", [T(), A("dim", "int"), T("index"), OperandParam("src")],
       grad_fns=("ScatterBackward0", "ScatterBackward1"),
       doc="input with src (a tensor, or a number as torch's value) written at index along dim "
           "(out[index[i][j]][j] = src[i][j] for dim 0).", category=_IDX)
def scatter(input: Tensor, dim: int, index: Tensor, src: Operand) -> Tensor:
    check_tensor(input, "scatter")
    tensor_src = src if isinstance(src, Tensor) else None
    d = _check_index("scatter", input, dim, index, tensor_src)
    if tensor_src is not None and tensor_src.dtype is not input.dtype:
        raise DTypeError("scatter(): Expected self.dtype to be equal to src.dtype")
    out = xp.array(input._data, copy=True)
    if index._data.size:
        coords = tuple(index._data if i == d else _positions(index.shape, i)
                       for i in range(index.ndim)) if input.ndim else (Ellipsis,)
        if tensor_src is not None:
            out[coords] = _leading(tensor_src._data, index.shape).astype(out.dtype)
        else:
            out[coords] = scalar_as(src, out.dtype)
    if tensor_src is not None:
        return record(out, scatter.op.forms["ScatterBackward0"], _scatter_vjp, (input, src), saved=(index,),
                      attrs=d)
    return record(out, scatter.op.forms["ScatterBackward1"], _scatter_vjp, (input,), saved=(index,), attrs=d)


def _scatter_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (index,) = node.saved()
    d = node.attrs
    gi = scatter(g, d, index, 0.0) if node.needs(0) else None
    if len(node.next_functions) == 1:
        return (gi,)
    return gi, (gather(g, d, index) if node.needs(1) else None)


# ----- index_add ------------------------------------------------------------------------------
@defop("index_add", [T(), A("dim", "int"), T("index"), T("source"), A("alpha", "number", 1)],
       grad_fns="IndexAddBackward0",
       doc="input with alpha * source added at the positions index (1-d int64) along dim; "
           "repeated positions accumulate.", category=_IDX)
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, alpha: Any = 1) -> Tensor:
    check_tensor(input, "index_add")
    check_tensor(source, "index_add", "source")
    d, idx = _add_index(input, dim, index, source, alpha)
    want = list(input.shape)
    if input.ndim:
        want[d] = int(idx.size)
    out = xp.array(input._data, copy=True)
    values = source._data.reshape(want) * alpha if alpha != 1 else source._data.reshape(want)
    if not out.size:
        return record(out, index_add.op.grad_fn, _index_add_vjp, (input, source),
                      attrs=(d, index, alpha, source.shape))
    out = backend.add_at(out, along(d, idx) if input.ndim else (idx,), values) if input.ndim \
        else out + values.reshape(()).astype(out.dtype)
    return record(out, index_add.op.grad_fn, _index_add_vjp, (input, source),
                  attrs=(d, index, alpha, source.shape))


def _index_add_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    d, index, alpha, shape = node.attrs
    gs = None
    if node.needs(1):  # torch: maybe_multiply(grad.index_select(dim, index).expand_as(source), alpha)
        picked = index_select(g, d, index)
        fit = ops.expand if picked.ndim == len(shape) else ops.reshape
        gs = fit(picked, list(shape))
        if alpha != 1:
            gs = mul_scalar(gs, alpha)
    return (g if node.needs(0) else None, gs)
