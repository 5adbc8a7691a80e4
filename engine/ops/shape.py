"""Shape ops: reshape/view, flatten, squeeze/unsqueeze, expand/broadcast_to, transpose/permute/t,
clone/contiguous and dtype conversion.

torch decides between a view and a copy by memory layout; so do we (a C-contiguous array views,
anything else copies), which is what picks ViewBackward0 or UnsafeViewBackward0 over CloneBackward0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine import dtypes, ops
from engine.backend import xp
from engine.dims import wrap_dim, wrap_dims
from engine.errors import ArgumentError, ShapeError
from engine.graph import Node
from engine.ops.core import check_alloc, check_ndim, check_tensor, record
from engine.registry import A, T, defop
from engine.tensor import Tensor, as_view

_SHAPE = "shape"


def _contiguous(a: Any) -> bool:
    return bool(a.flags.c_contiguous)


def _viewable(a: Any, new: Sequence[int]) -> bool:
    """Whether array ``a`` can take shape ``new`` without a copy (torch's stride rule): its dims
    (size-1 ones aside) fall into runs that are contiguous with each other, and every run must be
    a product of consecutive dims of the new shape."""
    if a.size == 0 or a.flags.c_contiguous:
        return True
    dims = [(n, st // a.itemsize) for n, st in zip(a.shape, a.strides, strict=True) if n != 1]
    runs: list[int] = []
    for i, (n, st) in enumerate(dims):
        if i and dims[i - 1][1] == st * n:
            runs[-1] *= n
        else:
            runs.append(n)
    prefixes, acc = set(), 1
    for n in new:
        acc *= n
        prefixes.add(acc)
    acc = 1
    for r in runs:
        acc *= r
        if acc not in prefixes:
            return False
    return True


def infer_shape(shape: Sequence[int], numel: int) -> tuple[int, ...]:
    """Resolve one -1 in ``shape``; torch's message if the sizes do not fit."""
    shape = [int(s) for s in shape]
    unknown: list[int] = []
    for i, s in enumerate(shape):  # (torch's infer_size reads the sizes left to right)
        if s == -1:
            if unknown:
                raise ShapeError("only one dimension can be inferred")
            unknown.append(i)
        elif s < -1:
            raise ShapeError(f"invalid shape dimension {s} at index {i} of shape "
                             f"[{', '.join(map(str, shape))}]")
    bad = False
    known = math.prod(s for s in shape if s != -1)
    if unknown and not bad:
        if known == 0 or numel % known:
            bad = True
        else:
            shape[unknown[0]] = numel // known
    if bad or math.prod(shape) != numel:
        if len(unknown) > 1:
            raise ShapeError("only one dimension can be inferred")
        raise ShapeError(f"shape '[{', '.join(str(s) for s in shape)}]' is invalid for input of "
                         f"size {numel}")
    return tuple(shape)


def _reshape_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (ops.reshape(g, list(node.attrs)),)


@defop("view", [T(), A("shape", "ints")], grad_fns="ViewBackward0",
       doc="The same data with a new shape (no copy).", category=_SHAPE)
def view(input: Tensor, shape: Sequence[int]) -> Tensor:
    check_tensor(input, "view")
    new = infer_shape(shape, input.numel())
    if not _viewable(input._data, new):
        raise ShapeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    return as_view(record(input._data.reshape(new), view.op.grad_fn, _reshape_vjp, (input,),
                          attrs=input.shape), input)


@defop("reshape", [T(), A("shape", "ints")],
       grad_fns=("ViewBackward0", "ReshapeAliasBackward0", "UnsafeViewBackward0"),
       doc="A new shape; a view when the layout allows, else a copy.", category=_SHAPE)
def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:
    check_tensor(input, "reshape")
    new = infer_shape(shape, input.numel())
    a = input._data
    if _contiguous(a):
        return view(input, new)
    if _viewable(a, new):
        return as_view(record(a.reshape(new), reshape.op.forms["ReshapeAliasBackward0"], _reshape_vjp,
                              (input,), attrs=input.shape), input)
    copy = clone(input)
    return record(copy._data.reshape(new), reshape.op.forms["UnsafeViewBackward0"], _reshape_vjp, (copy,),
                  attrs=input.shape)


@defop("flatten", [T(), A("start_dim", "int", 0), A("end_dim", "int", -1)],
       grad_fns="ViewBackward0", doc="Merge dims start_dim..end_dim into one.", category=_SHAPE)
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    check_tensor(input, "flatten")
    if input.ndim == 0:
        wrap_dim(start_dim, 0), wrap_dim(end_dim, 0)  # (torch checks both dims, as for a 1-d)
        return reshape(input, [1])
    s, e = wrap_dim(start_dim, input.ndim), wrap_dim(end_dim, input.ndim)
    if s > e:
        raise ShapeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shp = input.shape
    return reshape(input, [*shp[:s], math.prod(shp[s:e + 1]), *shp[e + 1:]])


@defop("squeeze", [T(), A("dim", "dims", None, optional=True)],
       grad_fns=("SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2"),
       doc="Drop size-1 dims (all, or those in dim).", category=_SHAPE)
def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    check_tensor(input, "squeeze")
    shp = input.shape
    if dim is None:
        dims = tuple(i for i, s in enumerate(shp) if s == 1)
        name = squeeze.op.forms["SqueezeBackward0"]
    else:
        ds = [dim] if isinstance(dim, int) else list(dim)
        wrapped = {wrap_dim(d, input.ndim) for d in ds}
        if len(wrapped) != len(ds):
            wrap_dims(ds, input.ndim)  # torch's message for the repeated dim
        dims = tuple(sorted(d for d in wrapped if shp and shp[d] == 1))
        if not shp:
            for d in ds:
                wrap_dim(d, 0)
        name = squeeze.op.forms["SqueezeBackward1" if isinstance(dim, int) else "SqueezeBackward2"]
    out = xp.squeeze(input._data, axis=dims) if dims else input._data.reshape(shp)
    return as_view(record(out, name, _squeeze_vjp, (input,), attrs=dims), input)


def _squeeze_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch's unsqueeze_to: one unsqueeze per dim the forward dropped, lowest first
    for d in node.attrs:
        g = unsqueeze(g, d)
    return (g,)


@defop("unsqueeze", [T(), A("dim", "int")], grad_fns="UnsqueezeBackward0",
       doc="Insert a size-1 dim at dim.", category=_SHAPE)
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    check_tensor(input, "unsqueeze")
    check_ndim(input.ndim + 1, "unsqueeze")
    d = wrap_dim(dim, input.ndim + 1)
    return as_view(record(xp.expand_dims(input._data, d), unsqueeze.op.grad_fn, _unsqueeze_vjp,
                          (input,), attrs=d), input)


def _unsqueeze_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (squeeze(g, node.attrs),)  # torch: grad.squeeze(dim), a SqueezeBackward1


def expanded_shape(shape: tuple[int, ...], size: Sequence[int]) -> tuple[int, ...]:
    size = [int(s) for s in size]
    if len(size) < len(shape):
        raise ShapeError(
            f"expand(torch.FloatTensor{{[{', '.join(map(str, shape))}]}}, "
            f"size=[{', '.join(map(str, size))}]): "
            f"the number of sizes provided ({len(size)}) must be greater or equal to the number of "
            f"dimensions in the tensor ({len(shape)})"
        )
    lead = len(size) - len(shape)
    out = []
    for i, s in enumerate(size):
        if i < lead:
            if s == -1:
                raise ShapeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                                 f"non-existing dimension {i}")
            out.append(s)
            continue
        have = shape[i - lead]
        if s == -1:
            s = have
        if have != s and have != 1:
            raise ShapeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({have}) at "
                f"non-singleton dimension {i}.  Target sizes: [{', '.join(map(str, size))}].  "
                f"Tensor sizes: [{', '.join(map(str, shape))}]"
            )
        out.append(s)
    if any(s < 0 for s in out) and math.prod(out, start=1):  # (torch's numel check sees a negative size)
        raise ShapeError("numel: integer multiplication overflow")
    if any(s < 0 for s in out):  # -N (N > 1) beside a 0: no tensor has that shape
        raise ArgumentError(f"Trying to create tensor with negative dimension {min(out)}: "
                            f"[{', '.join(map(str, out))}]")
    return tuple(out)


@defop("expand", [T(), A("size", "ints")], grad_fns="ExpandBackward0",
       doc="Broadcast size-1 dims to size (-1 keeps a dim), without copying.", category=_SHAPE)
def expand(input: Tensor, size: Sequence[int]) -> Tensor:
    check_tensor(input, "expand")
    new = expanded_shape(input.shape, size)
    if new == input.shape:
        return as_view(record(input._data, expand.op.grad_fn, _expand_vjp, (input,),
                              attrs=input.shape), input)
    check_alloc(new)
    return as_view(record(xp.broadcast_to(input._data, new), expand.op.grad_fn, _expand_vjp,
                          (input,), attrs=input.shape), input)


def _expand_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (g,)  # the backward pass sums it back to the input's shape


@defop("broadcast_to", [T(), A("size", "ints")], grad_fns="ExpandBackward0",
       doc="torch.broadcast_to (an expand).", category=_SHAPE)
def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:
    return expand(input, size)


@defop("transpose", [T(), A("dim0", "int"), A("dim1", "int")], grad_fns="TransposeBackward0",
       doc="Swap two dims.", category=_SHAPE, aliases=("swapaxes",))
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    check_tensor(input, "transpose")
    n = input.ndim
    a, b = wrap_dim(dim0, n), wrap_dim(dim1, n)
    return as_view(record(xp.swapaxes(input._data, a, b) if n else input._data,
                          transpose.op.grad_fn, _transpose_vjp, (input,), attrs=(a, b)), input)


def _transpose_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (transpose(g, *node.attrs),)


@defop("t", [T()], grad_fns="TBackward0", doc="Transpose a matrix (<= 2-d).", category=_SHAPE)
def t(input: Tensor) -> Tensor:
    check_tensor(input, "t")
    if input.ndim > 2:
        raise ShapeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return as_view(record(input._data.T, t.op.grad_fn, _t_vjp, (input,)), input)


def _t_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (t(g),)


@defop("permute", [T(), A("dims", "ints")], grad_fns="PermuteBackward0",
       doc="Reorder dims.", category=_SHAPE)
def permute(input: Tensor, dims: Sequence[int]) -> Tensor:
    check_tensor(input, "permute")
    n = input.ndim
    if len(dims) != n:
        # (torch 2.13's wording, "sparse_coo" included, for every layout)
        raise ShapeError("permute(sparse_coo): number of dimensions in the tensor input does not "
                         "match the length of the desired ordering of dimensions i.e. input.dim() "
                         f"= {n} is not equal to len(dims) = {len(dims)}")
    perm = tuple(wrap_dim(d, n) for d in dims)
    if len(set(perm)) != n:
        raise ShapeError("permute(): duplicate dims are not allowed.")
    return as_view(record(xp.transpose(input._data, perm), permute.op.grad_fn, _permute_vjp,
                          (input,), attrs=perm), input)


def _permute_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    perm = node.attrs
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return (permute(g, inverse),)


@defop("clone", [T()], grad_fns="CloneBackward0", doc="A copy (differentiable).", category=_SHAPE)
def clone(input: Tensor) -> Tensor:
    check_tensor(input, "clone")
    return record(xp.array(input._data, copy=True, order="C"), clone.op.grad_fn, _identity_vjp,
                  (input,))


def _identity_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (g,)


@defop("contiguous", [T()], grad_fns="CloneBackward0",
       doc="The tensor itself if contiguous, else a contiguous copy.", category=_SHAPE)
def contiguous(input: Tensor) -> Tensor:
    check_tensor(input, "contiguous")
    return input if _contiguous(input._data) else clone(input)


@defop("to", [T(), A("dtype", "dtype")], grad_fns="ToCopyBackward0",
       doc="Convert to dtype (the tensor itself if already of it).", category=_SHAPE)
def to(input: Tensor, dtype: Any) -> Tensor:
    check_tensor(input, "to")
    dt = dtypes.get(dtype)
    assert dt is not None
    if dt is input.dtype:
        return input
    return record(input._data.astype(dt.np), to.op.grad_fn, _to_vjp, (input,),
                  attrs=input.dtype)


def _to_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (to(g, node.attrs),)
