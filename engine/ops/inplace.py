"""In-place ops (``x.add_(y)``, ``x.zero_()``, ``x[i] = v``, ...), as torch has them.

An in-place op computes its result out of place, on an *alias* of the tensor (a new Tensor object
on the same array and graph edge), then writes that result into the tensor's own storage: every
name, view and base bound to that storage sees it. The write is what :func:`mutate` does, in this
order, so that an error leaves nothing half-written:

1. torch's refusals (a leaf that requires grad, a view of one, an output of split/unbind, memory
   that overlaps itself), then the op itself, then its result's shape and dtype against the
   tensor's (torch's messages);
2. if the op saved the alias for its backward, a copy of the old values takes its place (torch's
   ``original_self``), since the write is about to overwrite them;
3. the write and one step of the version counter (engine/versions.py);
4. the tensor's history becomes the op's node; for a view, its base's becomes a ``CopySlices``
   node over the base's old history, and the view's an ``AsStridedBackward0`` reading its part of
   it back, as torch records them.

Under ``no_grad`` nothing is recorded: a leaf stays a leaf and its ``.grad`` is untouched.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from engine import backend, ops, versions
from engine.backend import xp
from engine.errors import ArgumentError, AutogradError, ShapeError
from engine.grad_mode import is_grad_enabled
from engine.graph import Node, edge
from engine.ops.core import Operand, broadcast_shapes, check_tensor, record
from engine.ops.index_writes import scalar_as  # (and the index writes' ops, written back below)
from engine.ops.indexing import (
    _advanced_shape,
    _getitem,
    _put,
    advanced_key,
    parse_index,
    python_index,
    take,
)
from engine.registry import OPS, A, T, defop, internal_node
from engine.registry import Operand as OperandParam
from engine.tensor import Tensor
from engine.versions import op_name

__all__ = ["copy_", "fill_", "setitem", "setitem_python", "view_history", "zero_"]

_CAT = "in-place"

LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."
NO_GRAD_VIEW = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given "
    "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
    "moving both the view and the inplace either both inside the no_grad block (if you don't want "
    "the inplace to be tracked) or both outside (if you want the inplace to be tracked).")
OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a "
           "single memory location. Please clone() the tensor before performing the operation.")
# the nodes of ops returning several views, whose outputs torch refuses to change in place
_MULTI_VIEW = frozenset({"SplitBackward0", "SplitWithSizesBackward0", "UnbindBackward0"})
# the nodes a write through a view records (CopySlices on the base, AsStridedBackward0 on views)
_COPY_SLICES = internal_node("CopySlices")
_AS_STRIDED = internal_node("AsStridedBackward0")
_AS_STRIDED_TWICE = internal_node("AsStridedBackwardBackward0")


# ----- the write ------------------------------------------------------------------------------
def check_writable(t: Tensor) -> None:
    """torch's refusals before ``t`` is changed in place."""
    a = t._data
    # (an empty tensor has no element to write twice: torch checks nothing)
    if a.size and (any(st == 0 and n > 1 for n, st in zip(a.shape, a.strides, strict=True)) or
                   not backend.writable(a)):  # (a part of an expanded tensor: numpy's is read-only)
        raise ShapeError(OVERLAP)
    if not is_grad_enabled():
        return
    base = t._base
    if base is None:
        if t._requires_grad and t.grad_fn is None:
            raise AutogradError(LEAF)
        return
    if t._grad_fn is None and base._requires_grad:  # (a view of it made in grad mode records)
        raise AutogradError(NO_GRAD_VIEW)
    if base._requires_grad and base.grad_fn is None:
        raise AutogradError(VIEW_OF_LEAF)
    fn = t.grad_fn
    if fn is not None and fn.name() in _MULTI_VIEW and len(fn.out_meta) > 1:
        raise AutogradError(
            f"Output {t._output_nr} of {op_name(fn)} is a view and is being modified inplace. "
            "This view is the output of a function that returns multiple views. Such functions "
            "do not allow the output views to be modified inplace. You should replace the "
            "inplace operation by an out-of-place one.")


def alias(t: Tensor) -> Tensor:
    """A new tensor object on ``t``'s array and graph edge (what an in-place op computes from)."""
    return Tensor(t._data, t._requires_grad, t.grad_fn, t._output_nr)


def mutate(t: Tensor, compute: Callable[[Tensor], Tensor], name: str | None = None,
           c_type_cast: bool = False) -> Tensor:
    """Change ``t`` in place to ``compute(alias of t)``; returns ``t``. ``name``: the grad_fn
    torch gives the in-place form when it differs from the out-of-place one's; ``c_type_cast``:
    the op's refused cast names the output type as C++ does ("long int"), as clamp_'s does."""
    check_tensor(t, "in-place op", "self")
    check_writable(t)
    src = alias(t)
    out = compute(src)
    if out.shape != t.shape:
        raise ShapeError(f"output with shape {list(t.shape)} doesn't match the broadcast shape "
                         f"{list(out.shape)}")
    if out.dtype.category > t.dtype.category:
        want = t.dtype.c_type if c_type_cast else t.dtype.scalar_type
        raise ArgumentError(f"result type {out.dtype.scalar_type} can't be cast to the desired "
                            f"output type {want}")
    write(t, out, src, name)
    return t


def write(t: Tensor, out: Tensor, src: Tensor | None = None, name: str | None = None) -> None:
    """Write ``out``'s values into ``t``'s storage and give ``t`` (and its base) ``out``'s
    history. ``src``: the alias ``out`` was computed from."""
    fn = out.grad_fn
    if fn is not None:
        if name is not None:
            fn._name = name
        saved = fn._saved
        if src is not None and saved and any(s is src for s in saved):
            # torch's original_self = self.clone(): a recorded clone, so a gradient computed
            # from it with create_graph reaches the old history through a CloneBackward0
            kept = ops.clone(src)
            fn._saved = tuple(kept if s is src else s for s in saved)
    a = out._data
    if a is not t._data:
        t._data[...] = a if a.dtype == t._data.dtype else a.astype(t._data.dtype)
    versions.bump(t)
    if fn is None:
        return
    if fn._output is not None:  # it saved its result: that is t's storage from now on
        versions.watch(fn, t._counter(), t._version)
    base = t._base
    if base is None:
        before = t._grad_fn
        if t._retains_grad and before is not None and before._retained:  # retain_grad follows t
            before._retained.pop(t._output_nr, None)
            fn.retain(out._output_nr, t)
        t.grad_fn, t._output_nr, t._requires_grad = fn, out._output_nr, True
    else:
        _rebase_view(t, base, fn)


def _rebase_view(view: Tensor, base: Tensor, fn: Node) -> None:
    """torch's CopySlices: the base's history takes ``fn`` applied to the view's part of it."""
    idx = backend.view_positions(base._data, view._data).reshape(-1)
    dtype = base._data.dtype
    # fn travels as a saved value: a backward without retain_graph frees it with this node, and a
    # second one raises torch's error (as torch's CopySlices does, whatever fn saved)
    node = Node.make(_COPY_SLICES, _copy_slices_vjp, (edge(base), *fn.next_functions[1:]),
                     (fn,), (idx, base.shape, view.shape), ((base.shape, dtype),))
    base.grad_fn, base._output_nr, base._requires_grad = node, 0, True
    view.grad_fn = _as_strided(view, base, idx)
    view._output_nr, view._requires_grad = 0, True


def view_history(view: Tensor) -> Node:
    """The grad_fn of a view whose storage was written since its own was made: its part of its
    base's current history (torch regenerates it the same way). Tensor._view_history."""
    base = view._base
    assert base is not None
    return _as_strided(view, base, backend.view_positions(base._data, view._data).reshape(-1))


def _as_strided(view: Tensor, base: Tensor, idx: Any) -> Node:
    return Node.make(_AS_STRIDED, _as_strided_vjp, (edge(base),), (), (idx, base.shape),
                     ((view.shape, base._data.dtype),))


def _copy_slices_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    idx, base_shape, view_shape = node.attrs
    (fn,) = node.saved()
    flat = ops.reshape(g, [-1])
    part = ops.reshape(take(flat, (idx,), _getitem.op.forms["IndexBackward0"]), list(view_shape))
    grads = fn.vjp(fn, part)
    first = grads[0]
    if first is None:
        first = ops.zeros(list(view_shape), dtype=g.dtype)
    elif first.shape != tuple(view_shape):
        first = ops.expand(first, list(view_shape))
    whole = ops.reshape(_place(flat, idx, ops.reshape(first, [-1])), list(base_shape))
    return (whole if node.needs(0) else None, *grads[1:])


def _as_strided_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    idx, base_shape = node.attrs
    n = 1
    for s in base_shape:
        n *= s
    spread = _put(ops.reshape(g, [-1]), (n,), (idx,), _AS_STRIDED_TWICE,
                  _getitem.op.forms["IndexBackward0"])
    return (ops.reshape(spread, list(base_shape)),)


def _place(x: Tensor, idx: Any, values: Tensor) -> Tensor:
    """``x`` (1-d) with ``values`` written at the positions ``idx`` (differentiable both ways)."""
    out = xp.array(x._data, copy=True)
    out[idx] = values._data
    return record(out, setitem.op.forms["IndexPutBackward0"], _place_vjp, (x, values), attrs=idx)


def _place_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    idx = node.attrs
    return (_place(g, idx, ops.zeros([int(idx.size)], dtype=g.dtype)) if node.needs(0) else None,
            take(g, (idx,), _getitem.op.forms["IndexBackward0"]) if node.needs(1) else None)


# ----- ops that are an out-of-place op written back -------------------------------------------
def _inplace_of(base: str, name: str | None = None, rename: str | None = None, **fixed: Any
                ) -> None:
    """Declare ``name`` (default ``base + "_"``): op ``base`` computed out of place and written
    into its input. ``fixed``: arguments of ``base`` the in-place form pins (clamp_min_ is clamp
    with max=None); ``rename``: the grad_fn torch gives the in-place form, where it differs."""
    op = OPS[base]
    params = (T(), *[p for p in op.params[1:] if p.name not in fixed])
    names = [p.name for p in params[1:]]

    def fn(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        given = dict(zip(names, args, strict=False))
        mask = given.get("mask", kwargs.get("mask"))
        if base == "masked_fill" and isinstance(mask, Tensor):  # ("tensor a" is input in place)
            broadcast_shapes(input.shape, mask.shape)
        return mutate(input, lambda src: op.fn(src, **given, **kwargs, **fixed), rename,
                      c_type_cast=base == "clamp")

    fn.__name__ = name or base + "_"
    # (the out-of-place op's signature, less what is pinned: what the service and tools inspect)
    sig = inspect.signature(op.fn)
    fn.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p for p in sig.parameters.values() if p.name not in fixed])
    defop(fn.__name__, params, grad_fns=(rename,) if rename else op.grad_fns, category=_CAT,
          inplace=True, doc=f"In place: {op.doc}")(fn)


for _name in ("add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "sqrt", "sin", "cos",
              "tanh", "sigmoid", "relu", "clamp", "masked_fill", "scatter_add", "index_fill",
              "scatter", "index_add"):
    _inplace_of(_name)
_inplace_of("clamp", "clamp_min_", "ClampMinBackward0", max=None)
_inplace_of("clamp", "clamp_max_", "ClampMaxBackward0", min=None)


# ----- zero_, fill_, copy_ --------------------------------------------------------------------
@defop("zero_", [T()], grad_fns="ZeroBackward0", doc="Set every element to 0.", category=_CAT,
       inplace=True)
def zero_(input: Tensor) -> Tensor:
    return mutate(input, lambda src: record(xp.zeros_like(src._data), zero_.op.grad_fn,
                                            _zeros_vjp, (src,)))


def _zeros_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (ops.zeros_like(g),) + (None,) * (len(node.next_functions) - 1)


@defop("fill_", [T(), OperandParam("value")], grad_fns=("FillBackward2", "FillBackward3"),
       doc="Set every element to value (a number or a 0-d tensor).", category=_CAT, inplace=True)
def fill_(input: Tensor, value: Operand) -> Tensor:
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError("fill_ only supports 0-dimension value tensor but got tensor with "
                             f"{value.ndim} dimensions.")
        v = value
        return mutate(input, lambda src: record(xp.full_like(src._data, v._data),
                                                fill_.op.forms["FillBackward3"], _fill_vjp, (src, v)))

    def compute(src: Tensor) -> Tensor:
        full = xp.full_like(src._data, scalar_as(value, src._data.dtype))
        return record(full, fill_.op.forms["FillBackward2"], _zeros_vjp, (src,))

    return mutate(input, compute)


def _fill_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (ops.zeros_like(g) if node.needs(0) else None,
            ops.sum(g) if node.needs(1) else None)


@defop("copy_", [T(), T("src")], grad_fns="CopyBackwards",
       doc="Copy src's values in (src broadcasts to input's shape; any dtype is cast).",
       category=_CAT, inplace=True)
def copy_(input: Tensor, src: Tensor) -> Tensor:
    check_tensor(src, "copy_", "src")
    check_tensor(input, "copy_", "self")
    check_writable(input)
    shape = broadcast_shapes(input.shape, src.shape)
    if shape != input.shape:
        raise ShapeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                         f"shape {list(shape)}")
    here = alias(input)
    values = xp.broadcast_to(src._data, shape).astype(input._data.dtype)
    out = record(xp.ascontiguousarray(values), copy_.op.grad_fn, _copy_vjp, (here, src))
    write(input, out, here)
    return input


def _copy_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (ops.zeros_like(g) if node.needs(0) else None, g if node.needs(1) else None)


# ----- t_, squeeze_, unsqueeze_: a new shape on the same storage ------------------------------
def _restride(input: Tensor, compute: Callable[[Tensor], Tensor], name: str) -> Tensor:
    """Give ``input`` the shape (and history) of ``compute(alias)``, a view of its storage."""
    check_tensor(input, name)
    check_writable(input)
    out = compute(alias(input))
    input._data = out._data
    versions.bump(input)
    fn = out.grad_fn
    if fn is not None:
        fn._name = OPS[name].grad_fns[0]
        input.grad_fn, input._output_nr, input._requires_grad = fn, 0, True
    return input


@defop("t_", [T()], grad_fns="TBackward1", doc="Transpose a matrix (<= 2-d) in place.",
       category=_CAT, inplace=True)
def t_(input: Tensor) -> Tensor:
    if input.ndim > 2:
        raise ShapeError(f"t_() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return _restride(input, ops.t, "t_")


@defop("squeeze_", [T(), A("dim", "dims", None, optional=True)], grad_fns="SqueezeBackward3",
       doc="Drop size-1 dims (all, or those in dim) in place.", category=_CAT, inplace=True)
def squeeze_(input: Tensor, dim: Any = None) -> Tensor:
    return _restride(input, lambda src: ops.squeeze(src, dim), "squeeze_")


@defop("unsqueeze_", [T(), A("dim", "int")], grad_fns="UnsqueezeBackward1",
       doc="Insert a size-1 dim at dim, in place.", category=_CAT, inplace=True)
def unsqueeze_(input: Tensor, dim: int) -> Tensor:
    return _restride(input, lambda src: ops.unsqueeze(src, dim), "unsqueeze_")


# ----- setitem --------------------------------------------------------------------------------
@defop("setitem", [T(), A("index", "index", doc="the index, as getitem takes it"),
                   OperandParam("value")],
       grad_fns=("CopySlices", "CopyBackwards", "IndexPutBackward0"),
       doc="input[index] = value (a tensor or a number, broadcast to the indexed part), in place: "
           "basic indexing writes through a view (CopySlices), advanced indexing is index_put_ "
           "(IndexPutBackward0).", category=_CAT, method=False, inplace=True)
def setitem(input: Tensor, index: Any, value: Operand) -> Tensor:
    check_tensor(input, "setitem")
    target, advanced = parse_index(input, index)
    if advanced:
        index_put_(target, advanced_key(target, advanced), value)
        return input
    if not isinstance(value, Tensor):
        copy_(target, Tensor(scalar_as(value, input._data.dtype)))
        return input
    src: Tensor = value
    if src.shape != target.shape:
        # torch's copy_to: the value's leading size-1 dims dropped (a view), then expanded
        shape = src.shape
        lead = next((i for i, s in enumerate(shape) if s != 1), len(shape))
        src = ops.view(src, list(shape[lead:]))
        if src.shape != target.shape:
            src = ops.expand(src, list(target.shape))
    copy_(target, src)
    return input


def setitem_python(input: Tensor, index: Any, value: Operand) -> None:
    """``input[index] = value`` with Python's meaning of ``index`` (Tensor.__setitem__)."""
    setitem(input, python_index(index), value)


def index_put_(target: Tensor, key: tuple[Any, ...], value: Operand) -> Tensor:
    """``target[key] = value`` for a key holding index arrays (torch's index_put_)."""
    shape = _advanced_shape(target.shape, key)
    if isinstance(value, Tensor):
        if value.dtype is not target.dtype:
            raise ArgumentError("Index put requires the source and destination dtypes match, got "
                                f"{target.dtype.scalar_type} for the destination and "
                                f"{value.dtype.scalar_type} for the source.")
    else:
        value = Tensor(scalar_as(value, target._data.dtype))
    try:
        broadcast_shapes(shape, value.shape)
        ok = len(value.shape) <= len(shape) and broadcast_shapes(shape, value.shape) == shape
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be "
                         f"broadcast to indexing result of shape {list(shape)}")
    v = value

    def compute(src: Tensor) -> Tensor:
        out = xp.array(src._data, copy=True)
        out[key] = xp.broadcast_to(v._data, shape)
        return record(out, setitem.op.forms["IndexPutBackward0"], _index_put_vjp, (src, v),
                      attrs=(key, shape))

    return mutate(target, compute)


def _index_put_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    key, _ = node.attrs
    return (_zeroed_at(g, key) if node.needs(0) else None,
            take(g, key, _getitem.op.forms["IndexBackward0"]) if node.needs(1) else None)


def _zeroed_at(g: Tensor, key: tuple[Any, ...]) -> Tensor:
    """``g`` with zeros at ``key`` (the gradient index_put_ passes to what it overwrote)."""
    out = xp.array(g._data, copy=True)
    out[key] = 0
    return record(out, setitem.op.forms["IndexPutBackward0"], _zeroed_at_vjp, (g,), attrs=key)


def _zeroed_at_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (_zeroed_at(g, node.attrs),)

