"""Joining, splitting and rearranging: cat, stack, split, chunk, unbind, flip, roll, repeat, tile,
pad, and the running sum and product along a dim (cumsum, cumprod).

Split, chunk and unbind return several tensors from one node (record_multi), as torch does; their
outputs are views, like torch's. The VJPs are the mirror ops (cat <-> slices, stack <-> select,
flip, roll back), so second derivatives come for free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine import backend, dtypes, ops
from engine.backend import xp
from engine.dims import wrap_dim
from engine.errors import ArgumentError, DTypeError, ShapeError
from engine.grad_mode import is_grad_enabled
from engine.graph import Node
from engine.ops.core import (
    MAX_DIMS,
    OUT,
    array_of,
    check_alloc,
    check_ndim,
    check_tensor,
    record,
    record_multi,
)
from engine.ops.indexing import along, like, narrow, select
from engine.ops.reductions import check_result_dtype
from engine.registry import A, T, defop, internal_node
from engine.tensor import Tensor, as_view

__all__ = ["cat", "chunk", "cumprod", "cumsum", "flip", "pad", "repeat", "roll", "split", "stack",
           "tile", "unbind"]

_JOIN = "joining"


def _int_list(v: int | Sequence[int], name: str) -> list[int]:
    """An int or a sequence of ints (torch's IntArrayRef arguments) as a list."""
    vals = [v] if isinstance(v, int) else list(v)
    if any(isinstance(i, bool) or not isinstance(i, int) for i in vals):
        raise ArgumentError(f"argument '{name}' must be an int or a list of ints")
    return vals


# ----- cat, stack -----------------------------------------------------------------------------
def _tensor_list(tensors: Any, op: str) -> list[Tensor]:
    if not isinstance(tensors, (list, tuple)):
        raise DTypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not "
                         f"{type(tensors).__name__}")
    return [check_tensor(t, op, "tensors") for t in tensors]


@defop("cat", [A("tensors", "tensors"), A("dim", "int", 0)], grad_fns="CatBackward0",
       doc="Concatenate tensors along dim (their dtypes promote; 1-d empty tensors are skipped, "
           "as torch's legacy rule has it).", category=_JOIN, method=False)
def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    ts = _tensor_list(tensors, "cat")
    if not ts:
        raise ArgumentError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(ts):
        if t.ndim == 0:
            raise ShapeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    dt = dtypes.result_type(*ts)
    kept = [t for t in ts if t.shape != (0,)]
    if not kept:
        return record(xp.zeros((0,), dtype=dt.np), cat.op.grad_fn, _cat_vjp, ts,
                      attrs=(0, [None] * len(ts)))
    ref = kept[0]
    d = wrap_dim(dim, ref.ndim)
    for i, t in enumerate(ts):
        if t.shape == (0,):
            continue
        if t.ndim != ref.ndim:
            raise ShapeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for k, (want, got) in enumerate(zip(ref.shape, t.shape, strict=True)):
            if k != d and want != got:
                raise ShapeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                 f"{want} but got size {got} for tensor number {i} in the list.")
    check_alloc((*ref.shape[:d], sum(t.shape[d] for t in kept), *ref.shape[d + 1:]))
    out = xp.ascontiguousarray(xp.concatenate([array_of(t, dt) for t in kept], axis=d))
    sizes = [None if t.shape == (0,) else t.shape[d] for t in ts]
    return record(out, cat.op.grad_fn, _cat_vjp, ts, attrs=(d, sizes))


def _cat_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    d, sizes = node.attrs
    grads: list[Any] = []
    start = 0
    for i, n in enumerate(sizes):
        if not node.needs(i):
            grads.append(None)
        elif n is None:  # a skipped 1-d empty tensor
            grads.append(ops.zeros([0], dtype=g.dtype))
        else:
            grads.append(narrow(g, d, start, n))
        start += n or 0
    return tuple(grads)


@defop("stack", [A("tensors", "tensors"), A("dim", "int", 0)], grad_fns="StackBackward0",
       doc="Join equally shaped tensors along a new dim (their dtypes promote).", category=_JOIN,
       method=False)
def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    ts = _tensor_list(tensors, "stack")
    if not ts:
        raise ShapeError("stack expects a non-empty TensorList")
    shape = ts[0].shape
    for i, t in enumerate(ts):
        if t.shape != shape:
            raise ShapeError(f"stack expects each tensor to be equal size, but got {list(shape)} at "
                             f"entry 0 and {list(t.shape)} at entry {i}")
    check_ndim(len(shape) + 1, "stack")
    d = wrap_dim(dim, len(shape) + 1)
    dt = dtypes.result_type(*ts)
    check_alloc((len(ts), *shape))
    out = xp.ascontiguousarray(xp.stack([array_of(t, dt) for t in ts], axis=d))
    return record(out, stack.op.grad_fn, _stack_vjp, ts, attrs=d)


def _stack_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return tuple(select(g, node.attrs, i) if node.needs(i) else None
                 for i in range(len(node.next_functions)))


# ----- split, chunk, unbind -------------------------------------------------------------------
def _split_dim(input: Tensor, dim: int, op: str) -> int:
    if input.ndim == 0:
        raise ShapeError(f"{op} expects at least a 1-dimensional tensor")
    return wrap_dim(dim, input.ndim)


def _pieces(x: Tensor, d: int, sizes: list[int], name: str) -> tuple[Tensor, ...]:
    """Views of consecutive ``sizes`` elements along ``d``: one node, one output per piece."""
    starts = [0]
    for n in sizes[:-1]:
        starts.append(starts[-1] + n)
    views = [x._data[along(d, slice(s, s + n))] for s, n in zip(starts, sizes, strict=True)]
    return tuple(as_view(v, x) for v in record_multi(views, name, _pieces_vjp, (x,), attrs=d))


def _pieces_vjp(node: Node, grads: Any) -> tuple[Any, ...]:
    return (cat(grads if isinstance(grads, list) else [grads], node.attrs),)


@defop("split", [T("tensor"), A("split_size_or_sections", "dims", doc="an int (the size of each "
                                                                      "piece) or a list of sizes"),
                 A("dim", "int", 0)],
       grad_fns=("SplitBackward0", "SplitWithSizesBackward0"),
       doc="Pieces of split_size along dim (the last may be smaller), or pieces of the listed "
           "sizes; a tuple of views.", category=_JOIN)
def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
    check_tensor(tensor, "split", "tensor")
    d = _split_dim(tensor, dim, "split")
    n = tensor.shape[d]
    if not isinstance(split_size_or_sections, int):
        sizes = _int_list(split_size_or_sections, "split_size_or_sections")
        if any(s < 0 for s in sizes):
            raise ArgumentError("split_with_sizes expects split_sizes have only non-negative entries, "
                                f"but got split_sizes={sizes}")
        if sum(sizes) != n:
            raise ShapeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                             f"tensor's size at dimension {d}), but got split_sizes={sizes}")
        return _pieces(tensor, d, sizes, split.op.forms["SplitWithSizesBackward0"])
    size = split_size_or_sections
    if size < 0:
        raise ArgumentError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0 and n > 0:
        raise ArgumentError(f"split_size can only be 0 if dimension size is 0, but got dimension size "
                            f"of {n}")
    count = max(math.ceil(n / size), 1) if size else 1
    sizes = [size] * (count - 1) + [n - size * (count - 1)]
    return _pieces(tensor, d, sizes, split.op.forms["SplitBackward0"])


@defop("chunk", [T(), A("chunks", "int"), A("dim", "int", 0)],
       grad_fns=("SplitBackward0", "SplitWithSizesBackward0"),
       doc="At most chunks pieces of ceil(size / chunks) along dim (torch.chunk); views.",
       category=_JOIN)
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    check_tensor(input, "chunk")
    if chunks <= 0:
        raise ArgumentError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _split_dim(input, dim, "chunk")
    n = input.shape[d]
    if n == 0:  # torch splits an empty dim into `chunks` empty pieces
        return _pieces(input, d, [0] * chunks, chunk.op.forms["SplitWithSizesBackward0"])
    return split(input, math.ceil(n / chunks), d)


@defop("unbind", [T(), A("dim", "int", 0)], grad_fns="UnbindBackward0",
       doc="The slices along dim, each without that dim; a tuple of views.", category=_JOIN)
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    check_tensor(input, "unbind")
    if input.ndim == 0:
        raise ShapeError(f"Dimension specified as {wrap_dim(dim, 0)} but tensor has no dimensions")
    d = wrap_dim(dim, input.ndim)
    views = [input._data[(*along(d, i), Ellipsis)] for i in range(input.shape[d])]
    if not views:  # (a size-0 dim: nothing to record)
        return ()
    return tuple(as_view(v, input)
                 for v in record_multi(views, unbind.op.grad_fn, _unbind_vjp, (input,), attrs=d))


def _unbind_vjp(node: Node, grads: Any) -> tuple[Any, ...]:
    return (stack(grads if isinstance(grads, list) else [grads], node.attrs),)


# ----- flip, roll, repeat, tile ---------------------------------------------------------------
@defop("flip", [T(), A("dims", "ints")], grad_fns="FlipBackward0",
       doc="Reverse the order of elements along each of dims (a copy).", category=_JOIN)
def flip(input: Tensor, dims: int | Sequence[int]) -> Tensor:
    check_tensor(input, "flip")
    ds = [wrap_dim(d, input.ndim) for d in _int_list(dims, "dims")]
    for d in ds:
        if ds.count(d) > 1:
            raise ShapeError(f"dim {d} appears multiple times in the list of dims")
    a = input._data
    out = like(a, xp.flip(a, axis=tuple(ds)) if ds and a.ndim else a)
    return record(out, flip.op.grad_fn, _flip_vjp, (input,), attrs=ds)


def _flip_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (flip(g, node.attrs),)


@defop("roll", [T(), A("shifts", "dims", doc="an int or a list of ints"),
                A("dims", "dims", None, optional=True)], grad_fns="RollBackward0",
       doc="Shift elements cyclically by shifts along dims (the flattened tensor when dims is "
           "null).", category=_JOIN)
def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
         ) -> Tensor:
    check_tensor(input, "roll")
    sh = _int_list(shifts, "shifts")
    ds = None if dims is None else _int_list(dims, "dims")
    if ds and input.ndim == 0:
        raise ShapeError(f"Dimension specified as {ds[0]} but tensor has no dimensions")
    if not sh:
        raise ArgumentError("`shifts` required")
    if len(sh) != (1 if ds is None else len(ds)):  # (before any dim is wrapped)
        raise ShapeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:"
                         f"{0 if ds is None else len(ds)}")
    ds = None if ds is None else [wrap_dim(d, input.ndim) for d in ds]
    a = input._data
    if a.ndim == 0:
        out = a.copy()
    else:  # dims None rolls the flattened tensor
        out = xp.ascontiguousarray(xp.roll(a, sh[0]) if ds is None else
                                   xp.roll(a, tuple(sh), axis=tuple(ds)))
    return record(out, roll.op.grad_fn, _roll_vjp, (input,), attrs=(sh, ds))


def _roll_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    sh, ds = node.attrs
    return (roll(g, [-s for s in sh], ds),)


@defop("repeat", [T(), A("repeats", "ints")], grad_fns="RepeatBackward0",
       doc="Tile input repeats[i] times along each dim (Tensor.repeat; extra leading repeats add "
           "dims).", category=_JOIN)
def repeat(input: Tensor, repeats: Sequence[int]) -> Tensor:
    check_tensor(input, "repeat")
    reps = _int_list(repeats, "repeats")
    if len(reps) < input.ndim:
        raise ShapeError("Number of dimensions of repeat dims can not be smaller than number of "
                         "dimensions of tensor")
    padded = (1,) * (len(reps) - input.ndim) + input.shape
    shape = [p * r for p, r in zip(padded, reps, strict=True)]
    if any(s < 0 for s in shape):
        raise ArgumentError(f"Trying to create tensor with negative dimension "
                            f"{next(s for s in shape if s < 0)}: {shape}")
    check_alloc(shape)
    if 0 in shape:  # (tile repeats one dim at a time: [2**40, 0] would first make 2**40 copies)
        out = xp.zeros(shape, dtype=input._data.dtype)
    else:
        out = xp.tile(input._data.reshape(padded), reps) if reps else input._data.copy()
    return record(out, repeat.op.grad_fn, _repeat_vjp, (input,), attrs=(input.shape, padded, reps))


def _repeat_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    """torch's repeat_backward: zeros if any repeat is 0; the leading new dims summed away one at a
    time; then one reshape of each repeated dim n into (r, n) and one sum over the r dims."""
    shape, padded, reps = node.attrs
    if 0 in reps:
        return (ops.zeros(list(shape), dtype=g.dtype.name),)
    lead = len(reps) - len(shape)
    for _ in range(lead):
        g = ops.sum(g, [0])
    split: list[int] = []
    dims: list[int] = []
    for r, n in zip(reps[lead:], shape, strict=True):
        if r != 1:
            split.append(r)
            dims.append(len(split) - 1)
        split.append(n)
    if not dims:
        return (g,)
    if len(split) <= MAX_DIMS:
        return (ops.sum(ops.reshape(g, split), dims),)
    for i in reversed(range(len(shape))):  # (the backend's arrays have at most MAX_DIMS dims)
        r = reps[lead + i]
        if r != 1:
            g = ops.sum(ops.reshape(g, [*g.shape[:i], r, shape[i], *g.shape[i + 1:]]), [i])
    return (g,)


@defop("tile", [T(), A("dims", "ints")], grad_fns="RepeatBackward0",
       doc="torch.tile: repeat, with dims padded by leading 1s to input's dim count.",
       category=_JOIN)
def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    check_tensor(input, "tile")
    reps = _int_list(dims, "dims")
    return repeat(input, [1] * (input.ndim - len(reps)) + reps)


# ----- pad ------------------------------------------------------------------------------------
_PAD_MODES = ("constant", "reflect", "replicate")


@defop("pad", [T(), A("pad", "ints", doc="(left, right) pairs, last dim first"),
               A("mode", "choice", "constant", choices=_PAD_MODES),
               A("value", "number", None, optional=True, doc="the fill of mode 'constant' (0)")],
       grad_fns=("ConstantPadNdBackward0", "ReflectionPad1DBackward0", "ReflectionPad2DBackward0",
                 "ReflectionPad3DBackward0", "ReplicationPad1DBackward0", "ReplicationPad2DBackward0",
                 "ReplicationPad3DBackward0"),
       doc="torch.nn.functional.pad: pad (or, with negative sizes, crop) the last len(pad) / 2 "
           "dims. 'constant' fills with value; 'reflect' and 'replicate' pad the last 1-3 dims of "
           "a tensor with one or two more dims (batch), like torch ('circular' is not offered).",
       category=_JOIN, method=False)
def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
        ) -> Tensor:
    check_tensor(input, "pad")
    sizes = _int_list(pad, "pad")
    if len(sizes) % 2:
        raise ArgumentError("Padding length must be divisible by 2")
    if len(sizes) // 2 > input.ndim:
        raise ShapeError("Padding length should be less than or equal to two times the input "
                         f"dimension but got padding length {len(sizes)} and input of dimension "
                         f"{input.ndim}")
    # (dim, before, after) per padded dim, in dim order; pad lists the last dim first
    pairs = [(input.ndim - 1 - j, sizes[2 * j], sizes[2 * j + 1]) for j in range(len(sizes) // 2)][::-1]
    if mode == "constant":
        return _constant_pad(input, pairs, 0 if value is None else value)
    if mode == "circular":  # torch has it; gradserve does not (yet): say what it offers
        raise ArgumentError(f"Unrecognised padding mode {mode}; gradserve offers "
                            f"{', '.join(_PAD_MODES)}")
    if mode not in _PAD_MODES:
        raise ArgumentError(f"Unrecognised padding mode {mode}")
    if value not in (None, 0):
        raise ArgumentError(f'Padding mode "{mode}" doesn\'t take in value argument')
    return _edge_pad(input, pairs, mode)


def _constant_pad(x: Tensor, pairs: list[tuple[int, int, int]], value: float) -> Tensor:
    shape = list(x.shape)
    src: list[Any] = [slice(None)] * x.ndim
    dst: list[Any] = [slice(None)] * x.ndim
    for d, before, after in pairs:
        # negative sizes crop the input (torch narrows it, and so refuses to crop more than it has);
        # positive ones leave a border of value in the output
        n = x.shape[d] - max(-before, 0) - max(-after, 0)
        if x.shape[d] + min(before, 0) < 0 or n < 0:
            raise ShapeError("narrow(): length must be non-negative.")
        shape[d] += before + after
        src[d] = slice(max(-before, 0), max(-before, 0) + n)
        dst[d] = slice(max(before, 0), max(before, 0) + n)
    check_alloc(shape)
    out = xp.full(shape, xp.asarray(value).astype(x._data.dtype), dtype=x._data.dtype)
    out[tuple(dst)] = x._data[tuple(src)]
    return record(out, pad.op.forms["ConstantPadNdBackward0"], _constant_pad_vjp, (x,), attrs=pairs)


def _constant_pad_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (_constant_pad(g, [(d, -b, -a) for d, b, a in node.attrs], 0),)


def _edge_pad(x: Tensor, pairs: list[tuple[int, int, int]], mode: str) -> Tensor:
    """reflect / replicate: each output position reads an input position (mirrored at the edge, or
    clamped to it), so the pad is a take with one index array per padded dim; its VJP adds back."""
    out_sizes = _check_edge_pad(x, pairs, mode)
    k = len(pairs)
    check_alloc((*x.shape[:x.ndim - k], *out_sizes))
    arrays = []
    for j, (d, before, after) in enumerate(pairs):
        n = x.shape[d]
        pos = xp.arange(-before, n + after)
        if mode == "reflect":  # one reflection is enough: torch keeps the pads below n
            pos = xp.abs(pos)
            pos = xp.where(pos > n - 1, 2 * (n - 1) - pos, pos)
        else:
            pos = xp.clip(pos, 0, n - 1)
        arrays.append(pos.reshape((-1,) + (1,) * (k - 1 - j)))  # an outer product over the dims
    form = f"{'Reflection' if mode == 'reflect' else 'Replication'}Pad{k}D"
    key = (*(slice(None),) * (x.ndim - k), *arrays)
    return record(xp.ascontiguousarray(x._data[key]), pad.op.forms[f"{form}Backward0"], _edge_pad_vjp,
                  (x,), saved=(x,), attrs=(key, pairs, mode, _EDGE_PAD_BACKWARD[form]))


def _edge_pad_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    """torch's reflection/replication_padNd_backward: one fused node over (grad_output, input)
    that adds each output's gradient back where it was read."""
    (x,) = node.saved()
    key, _, _, name = node.attrs
    out = backend.add_at(xp.zeros(x.shape, dtype=g._data.dtype), key, g._data)
    return (record(out, name, _edge_pad_double_vjp, (g, x), saved=(x,), attrs=node.attrs),)


def _edge_pad_double_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    """torch: the gradient of grad_output is the same pad of the incoming one; the input's, zeros."""
    (x,) = node.saved()
    _, pairs, mode, _ = node.attrs
    return (_edge_pad(gg, pairs, mode) if node.needs(0) else None,
            ops.zeros_like(x) if node.needs(1) else None)


# the fused backward kernel of each reflect / replicate pad (what its backward records)
_EDGE_PAD_BACKWARD = {f"{m}Pad{k}D": internal_node(f"{m}Pad{k}DBackwardBackward0")
                      for m in ("Reflection", "Replication") for k in (1, 2, 3)}


def _check_edge_pad(x: Tensor, pairs: list[tuple[int, int, int]], mode: str) -> list[int]:
    """torch's conditions on a reflect / replicate pad, with its messages; the padded sizes.
    Every padded size must be at least 1: torch lets some 2-d and 3-d pads crop a dim to nothing
    (with rules that differ between modes), which is refused here."""
    k = len(pairs)
    if x.ndim not in (k + 1, k + 2):
        raise ShapeError(
            f"Padding size {2 * k} is not supported for {x.ndim}D input tensor.\nSupported "
            "combinations for non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last "
            "dimension)\n  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D "
            "input: padding size = 6 (pads last 3 dimensions)")
    if 0 in x.shape[x.ndim - k - 1:]:  # only a batch dim (the first of k + 2) may be empty
        raise ShapeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch "
                         f"size and other non-zero dimensions for input, but got: {list(x.shape)}")
    for j, (d, before, after) in reversed(list(enumerate(pairs))):  # torch checks the last dim first
        if mode == "reflect" and (before >= x.shape[d] or after >= x.shape[d]):
            raise ShapeError(
                f"Argument #{4 + 2 * (k - 1 - j)}: Padding size should be less than the "
                f"corresponding input dimension, but got: padding ({before}, {after}) at dimension "
                f"{d} of input {list(x.shape)}")
    sizes = [x.shape[d] + before + after for d, before, after in pairs]
    if any(s < 1 for s in sizes):
        names = "DHW"[3 - k:]
        have = ", ".join(f"{c}: {x.shape[d]}" for c, (d, _, _) in zip(names, pairs, strict=True))
        got = ", ".join(f"{c}: {s}" for c, s in zip(names, sizes, strict=True))
        raise ShapeError(f"input ({have}) is too small. Calculated output {got}")
    return sizes


# ----- cumsum, cumprod ------------------------------------------------------------------------
def _scan_input(input: Tensor, dtype: str | None, kernel: str) -> Any:
    """The array a scan runs on: in dtype if given, else integers and bools widen to int64."""
    dt = dtypes.get(dtype) or (input.dtype if input.dtype.is_floating_point else dtypes.int64)
    if dt is dtypes.bool_:
        raise DTypeError(f"\"{kernel}\" not implemented for 'Bool'")
    if dtype is not None:
        check_result_dtype(input, dt)
    return input._data if input._data.dtype == dt.np else input._data.astype(dt.np)


def _scan(fn: Any, a: Any, d: int) -> Any:
    return xp.ascontiguousarray(fn(a, axis=d)) if a.ndim else a.copy()


@defop("cumsum", [T(), A("dim", "int"), A("dtype", "dtype", None, optional=True)],
       grad_fns="CumsumBackward0", doc="Running sum along dim.", category=_JOIN)
def cumsum(input: Tensor, dim: int, dtype: str | None = None) -> Tensor:
    check_tensor(input, "cumsum")
    d = wrap_dim(dim, input.ndim)
    a = _scan_input(input, dtype, "cumsum_out_cpu")
    return record(_scan(xp.cumsum, a, d), cumsum.op.grad_fn, _cumsum_vjp, (input,),
                  attrs=(d, input.dtype.name))


def _reverse_cumsum(t: Tensor, d: int) -> Tensor:
    """Sums from each position to the end along d: the VJP of cumsum."""
    return flip(cumsum(flip(t, [d]), d), [d])


def _cumsum_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch's cumsum_backward(grad.to(self's dtype), dim): the gradient itself where nothing is summed
    d, dtype = node.attrs
    g = ops.to(g, dtype)
    if g.numel() <= 1 or g.shape[d] == 1:
        return (g,)
    return (_reverse_cumsum(g, d),)


@defop("cumprod", [T(), A("dim", "int"), A("dtype", "dtype", None, optional=True)],
       grad_fns="CumprodBackward0", doc="Running product along dim (gradients exact with zeros).",
       category=_JOIN)
def cumprod(input: Tensor, dim: int, dtype: str | None = None) -> Tensor:
    check_tensor(input, "cumprod")
    d = wrap_dim(dim, input.ndim)
    a = _scan_input(input, dtype, "cumprod_out_cpu")
    return record(_scan(xp.cumprod, a, d), cumprod.op.grad_fn, _cumprod_vjp, (input,),
                  saved=(input, OUT), attrs=d)


def _cumprod_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    """torch's cumprod_backward. d out_j / d x_i = prod(x_m for m <= j, m != i) for i <= j, else 0.
    Without zeros that is out_j / x_i, hence reverse_cumsum(out * g) / x; with zeros, an O(n)
    form when no graph is recorded, else torch's O(n^2) loop (whose derivative is right at zeros)."""
    x, out = node.saved()
    d = node.attrs
    g = ops.to(g, x.dtype.name)  # torch: grad.to(self.scalar_type())
    if x.numel() <= 1 or x.shape[d] == 1:
        return (g,)
    zero = x._data == 0
    if not bool(zero.any()):
        return (_reverse_cumsum(out * g, d) / x,)
    if is_grad_enabled():
        return (_cumprod_grad_by_slices(x, g, d),)
    return (_cumprod_grad_with_zeros(x, g, out, zero, d),)


def _cumprod_grad_with_zeros(x: Tensor, g: Tensor, out: Tensor, zero: Any, d: int) -> Tensor:
    """The gradient in O(n) where x has zeros. Along each line only the entries up to the first
    zero (at k) have one: before k the zero-free formula holds; at k it is
    prod(x before k) * sum(g_j * prod(x_m for k < m <= j) for j >= k). Exact values, but each piece
    holds only on its side of k, so this is not used when the gradient is differentiated again."""
    n = x.shape[d]
    pos = xp.arange(n).reshape([-1 if i == d else 1 for i in range(x.ndim)])
    first = xp.where(zero.any(axis=d, keepdims=True), xp.expand_dims(xp.argmax(zero, axis=d), d), n)
    before = Tensor(pos < first)
    x_before = ops.where(before, x, 1.0)  # no zeros: safe to divide by, and its product is P
    upto = ops.where(before, _reverse_cumsum(out * g, d) / x_before, 0.0)
    after = ops.cumprod(ops.where(Tensor(pos <= first), 1.0, x), d)
    at = ops.prod(x_before, d, keepdim=True) * \
        ops.sum(ops.where(Tensor(pos >= first), g * after, 0.0), d, keepdim=True)
    return upto + ops.where(Tensor(pos == first), at, 0.0)


def _cumprod_grad_by_slices(x: Tensor, g: Tensor, d: int) -> Tensor:
    """torch's create_graph form: for each position k along d, the products that omit x_k
    (prod of x before k, times the running product after it) weight g from k on; each sum is
    copied into its slice of a zero tensor (a CopySlices per k)."""
    n = x.shape[d]
    grad = ops.zeros(list(x.shape), dtype=g.dtype.name)
    ones = ops.expand(ops.ones([1], dtype=g.dtype.name), [1 if i == d else s for i, s in enumerate(x.shape)])
    for k in range(n):
        if k == 0:
            omitted = cat([ones, cumprod(narrow(x, d, 1, n - 1), d)], d)
        elif k == n - 1:
            omitted = ops.prod(narrow(x, d, 0, k), d, keepdim=True)
        else:
            until = ops.prod(narrow(x, d, 0, k), d, keepdim=True)
            after = cumprod(narrow(x, d, k + 1, n - k - 1), d)
            omitted = cat([until, ops.expand(until, list(after.shape)) * after], d)
        ops.copy_(select(grad, d, k), ops.sum(narrow(g, d, k, n - k) * omitted, d))
    return grad
