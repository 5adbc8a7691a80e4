"""Indexing: picking elements out of a tensor, and the VJPs that put gradients back.

* ``getitem`` (``x[index]``): Python's indexing with torch's graph. Basic items run left to right
  as separate nodes (SelectBackward0, SliceBackward0, UnsqueezeBackward0), then every tensor or list
  item is applied at once by one IndexBackward0 node, exactly the chain torch records.
* ``index_select``, ``gather`` / ``scatter_add`` (each the other's VJP), ``masked_fill``.
* ``diagonal``, ``tril``, ``triu``; ``sort`` and ``topk`` (values differentiable, indices not).

Most of these reduce to one pair of primitives: :func:`take` reads ``x[key]`` for a numpy-style key
and records it under the op's grad_fn name; its VJP :func:`_put` adds the gradient into zeros at the
same key (``xp.add.at``, so repeated indices accumulate, with no Python loop over elements), and
the VJP of that is a take again, so gradients of any order work.
"""

from __future__ import annotations

from typing import Any

from engine import backend, dtypes, ops
from engine.backend import xp
from engine.dims import wrap_dim
from engine.errors import ArgumentError, DTypeError, ShapeError
from engine.graph import Node
from engine.ops.core import (
    Operand,
    broadcast_shapes,
    check_alloc,
    check_tensor,
    record,
    record_multi,
)
from engine.registry import A, T, defop, internal_node
from engine.registry import Operand as OperandParam
from engine.tensor import Tensor, as_view, tensor

# What `from engine.ops.indexing import *` gives engine.ops: the ops, not the helpers (take, select,
# narrow, along), which joining.py imports by name.
__all__ = ["diagonal", "gather", "getitem", "index_select", "masked_fill", "scatter_add", "sort",
           "topk", "tril", "triu"]

_IDX = "indexing"

# the nodes of VJPs that are themselves differentiable: index and index_select put the gradient
# back as torch's index_put_ and index_add do; diagonal's backward is a diagonal put
_INDEX_PUT = internal_node("IndexPutImplBackward0")
_INDEX_ADD = internal_node("IndexAddBackward0")
_DIAGONAL_TWICE = internal_node("DiagonalBackwardBackward0")


# ----- take / put: the pair the indexing VJPs are built from ------------------------------------
def _has_arrays(key: tuple[Any, ...]) -> bool:
    """Whether ``key`` holds index arrays (advanced indexing) rather than only ints and slices."""
    return any(not isinstance(k, (int, slice)) for k in key)


def _twice(name: str) -> str:
    """torch's name for the node that differentiates ``name``'s backward (SelectBackwardBackward0)."""
    return name.removesuffix("Backward0") + "BackwardBackward0"


def take(x: Tensor, key: tuple[Any, ...], name: str, put_name: str | None = None) -> Tensor:
    """``x[key]`` recorded as ``name``. A key of ints and slices gives a view (as torch's select and
    slice do); one with index arrays a contiguous copy (as torch's index ops do)."""
    # (the trailing ... keeps a 0-d result an array, a view, where numpy would give a scalar)
    if _has_arrays(key):
        a = xp.ascontiguousarray(x._data[key])
        return record(a, name, _take_vjp, (x,), attrs=(x.shape, key, name, put_name or _twice(name)))
    return as_view(record(x._data[(*key, Ellipsis)], name, _take_vjp, (x,),
                          attrs=(x.shape, key, name, put_name or _twice(name))), x)


def _take_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    shape, key, name, put_name = node.attrs
    return (_put(g, shape, key, put_name, name),)


def _put(g: Tensor, shape: tuple[int, ...], key: tuple[Any, ...], name: str, take_name: str
         ) -> Tensor:
    """zeros(shape) with ``g`` added at ``key``; positions named more than once accumulate."""
    out = xp.zeros(shape, dtype=g._data.dtype)
    if _has_arrays(key):
        out = backend.add_at(out, key, g._data)
    else:
        out[key] = g._data
    return record(out, name, _put_vjp, (g,), attrs=(key, take_name, name))


def _put_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    key, take_name, name = node.attrs
    return (take(g, key, take_name, name),)


def _identity_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (g,)


def like(a: Any, values: Any, dtype: Any = None) -> Any:
    """``values`` in a new array laid out as ``a`` is (torch's preserve_format: the result of
    sort or flip on a transposed tensor is transposed too, which decides what a reshape does)."""
    out = xp.empty_like(a, dtype=dtype)
    out[...] = values
    return out


def along(dim: int, item: Any) -> tuple[Any, ...]:
    """The key that applies ``item`` (an int, a slice or an index array) to dim ``dim``."""
    return (slice(None),) * dim + (item,)


def select(x: Tensor, dim: int, i: int) -> Tensor:
    """torch.select: index ``i`` of dim ``dim`` (which disappears), with torch's bounds message."""
    n = x.shape[dim] if dim < x.ndim else 0  # (a dim past the end: torch's message says size 0)
    if not -n <= i < n:
        raise ShapeError(f"index {i} is out of bounds for dimension {dim} with size {n}")
    return take(x, along(dim, i % n), _getitem.op.forms["SelectBackward0"])


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """Elements ``start`` to ``start + length`` of dim ``dim`` (a SliceBackward0 view)."""
    return take(x, along(dim, slice(start, start + length)), _getitem.op.forms["SliceBackward0"])


@defop("select", [T(), A("dim", "int"), A("index", "int")], grad_fns="SelectBackward0",
       doc="The slice at index along dim, without that dim (a view).", category=_IDX)
def _select_op(input: Tensor, dim: int, index: int) -> Tensor:
    check_tensor(input, "select")
    if input.ndim == 0:
        raise ShapeError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, input.ndim)
    if not -input.shape[d] <= index < input.shape[d]:
        raise ShapeError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return select(input, d, index)


@defop("narrow", [T(), A("dim", "int"), A("start", "int"), A("length", "int")],
       grad_fns="SliceBackward0",
       doc="length elements from start along dim (start may be negative); a view.",
       category=_IDX)
def _narrow_op(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    check_tensor(input, "narrow")
    if input.ndim == 0:
        raise ShapeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    if not -n <= start <= n:
        raise ShapeError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    start %= n if n else 1
    if length < 0:
        raise ShapeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise ShapeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return narrow(input, d, start, length)


# ----- getitem --------------------------------------------------------------------------------
_BAD_ITEM = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
             "valid indices (got {})")
_BAD_INDEX_DTYPE = "tensors used as indices must be long, int, byte or bool tensors"
_SLICE_KEYS = ("start", "stop", "step")


def _check_slice(s: slice) -> slice:
    for part in (s.start, s.stop, s.step):
        if part is not None and (isinstance(part, bool) or not isinstance(part, int)):
            raise ArgumentError("slice indices must be integers or None")
    if s.step == 0:
        raise ArgumentError("slice step cannot be zero")
    if s.step is not None and s.step < 0:
        raise ArgumentError("step must be greater than zero")
    return s


def _list_index(values: list[Any]) -> Tensor:
    """A (nested) list item: an advanced index, int64, or bool when every entry is a bool."""
    if not values:
        return tensor([], dtype="int64")
    try:
        t = tensor(values)
    except (ValueError, TypeError):
        raise ArgumentError("a list index item must be a rectangular list of ints or of bools") from None
    if t.dtype.is_floating_point:
        raise DTypeError(_BAD_INDEX_DTYPE)
    return t


def _parse_item(item: Any) -> Any:
    """One index item as an int, bool, slice, None, Ellipsis or an index Tensor of dim >= 1 (0-d
    index tensors act as the int or bool they hold, as in torch). (The service turns the wire's
    spellings of slices and Ellipsis into these: service/spellings.py.)"""
    if item is None or item is Ellipsis or isinstance(item, (bool, int)):
        return item
    if isinstance(item, str):
        raise ArgumentError(_BAD_ITEM.format("str"))
    if all(hasattr(item, k) for k in _SLICE_KEYS):  # a Python slice, or any start/stop/step record
        return _check_slice(slice(item.start, item.stop, item.step))
    if isinstance(item, list):
        item = _list_index(item)
    if isinstance(item, Tensor):
        if item.dtype not in (dtypes.int64, dtypes.bool_):
            raise DTypeError(_BAD_INDEX_DTYPE)
        return item.item() if item.ndim == 0 else item
    raise ArgumentError(_BAD_ITEM.format(type(item).__name__))


def _dims_consumed(item: Any) -> int:
    """How many of the input's dims an item indexes (torch's count for 'too many indices')."""
    if isinstance(item, Tensor):
        return item.ndim if item.dtype is dtypes.bool_ else 1
    return 1 if isinstance(item, (int, slice)) and not isinstance(item, bool) else 0


def _slice_dim(x: Tensor, dim: int, s: slice, keep_full: bool) -> Tensor:
    """x[..., s] at ``dim``. Inside a tuple torch skips a slice that keeps the whole dim; a lone
    slice (``x[:]``) always records its SliceBackward0."""
    n = x.shape[dim]
    whole = s.start in (None, 0) and s.step in (None, 1) and (s.stop is None or s.stop >= n)
    if whole and not keep_full:
        return x
    return take(x, along(dim, s), _getitem.op.forms["SliceBackward0"])


def _mask_positions(mask: Any, shape: tuple[int, ...], dim: int) -> tuple[Any, ...]:
    """A bool mask applied at ``dim`` as the int index arrays it stands for (its nonzero)."""
    for i, s in enumerate(mask.shape):
        if shape[dim + i] != s:
            raise ShapeError(
                f"The shape of the mask {list(mask.shape)} at index {i} does not match the shape of "
                f"the indexed tensor {list(shape)} at index {dim + i}")
    return tuple(xp.nonzero(mask))


def _in_bounds(a: Any, n: int, ordinal: int) -> Any:
    """Index array ``a`` into a dim of size ``n``, negatives wrapped; torch's message otherwise."""
    if a.size:
        bad = (a < -n) | (a >= n)
        if bool(bad.any()):
            raise ShapeError(f"index {int(a[bad].reshape(-1)[0])} is out of bounds for dimension "
                             f"{ordinal} with size {n}")
    return xp.where(a < 0, a + n, a)


def _advanced_shape(shape: tuple[int, ...], key: tuple[Any, ...]) -> tuple[int, ...]:
    """The shape ``x[key]`` has for index arrays in ``key`` (numpy's rule, which torch shares):
    the broadcast index shape replaces the indexed dims where they are adjacent, else leads."""
    where = [i for i, k in enumerate(key) if not isinstance(k, slice)]
    arrays = [key[i] for i in where]
    try:
        bshape: tuple[int, ...] = ()
        for a in arrays:
            bshape = broadcast_shapes(bshape, a.shape)
    except ShapeError:
        shapes = ", ".join(f"[{', '.join(map(str, a.shape))}]" for a in arrays)
        raise ShapeError(f"shape mismatch: indexing tensors could not be broadcast together with "
                         f"shapes {shapes}") from None
    rest = [s for i, s in enumerate(shape) if i not in where]
    if where == list(range(where[0], where[-1] + 1)):
        return (*shape[:where[0]], *bshape, *shape[where[-1] + 1:])
    return (*bshape, *rest)


def advanced_key(x: Tensor, indices: list[tuple[int, Any]]) -> tuple[Any, ...]:
    """The numpy key applying every advanced item at once. ``indices`` are (dim, index) pairs in
    order; an index is an int64 or bool array (a bool mask spans as many dims as it has)."""
    key: list[Any] = []
    for ordinal, (dim, a) in enumerate(indices):
        key += [slice(None)] * (dim - len(key))
        if a.dtype == xp.bool_:
            key += _mask_positions(a, x.shape, dim)
        else:
            key.append(_in_bounds(a, x.shape[dim], ordinal))
    return tuple(key)


def _index(x: Tensor, indices: list[tuple[int, Any]]) -> Tensor:
    """Apply every advanced item at once (IndexBackward0)."""
    full = advanced_key(x, indices)
    check_alloc(_advanced_shape(x.shape, full))
    return take(x, full, _getitem.op.forms["IndexBackward0"], _INDEX_PUT)


@defop("getitem", [T(), A("index", "index", doc="the index: an item or a list of items")],
       grad_fns=("SelectBackward0", "SliceBackward0", "UnsqueezeBackward0", "IndexBackward0",
                 "AliasBackward0"),
       doc="input[index], as Python indexing with torch's graph. The index is one item or a list "
           "of items (a list reads as Python's tuple: [0, 2] is x[0, 2]). Items: an int (select), "
           '{"start", "stop", "step"} (a slice; each key optional, step > 0), null (a new dim), '
           '"..." (Ellipsis), true/false, or an advanced index: a nested list of ints or bools, or '
           "an int64 / bool tensor (masks index as their nonzero positions).",
       category=_IDX, method=False)
def _getitem(input: Tensor, index: Any) -> Tensor:
    """The registry's getitem. A top-level list or tuple is the tuple of items, and a list *item*
    is an advanced index: ``_getitem(x, [[0, 2], slice(1, None)])`` is ``x[[0, 2], 1:]``. Basic
    items run left to right, each its own node as in torch (``x[0, 1:]`` is SliceBackward0 over
    SelectBackward0); the tensor and list items then index together (one IndexBackward0)."""
    check_tensor(input, "getitem")
    out, advanced = parse_index(input, index)
    if advanced:
        return _index(out, advanced)
    if out is input:  # nothing to do: torch still returns a new tensor (an alias)
        alias = record(input._data, _getitem.op.forms["AliasBackward0"], _identity_vjp, (input,))
        return as_view(alias, input)
    return out


def parse_index(input: Tensor, index: Any) -> tuple[Tensor, list[tuple[int, Any]]]:
    """Apply the basic items of ``index`` (views, left to right) and collect the advanced ones,
    as (dim, index array) pairs for :func:`advanced_key`, to apply to the result."""
    single = not isinstance(index, (list, tuple))
    items = [_parse_item(i) for i in ([index] if single else index)]
    ndim = input.ndim
    consumed = sum(_dims_consumed(i) for i in items)
    if consumed > ndim:
        raise ShapeError(f"too many indices for tensor of dimension {ndim}")
    out, dim = input, 0
    advanced: list[tuple[int, Any]] = []
    for item in items:
        if item is Ellipsis:
            dim += ndim - consumed  # torch lets every ellipsis skip this many (numpy allows one)
        elif item is None:
            out = ops.unsqueeze(out, dim)
            dim += 1
        elif isinstance(item, bool):  # a new dim of size 1, kept (True) or emptied (False)
            out = ops.unsqueeze(out, dim)
            advanced.append((dim, xp.zeros(int(item), dtype=xp.int64)))
            dim += 1
        elif isinstance(item, int):
            out = select(out, dim, item)
        elif dim + _dims_consumed(item) > out.ndim:  # only reachable past a second ellipsis
            raise ShapeError(f"too many indices for tensor of dimension {ndim}")
        elif isinstance(item, slice):
            out = _slice_dim(out, dim, item, keep_full=single)
            dim += 1
        else:
            advanced.append((dim, item._data))
            dim += _dims_consumed(item)
    return out, advanced


def getitem(input: Tensor, index: Any) -> Tensor:
    """``input[index]`` with Python's meaning (Tensor.__getitem__ calls this)."""
    return _getitem(input, python_index(index))


def python_index(index: Any) -> Any:
    """Python's index (``x[index]``) in the registry's spelling. Python spells the tuple of items
    as a tuple, so a bare list is an advanced index unless torch's legacy rule reads it as a tuple
    (it holds a tensor, a sequence, a slice, None or Ellipsis)."""
    if isinstance(index, list):
        legacy_tuple = len(index) < 32 and any(
            i is None or i is Ellipsis or isinstance(i, (Tensor, list, tuple, slice)) for i in index)
        return tuple(index) if legacy_tuple else (index,)
    return index


# ----- index_select, gather, scatter_add ------------------------------------------------------
@defop("index_select", [T(), A("dim", "int"), T("index")], grad_fns="IndexSelectBackward0",
       doc="The entries of input at index (a 1-d int64 tensor) along dim.", category=_IDX)
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    check_tensor(input, "index_select")
    check_tensor(index, "index_select", "index")
    if index.dtype is not dtypes.int64:
        raise DTypeError("index_select(): Expected dtype int32 or int64 for index")
    if index.ndim > 1:
        raise ShapeError("index_select(): Index is supposed to be a vector")
    d = wrap_dim(dim, input.ndim)
    idx = index._data.reshape(-1)
    n = input.shape[d] if input.ndim else 1
    if idx.size and bool(((idx < 0) | (idx >= n)).any()):
        raise ShapeError("index out of range in self")
    if input.ndim == 0:
        if idx.size != 1:
            raise ShapeError(f"index_select(): Index to scalar can have only 1 value, got {idx.size} "
                             "value(s)")
        return take(input, (), index_select.op.grad_fn)
    check_alloc((*input.shape[:d], idx.size, *input.shape[d + 1:]))
    return take(input, along(d, idx), index_select.op.grad_fn, _INDEX_ADD)


def _check_index(op: str, input: Tensor, dim: int, index: Tensor, src: Tensor | None = None) -> int:
    """gather / scatter_add's checks, with torch's messages; returns the wrapped dim."""
    check_tensor(index, op, "index")
    if index.dtype.name != "int64":
        raise DTypeError(f"{op}(): Expected dtype int64 for index")
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise ShapeError("Index tensor must have the same number of dimensions as input tensor")
    if src is not None and index.ndim != src.ndim and not (index.ndim <= 1 and src.ndim <= 1):
        raise ShapeError("Index tensor must have the same number of dimensions as src tensor")
    d = wrap_dim(dim, input.ndim)
    for i in range(index.ndim if input.ndim else 0):
        if i != d and index.shape[i] > input.shape[i]:
            if src is None:
                raise ShapeError(f"Size does not match at dimension {i} expected index "
                                 f"{list(index.shape)} to be no larger than self {list(input.shape)} "
                                 f"apart from dimension {d}")
            break
        if src is not None and index.shape[i] > src.shape[i]:
            break
    else:
        a = index._data
        size = input.shape[d] if input.ndim else 1
        bad = (a < 0) | (a >= size)
        if a.size and bool(bad.any()):
            raise ShapeError(f"index {int(a[bad].reshape(-1)[0])} is out of bounds for dimension {d} "
                             f"with size {size}")
        return d
    raise ShapeError(f"Expected index {list(index.shape)} to be no larger than self "
                     f"{list(input.shape)} apart from dimension {d} and to be no larger size than "
                     f"src {list(src.shape)}")


def _leading(a: Any, shape: tuple[int, ...], skip: int | None = None) -> Any:
    """The first shape[i] entries of ``a`` along each dim i (all of dim ``skip``): gather and
    scatter_add only use the part of input / src that index covers."""
    return a[tuple(slice(None) if i == skip else slice(0, n) for i, n in enumerate(shape))]


@defop("gather", [T(), A("dim", "int"), T("index")], grad_fns="GatherBackward0",
       doc="out[i][j] = input[index[i][j]][j] along dim.", category=_IDX)
def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    check_tensor(input, "gather")
    d = _check_index("gather", input, dim, index)
    if input.ndim == 0:
        out = input._data.reshape(index.shape).copy()
    else:
        out = xp.take_along_axis(_leading(input._data, index.shape, d), index._data, axis=d)
    return record(out, gather.op.grad_fn, _gather_vjp, (input,), saved=(index,),
                  attrs=(input.shape, d))


def _gather_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (index,) = node.saved()
    shape, d = node.attrs
    return (scatter_add(ops.zeros(list(shape), dtype=g.dtype), d, index, g),)


@defop("scatter_add", [T(), A("dim", "int"), T("index"), T("src")], grad_fns="ScatterAddBackward0",
       doc="input with src added at index along dim (repeats accumulate).", category=_IDX)
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    check_tensor(input, "scatter_add")
    check_tensor(src, "scatter_add", "src")
    d = _check_index("scatter_add", input, dim, index, src)
    out = xp.array(input._data, copy=True, order="C")
    if index._data.size:
        # full coordinates for every element of index: index itself along d, its position elsewhere
        coords = tuple(index._data if i == d else _positions(index.shape, i)
                       for i in range(index.ndim))
        s = _leading(src._data, index.shape)
        out = backend.add_at(out, coords, s) if index.ndim else out + s.astype(out.dtype)
    return record(out, scatter_add.op.grad_fn, _scatter_add_vjp, (input, src), saved=(index,),
                  attrs=d)


def _positions(shape: tuple[int, ...], dim: int) -> Any:
    """0, 1, ... along ``dim``, shaped to broadcast against an array of ``shape``."""
    return xp.arange(shape[dim]).reshape([-1 if i == dim else 1 for i in range(len(shape))])


def _scatter_add_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (index,) = node.saved()
    return (g if node.needs(0) else None,
            gather(g, node.attrs, index) if node.needs(1) else None)


# ----- masked_fill ----------------------------------------------------------------------------
@defop("masked_fill", [T(), T("mask"), OperandParam("value")],
       grad_fns=("MaskedFillBackward0", "MaskedFillBackward1"),
       doc="input with value (a number or a 0-d tensor) wherever the bool mask is true; input and "
           "mask broadcast.", category=_IDX)
def masked_fill(input: Tensor, mask: Tensor, value: Operand) -> Tensor:
    check_tensor(input, "masked_fill")
    check_tensor(mask, "masked_fill", "mask")
    if mask.dtype is not dtypes.bool_:
        raise DTypeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                         f"{mask.dtype.c_type}")
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor "
                         f"with {value.ndim} dimension(s).")
    shape = broadcast_shapes(input.shape, mask.shape)
    check_alloc(shape)
    fill = value._data.astype(input._data.dtype) if isinstance(value, Tensor) else \
        xp.asarray(value).astype(input._data.dtype)
    # (ascontiguousarray makes a 0-d array 1-d: the result keeps the broadcast shape)
    out = xp.ascontiguousarray(xp.where(mask._data, fill, input._data)).reshape(shape)
    if isinstance(value, Tensor):
        return record(out, masked_fill.op.forms["MaskedFillBackward1"], _masked_fill_vjp, (input, value),
                      saved=(mask,))
    return record(out, masked_fill.op.forms["MaskedFillBackward0"], _masked_fill_vjp, (input,), saved=(mask,))



def _masked_fill_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch: grad.masked_fill(mask, 0) for the input (a MaskedFillBackward0); the value's (torch:
    # grad.masked_select(mask).sum(), computed first) is still where + sum here
    (mask,) = node.saved()
    gv = None
    if len(node.next_functions) == 2 and node.needs(1):
        gv = ops.sum(ops.where(mask, g, 0.0))
    gi = masked_fill(g, mask, 0) if node.needs(0) else None
    return (gi,) if len(node.next_functions) == 1 else (gi, gv)


# ----- diagonal, tril, triu -------------------------------------------------------------------
@defop("diagonal", [T(), A("offset", "int", 0), A("dim1", "int", 0), A("dim2", "int", 1)],
       grad_fns="DiagonalBackward0",
       doc="The diagonal of the (dim1, dim2) planes, offset above (> 0) or below (< 0) the main "
           "one, as a new last dim (a view).", category=_IDX)
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    check_tensor(input, "diagonal")
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise ShapeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    # an offset beyond the matrix selects nothing (numpy overflows on huge ones)
    offset = min(max(offset, -input.shape[d1]), input.shape[d2]) if input.ndim else offset
    out = backend.writable_diagonal(input._data, offset, d1, d2)
    return as_view(record(out, diagonal.op.grad_fn, _diagonal_vjp, (input,),
                          attrs=(input.shape, offset, d1, d2)), input)


def _diagonal_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (_diagonal_put(g, *node.attrs),)


def _diagonal_put(g: Tensor, shape: tuple[int, ...], offset: int, d1: int, d2: int) -> Tensor:
    """zeros(shape) with g written on the diagonal that ``diagonal`` read."""
    out = xp.zeros(shape, dtype=g._data.dtype)
    n = g.shape[-1]
    rows = xp.arange(n) + max(-offset, 0)
    cols = xp.arange(n) + max(offset, 0)
    # with the two dims moved last, [..., rows, cols] is the diagonal in g's own layout
    xp.moveaxis(out, (d1, d2), (-2, -1))[..., rows, cols] = g._data
    return record(out, _DIAGONAL_TWICE, _diagonal_put_vjp, (g,),
                  attrs=(offset, d1, d2))


def _diagonal_put_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (diagonal(g, *node.attrs),)


def _triangle(name: str, grad_fn: str, keep: Any) -> Any:
    @defop(name, [T(), A("diagonal", "int", 0)], grad_fns=grad_fn,
           doc=f"input with the elements {'above' if name == 'tril' else 'below'} the given "
               "diagonal of its last two dims zeroed.", category=_IDX)
    def op(input: Tensor, diagonal: int = 0) -> Tensor:
        check_tensor(input, name)
        if input.ndim < 2:
            raise ShapeError(f"{name}: input tensor must have at least 2 dimensions")
        a = input._data
        rows, cols = a.shape[-2:]
        k = min(max(diagonal, -rows - 1), cols + 1)  # beyond the matrix: all kept or all zeroed
        out = xp.where(keep(rows, cols, k), a, xp.zeros((), dtype=a.dtype))
        return record(out, grad_fn, vjp, (input,), attrs=diagonal)

    def vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
        return (op(g, node.attrs),)

    op.__name__ = name
    return op


tril = _triangle("tril", "TrilBackward0", lambda r, c, k: xp.tri(r, c, k, dtype=xp.bool_))
triu = _triangle("triu", "TriuBackward0", lambda r, c, k: ~xp.tri(r, c, k - 1, dtype=xp.bool_))


# ----- sort, topk -----------------------------------------------------------------------------
def _order(a: Any, d: int, descending: bool) -> Any:
    """Indices sorting ``a`` along ``d``, stably: ties keep their order either way, and NaN counts
    as the largest value (torch's order). Descending sorts the reversed array and reverses back."""
    if not descending:
        return xp.argsort(a, axis=d, kind="stable")
    n = a.shape[d]
    return (n - 1) - xp.flip(xp.argsort(xp.flip(a, axis=d), axis=d, kind="stable"), axis=d)


def _picked(input: Tensor, d: int, idx: Any, name: str, keep_layout: bool = False
            ) -> tuple[Tensor, Tensor]:
    """(values, indices) of a value-picking op: values differentiable, indices not. With
    ``keep_layout`` both are laid out as input is (torch's sort; its topk is contiguous)."""
    vals = xp.take_along_axis(input._data, idx, axis=d) if input.ndim else input._data.copy()
    if keep_layout:
        vals, idx = like(input._data, vals), like(input._data, idx, xp.int64)
    values, indices = record_multi((vals, idx), name, _picked_vjp, (input,), saved=(Tensor(idx),),
                                   attrs=(input.shape, d), differentiable=(True, False))
    return values, indices


def _picked_vjp(node: Node, grads: Any) -> tuple[Any, ...]:
    (idx,) = node.saved()
    shape, d = node.attrs
    g = grads[0] if isinstance(grads, list) else grads
    if not shape:
        return (g,)
    return (scatter_add(ops.zeros(list(shape), dtype=g.dtype), d, idx, g),)


@defop("sort", [T(), A("dim", "int", -1), A("descending", "bool", False),
                A("stable", "bool", None, optional=True)],
       grad_fns=("SortBackward0", "SortBackward1"), outputs=("values", "indices"),
       doc="(values, indices) sorted along dim. The sort is stable: ties keep their order (torch's "
           "CPU order); NaN sorts as the largest. Passing stable (true or false) gives "
           "SortBackward1, as torch's stable overload does.", category=_IDX)
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool | None = None
         ) -> tuple[Tensor, Tensor]:
    check_tensor(input, "sort")
    d = wrap_dim(dim, input.ndim)
    name = sort.op.forms["SortBackward0"] if stable is None else sort.op.forms["SortBackward1"]
    if input.ndim == 0:
        return _picked(input, 0, xp.zeros((), dtype=xp.int64), name)
    return _picked(input, d, _order(input._data, d, descending).astype(xp.int64), name,
                   keep_layout=True)


@defop("topk", [T(), A("k", "int"), A("dim", "int", -1), A("largest", "bool", True),
                A("sorted", "bool", True)],
       grad_fns="TopkBackward0", outputs=("values", "indices"),
       doc="(values, indices) of the k largest (or smallest) entries along dim, in sorted order "
           "(also when sorted is false, where torch's order is unspecified); NaN counts as the "
           "largest. Tied entries come in index order; torch's order among ties varies.",
       category=_IDX)
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True  # noqa: A002
         ) -> tuple[Tensor, Tensor]:
    check_tensor(input, "topk")
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise ArgumentError("selected index k out of range")
    if input.ndim == 0:
        return _picked(input, 0, xp.zeros((), dtype=xp.int64), topk.op.grad_fn)
    idx = _order(input._data, d, largest)[along(d, slice(0, k))]
    return _picked(input, d, xp.ascontiguousarray(idx).astype(xp.int64), topk.op.grad_fn)

