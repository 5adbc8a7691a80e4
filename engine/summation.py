"""Floating-point sums in the order torch 2.13's CPU kernel adds, so that they round as torch's do.

numpy sums pairwise in blocks of 8; torch's CPU ``sum`` (aten/src/ATen/native/cpu/SumKernel.cpp)
adds in another order, so the last bits differ and ``item()`` prints another last digit. This
module reproduces torch's order on backend arrays:

* TensorIterator's view of the reduction: size-1 dims dropped, reduced dims moved innermost,
  the rest ordered by stride, adjacent dims merged where the memory allows; the two innermost
  dims form one "2-d loop" call, the outer ones repeat it, and every call adds its results into
  the zero-filled output (so the calls' contributions to one output add in call order).
* Per call, the kernel's four strategies (contiguous inner or outer dim, vectorised or scalar),
  built from two sums: the *cascade* (each of up to four levels sums ``2**p`` values of the
  level below in order, then flushes upward) and *row_sum* (four interleaved cascades, the
  leftover elements, then the four partials). Vectorised loads are ``LANES_BYTES`` wide: each
  lane is its own cascade, and the lanes are added last, in order.

Every "sum in order" below is the last entry of a cumulative sum (``cumsum`` adds strictly in
order; ``sum`` would not), which keeps the work in whole-array operations.

Scope: torch runs this serially up to 32768 elements (at::internal::GRAIN_SIZE); above that it
splits the work over its threads, and its answer then depends on the machine's thread count
(this module keeps the serial order). On CuPy, torch's CUDA kernel has yet another order (a tree
over thread blocks); there the plain backend sum is used.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from engine.backend import ON_HOST, xp

# The width of the vectors torch's sum kernel adds in: 32 bytes (4 doubles, 8 floats). Measured
# against torch 2.13's CPU wheel: the same answers with ATEN_CPU_CAPABILITY=default and =avx512
# on an AVX512 machine, so the order does not depend on the CPU.
LANES_BYTES = 32
_ILP = 4  # the kernel's row_sum splits a row into 4 interleaved streams
_ROWS = 4  # and its "multi-row" loops take 4 columns (or 4 vectors of columns) at a time
_LEVELS = 4


def torch_sum(a: Any, dims: tuple[int, ...], keepdim: bool) -> Any:
    """``a`` summed over ``dims`` (non-negative, sorted) as torch's CPU kernel sums it."""
    n = a.size
    if ON_HOST and len(dims) == a.ndim and n > 1 and a.dtype.kind == "f" and a.flags.c_contiguous:
        # The common small whole sums (loss.sum(), a mean), tried before the general path's
        # bookkeeping (out_shape, the size-1 test), which costs a tiny tensor's sum more than its
        # additions. (One element is left to the size-1 path below: it makes -0.0 +0.0.)
        lanes = LANES_BYTES // a.itemsize
        if n < lanes:  # the kernel's scalar row_sum: one in-order sum, in the array's dtype
            return _scalar_row_sum(a.reshape(-1)).reshape((1,) * a.ndim if keepdim else ())
        if n <= _SMALL[a.itemsize]:
            # in Python floats: the array path's fixed cost of some 40 array calls would be most
            # of the op's
            value = _small_sum(a, lanes, _ROUND[a.itemsize])
            return xp.full((1,) * a.ndim if keepdim else (), value, dtype=a.dtype)
    out_shape = tuple(1 if i in dims else s for i, s in enumerate(a.shape) if keepdim or i not in dims)
    if not ON_HOST or a.dtype.kind != "f" or n == 0:
        return xp.asarray(xp.sum(a, axis=dims, keepdims=keepdim))
    if all(a.shape[d] == 1 for d in dims):  # nothing is added but the output's zero
        return (a + 0.0).astype(a.dtype).reshape(out_shape)
    direct = _contiguous(a, dims)
    if direct is not None:
        return (direct + 0.0).astype(a.dtype).reshape(out_shape)
    kept = [i for i in range(a.ndim) if i not in dims]
    loop = _iterator_dims(a, set(dims))
    # the array with its axes in the iterator's order (outermost first), merged dims flattened
    order = [axis for axis in range(a.ndim) if a.shape[axis] == 1] + \
        [axis for dim in reversed(loop) for axis in dim.axes]  # (size-1 axes: anywhere)
    b = a.transpose(order).reshape([dim.size for dim in reversed(loop)])
    values = _calls(b, loop, a.itemsize)
    # values: one contribution per (outer index..., column) in call order; add those of each output
    call_dims = list(reversed(loop[1:]))
    reduced_last = [k for k, d in enumerate(call_dims) if not d.reduced] + \
        [k for k, d in enumerate(call_dims) if d.reduced]
    n_out = math.prod(d.size for d in loop if not d.reduced)
    values = values.transpose(reduced_last).reshape(n_out, -1)
    total = _in_order(values.T[None])[0] + 0.0  # (the output starts at +0: torch never answers -0)
    # back from the iterator's order of the kept dims to the output's
    kept_dims = [d for d in reversed(loop) if not d.reduced]
    kept_axes = [axis for d in kept_dims for axis in d.axes]
    total = total.reshape([a.shape[axis] for axis in kept_axes])
    total = total.transpose([kept_axes.index(axis) for axis in kept if axis in kept_axes])
    return total.astype(a.dtype).reshape(out_shape)


def _contiguous(a: Any, dims: tuple[int, ...]) -> Any:
    """The common large sums of a C-contiguous array straight to the kernel's strategy, without
    the iterator's reordering, merging and the calls' bookkeeping below (some 40 Python calls:
    half the cost of a bias gradient's sum): the whole array (TensorIterator merges it into one
    contiguous dim: vectorised rows), or a matrix over its rows with whole groups of 4 vectors
    of columns (a bias gradient: plain cascades down each column). The same array operations
    as the general path takes for them, so the same bits (tests/engine/test_float_sum_paths.py
    compares the two). None for any other sum."""
    if not a.flags.c_contiguous or a.itemsize not in (4, 8):
        return None
    lanes = LANES_BYTES // a.itemsize
    if len(dims) == a.ndim and a.size >= lanes:
        if not a.size % (_ILP * lanes):
            return _whole_vectors(a.reshape(-1), lanes)
        return _vector_rows(a.reshape(1, -1), lanes)[0]
    if dims == (0,) and a.ndim == 2 and a.shape[1] and not a.shape[1] % (_ROWS * lanes):
        return _cascade(a[None])[0]
    return None


def column_sum(a: Any) -> Any:
    """A matrix summed over its rows as torch's kernel sums it, or None where this lean form does
    not apply: a bias's gradient, C-contiguous float32/float64 (n, cols) with whole groups of 4
    vectors of columns, which the kernel sums by plain cascades down each column (what
    ``_contiguous`` hands to ``_cascade``). Here the cascade's levels are numpy calls on the
    matrix itself (for a batch of 256: two sums and the final + 0.0) where the general path makes
    some 25 Python calls around the same arithmetic, which inside a training step, right after
    the large products, cost a bias sum more than its additions (issue 18). The same additions
    in the same order:
    ``sum`` over a C-contiguous array's non-last axis adds row after row (see ``_sequential``);
    tests/engine/test_column_sum.py compares it with the general path byte for byte. A fresh
    array, never a view of ``a``."""
    if not ON_HOST or a.ndim != 2 or a.dtype.kind != "f" or a.itemsize not in (4, 8) or \
            not a.flags.c_contiguous:
        return None
    n, cols = a.shape
    if not n or not cols or cols % (_ROWS * LANES_BYTES // a.itemsize):
        return None
    step = _cascade_step(n)
    level = a
    acc: Any = None
    for _ in range(_LEVELS - 1):  # each level's leftovers in order, then its flushes move up
        m = level.shape[0]
        whole = m - m % step
        if whole < m:  # (one row is its own sum: a view, never written to)
            left = level[whole] if whole + 1 == m else level[whole:].sum(axis=0)
            acc = left if acc is None else acc + left
        if not whole:
            break
        level = level[:whole].reshape(-1, step, cols).sum(axis=1)
    else:
        last = level.sum(axis=0)
        acc = last if acc is None else acc + last
    return acc + 0.0  # (torch's output starts at +0, and empty levels add zeros: -0.0 is +0.0)


# Up to these many elements a whole-tensor sum is done in Python floats (by itemsize): doubles
# add as float64 does; float32 sums round each addition (exact: a double holds the exact sum of
# two floats' worth of bits, so rounding it once is float32's own rounding).
_SMALL = {8: 256, 4: 512}
_ROUND: dict[int, Callable[[float], float]] = {
    8: float, 4: lambda v: struct.unpack("f", struct.pack("f", v))[0]}


def _small_sum(a: Any, lanes: int, rnd: Callable[[float], float]) -> float:
    """A contiguous whole sum short enough that no cascade level flushes twice (at most 31
    rows per stream), so each stream is a plain running sum: a few small array steps, then the
    lanes added in Python floats. (At least one vector: a shorter one is ``_scalar_row_sum``'s.)"""
    n = a.size
    flat = a.reshape(-1)
    whole = n // lanes
    rows = whole // 4  # vectors: stream k takes vectors r*4 + k, each lane its own sum
    vectors = flat[:whole * lanes].reshape(whole, lanes)
    if rows:
        streams = _sequential(vectors[:rows * 4].reshape(1, rows, 4 * lanes), 1)[0]
    else:
        streams = xp.zeros(4 * lanes, dtype=a.dtype)
    first = _sequential(xp.concatenate([streams[None, :lanes], vectors[rows * 4:]])[None], 1)[0]
    lane_sums = ((first + streams[lanes:2 * lanes]) + streams[2 * lanes:3 * lanes]) + \
        streams[3 * lanes:]
    return _running(rnd, 0.0, [*flat[whole * lanes:].tolist(), *lane_sums.tolist()])


def _scalar_row_sum(flat: Any) -> Any:
    """The kernel's scalar row_sum of a contiguous row shorter than one vector (``_small_sum``'s
    first branch), as a 1-element array: its four interleaved streams have at most one element
    each here, so the additions are one chain: element 0, the leftovers past the first four, then
    elements 1, 2 and 3 (each stream starts at +0, and so does the total: the final "+ 0.0"
    stands for those zeros, which change only a -0.0). One cumulative sum adds that chain in
    order and rounds each addition to the array's dtype, as the kernel does: three array calls
    where the Python-float form makes a rounding call per addition (tests/engine/
    test_float_sum_paths.py compares the two)."""
    n = flat.shape[0]
    if n > _ILP:
        flat = flat[[0, *range(_ILP, n), *range(1, _ILP)]]
    return flat.cumsum()[-1:] + 0.0


def _running(rnd: Callable[[float], float], start: float, values: list[float]) -> float:
    for v in values:
        start = rnd(start + v)
    return start


class _Dim:
    """One dim of torch's TensorIterator: the input axes merged into it (outermost first)."""

    __slots__ = ("axes", "size", "stride", "out_stride", "reduced")

    def __init__(self, axes: list[int], size: int, stride: int, out_stride: int,
                 reduced: bool) -> None:
        self.axes, self.size, self.stride = axes, size, stride
        self.out_stride, self.reduced = out_stride, reduced


def _iterator_dims(a: Any, reduced: set[int]) -> list[_Dim]:
    """The reduction's dims as TensorIterator orders and merges them, innermost first."""
    item = a.itemsize
    out_strides: dict[int, int] = {}
    step = 1
    for axis in reversed(range(a.ndim)):  # the output: a new contiguous tensor of the kept dims
        if axis not in reduced:
            out_strides[axis] = step
            step *= a.shape[axis]
    dims = [_Dim([axis], a.shape[axis], a.strides[axis] // item, out_strides.get(axis, 0),
                 axis in reduced) for axis in reversed(range(a.ndim)) if a.shape[axis] != 1]
    for i in range(1, len(dims)):  # TensorIterator's insertion sort (ties keep their place)
        j = i
        for k in range(i - 1, -1, -1):
            c = _compare(dims[k], dims[j])
            if c > 0:
                dims[k], dims[j] = dims[j], dims[k]
                j = k
            elif c < 0:
                break
    merged = dims[:1]
    for d in dims[1:]:
        p = merged[-1]
        if p.size * p.stride == d.stride and p.size * p.out_stride == d.out_stride:
            merged[-1] = _Dim(d.axes + p.axes, p.size * d.size, p.stride, p.out_stride, p.reduced)
        else:
            merged.append(d)
    if len(merged) == 1:  # a 1-d iteration: the kernel's second dim has size 1 and stride 0
        merged.append(_Dim([], 1, 0, 0, True))
    return merged


def _compare(d0: _Dim, d1: _Dim) -> int:
    """TensorIterator's should_swap for a reduction: 1 puts d0 after d1, -1 before, 0 undecided."""
    if d0.reduced != d1.reduced:  # the output: reduced dims go innermost
        return -1 if d0.reduced else 1
    if not d0.reduced:  # the output's strides decide, then the input's
        if d0.out_stride != d1.out_stride:
            return -1 if d0.out_stride < d1.out_stride else 1
        if d0.size > d1.size:
            return 1
    if d0.stride == 0 or d1.stride == 0:
        return 0
    if d0.stride != d1.stride:
        return -1 if d0.stride < d1.stride else 1
    return 1 if d0.size > d1.size else 0


def _calls(b: Any, loop: list[_Dim], item: int) -> Any:
    """Each 2-d loop call's results: shape (outer sizes..., columns). The first dim is a reduced
    one (TensorIterator puts them innermost), so the kernel's swap never applies.

    The helpers below take stacks of (values, columns) matrices, shape (calls, n, columns), and
    sum each column down its n values; the calls stay apart on the first axis."""
    d0, d1 = loop[0], loop[1]
    outer = b.shape[:-2]
    calls = b.reshape(-1, d1.size, d0.size)  # (call, column, value)
    lanes = LANES_BYTES // item
    cols = d1.size
    if d0.stride == 1 and d0.size >= lanes:  # contiguous inner: vectorised rows
        result = _vector_rows(calls.reshape(-1, d0.size), lanes)
    elif d1.stride == 1 and cols >= lanes:  # contiguous outer: 4 vectors of columns at a time
        result = _columns(xp.swapaxes(calls, 1, 2), _ROWS * lanes)
    elif d0.stride < d1.stride:  # scalar inner: each column (a row here) on its own
        result = _row_sum(calls.reshape(1, -1, d0.size).transpose(0, 2, 1))
    else:  # scalar outer: 4 columns at a time
        result = _columns(xp.swapaxes(calls, 1, 2), _ROWS)
    return result.reshape(*outer, cols)


def _columns(x: Any, group: int) -> Any:
    """The outer loops: whole groups of ``group`` columns by plain cascades, the rest by row_sum."""
    cols = x.shape[2]
    cut = cols // group * group
    if cut == cols:
        return _cascade(x)
    if cut == 0:
        return _row_sum(x)
    return xp.concatenate([_cascade(x[:, :, :cut]), _row_sum(x[:, :, cut:])], axis=1)


def _vector_rows(x: Any, lanes: int) -> Any:
    """vectorized_inner_sum of each row of ``x`` (rows, n): row_sum over whole vectors (each lane
    a column), then the leftover scalars, then the lanes, in order."""
    whole = x.shape[1] // lanes
    partial = _row_sum(x[:, :whole * lanes].reshape(x.shape[0], whole, lanes))
    return _in_order(xp.concatenate([x[:, whole * lanes:], partial], axis=1)[:, :, None])[:, 0]


def _whole_vectors(flat: Any, lanes: int) -> Any:
    """``_vector_rows`` of one contiguous row of whole groups of 4 vectors (a large tensor's
    whole sum, a mean's: no vector or scalar left over): row_sum's 4 interleaved cascades, each
    lane its own, then the 4 streams added, then the lanes in order. The same additions in the
    same order, without the general form's stacks, concatenations and leftover sums (a quarter
    of a 256x1024 mean's cost; tests/engine/test_float_sum_paths.py compares them)."""
    streams = _cascade(flat.reshape(1, -1, _ILP * lanes))[0].reshape(_ILP, lanes)
    acc = ((streams[0] + streams[1]) + streams[2]) + streams[3]
    return xp.cumsum(acc)[-1]  # (cumsum adds strictly in order)


def _row_sum(x: Any) -> Any:
    """row_sum of each column: 4 interleaved cascades, the leftovers added to the first, then
    the other three added to it."""
    calls, n, cols = x.shape
    rows = n // _ILP
    if rows:
        partial = _cascade(x[:, :rows * _ILP].reshape(calls, rows, _ILP * cols)
                           ).reshape(calls, _ILP, cols)
    else:
        partial = xp.zeros((calls, _ILP, cols), dtype=x.dtype)
    first = _in_order(xp.concatenate([partial[:, :1], x[:, rows * _ILP:]], axis=1))
    return ((first + partial[:, 1]) + partial[:, 2]) + partial[:, 3]


def _cascade(x: Any) -> Any:
    """multi_row_sum of each column: levels of 2**p values summed in order and flushed upward."""
    step = _cascade_step(x.shape[1])
    # The levels' leftovers, then the last level, are added in order. An empty one is a zero:
    # adding +0 changes nothing but a -0.0 (to +0.0), and once it has been added no later sum is
    # -0.0. So empty ones are skipped (no zeros array, no addition: a bias gradient's 256 rows
    # leave none) and one "+ 0.0" at the end stands for them: the same bits.
    level = x
    acc = None
    zeros = False
    for _ in range(_LEVELS - 1):  # level j's flushes become level j+1's values
        n = level.shape[1]
        whole = n // step * step
        if whole == n:
            zeros = True
        else:
            extra = _in_order(level[:, whole:])
            acc = extra if acc is None else acc + extra
        if not whole:  # (every level above is empty)
            return _in_order(level) if acc is None else acc + 0.0  # (none: no values at all)
        level = _in_order_groups(level[:, :whole], step)
    extra = _in_order(level)
    if acc is None:
        return extra + 0.0  # (``zeros``: at least the first level's leftovers were empty)
    acc = acc + extra
    return acc + 0.0 if zeros else acc


def _cascade_step(n: int) -> int:
    """How many values of one level the kernel's cascade adds into each of the next level's, for
    ``n`` values in all (shared by ``_cascade`` and ``column_sum``)."""
    ceil_log2 = 1 if n <= 2 else (n - 1).bit_length()
    return 1 << max(4, ceil_log2 // _LEVELS)


def _in_order(x: Any) -> Any:
    """(calls, n, cols) -> (calls, cols): each column summed first value to last (0 for none)."""
    if x.shape[1] == 0:
        return xp.zeros((x.shape[0], x.shape[2]), dtype=x.dtype)
    return _sequential(x, 1)


def _in_order_groups(x: Any, step: int) -> Any:
    """Each run of ``step`` values summed in order: (calls, n, cols) -> (calls, n // step, cols)."""
    if x.shape[1] == 0:
        return x[:, :0]
    return _sequential(x.reshape(x.shape[0], -1, step, x.shape[2]), 2)


def _sequential(x: Any, axis: int) -> Any:
    """Sums along ``axis`` (not the last), adding in order. numpy's sum adds pairwise only along
    the axis fastest in memory; across a contiguous array's last axis of 2 or more columns it adds
    row after row, in order, vectorised over the columns -- as fast as a sum gets while those
    columns are many. Over a few columns and many outer blocks (a cascade level of a large
    tensor: 16 rows of 32 lanes, 16384 times) its inner loop is only the columns long, and
    ``_added`` is twice as fast. Otherwise the last entry of a cumulative sum (strictly in order,
    but slower)."""
    n = x.shape[axis]
    if 2 <= n <= _LOOP_TERMS and x.dtype.itemsize >= 4 and x.size // n >= _LOOP_MIN_WIDTH and \
            math.prod(x.shape[axis + 1:]) * x.dtype.itemsize <= _LOOP_MAX_INNER_BYTES:
        return _added(x, axis)
    if x.shape[-1] >= 2 and x.flags.c_contiguous:
        return x.sum(axis=axis)
    return xp.take(xp.cumsum(x, axis=axis), -1, axis=axis)


# When _sequential adds term by term (by measurement on numpy 2.4, float32 and float64): at most
# this many terms (each is a call), each at least this many elements, and the part of each term
# contiguous in memory (the columns) at most this many bytes (from 512 on, numpy's own sum is as
# fast or faster: a 1024x256 column sum took 60 us summed, 72 us term by term).
# (float16 never: numpy's sum of halves accumulates in float32, so term by term would differ.)
_LOOP_TERMS = 64
_LOOP_MIN_WIDTH = 2048
_LOOP_MAX_INNER_BYTES = 256


def _added(x: Any, axis: int) -> Any:
    """The sum along ``axis`` as whole-array additions, term after term, each added into the
    first: each output element is ``((0 + x0) + x1) + ...``, numpy's sum here exactly (which
    starts at +0: a sum of -0.0s is +0.0)."""
    lead = (slice(None),) * axis
    acc = x[(*lead, 0)] + 0.0  # (a new array: x0's values, its -0.0s made +0.0)
    for j in range(1, x.shape[axis]):
        xp.add(acc, x[(*lead, j)], out=acc)
    return acc
