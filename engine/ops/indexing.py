"""Indexing along a dim: gather and scatter_add (each the other's VJP)."""

from __future__ import annotations

from typing import Any

from engine.backend import xp
from engine.errors import DTypeError, ShapeError
from engine.graph import Node
from engine.ops.core import check_tensor, record, wrap_dim
from engine.registry import A, T, defop
from engine.tensor import Tensor

_IDX = "indexing"


def _check_index(op: str, input: Tensor, dim: int, index: Tensor) -> int:
    check_tensor(index, op, "index")
    if index.dtype.name != "int64":
        raise DTypeError(f"{op}(): Expected dtype int64 for index")
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise ShapeError("Index tensor must have the same number of dimensions as input tensor")
    d = wrap_dim(dim, input.ndim)
    a = index._data
    if a.size and (bool((a < 0).any()) or bool((a >= max(input.shape[d] if input.ndim else 1, 1)).any())):
        raise ShapeError(f"index out of bounds for dimension {d} with size "
                         f"{input.shape[d] if input.ndim else 1}")
    return d


@defop("gather", [T(), A("dim", "int"), T("index")], grad_fns="GatherBackward0",
       doc="out[i][j] = input[index[i][j]][j] along dim.", category=_IDX)
def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    check_tensor(input, "gather")
    d = _check_index("gather", input, dim, index)
    if input.ndim == 0:
        out = input._data.reshape(index.shape).copy()
    else:
        out = xp.take_along_axis(input._data, index._data, axis=d)
    return record(out, "GatherBackward0", _gather_vjp, (input,), saved=(index,),
                  attrs=(input.shape, d))


def _gather_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    from engine.ops.creation import zeros

    (index,) = node.saved()
    shape, d = node.attrs
    return (scatter_add(zeros(list(shape), dtype=g.dtype.name), d, index, g),)


@defop("scatter_add", [T(), A("dim", "int"), T("index"), T("src")], grad_fns="ScatterAddBackward0",
       doc="input with src added at index along dim (repeats accumulate).", category=_IDX)
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    check_tensor(input, "scatter_add")
    check_tensor(src, "scatter_add", "src")
    d = _check_index("scatter_add", input, dim, index)
    out = xp.array(input._data, copy=True)
    if index._data.size:
        # build full coordinates for every element of index and add src there
        grids = list(xp.indices(index.shape, sparse=True)) if index.ndim else []
        coords = tuple(index._data if i == d else grids[i] for i in range(index.ndim))
        s = src._data
        if s.shape != index.shape:
            s = s[tuple(slice(0, n) for n in index.shape)]
        if index.ndim:
            xp.add.at(out, coords, s.astype(out.dtype))
        else:
            out = out + s.astype(out.dtype)
    return record(out, "ScatterAddBackward0", _scatter_add_vjp, (input, src), saved=(index,),
                  attrs=d)


def _scatter_add_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (index,) = node.saved()
    return (g if node.needs(0) else None,
            gather(g, node.attrs, index) if node.needs(1) else None)
