"""What every op module shares: recording a result in the graph, operand and dtype handling, dims.

An op computes its result on backend arrays, then calls :func:`record` with torch's grad_fn name as
its declaration gives it (``add.op.grad_fn``, ``sum.op.forms["SumBackward1"]``, or a module-level
``registry.internal_node``: never a string written at the call), its VJP, the inputs that get an
edge in ``next_functions`` and what the VJP must save.  ``record`` does nothing more than wrap the
array when grad mode is off or no input requires grad, which keeps the no-grad path (and so
first-order backward passes, whose VJPs run under no_grad) cheap. (A VJP marked
``graph.on_arrays`` may skip ops altogether in such a pass: see there.)
"""

from __future__ import annotations

import dis
import sys
import weakref
from collections.abc import Sequence
from typing import Any

from engine import backend, dtypes, ops
from engine.anomaly import check_forward
from engine.context import check_shape
from engine.context import current as current_context
from engine.dtypes import DType
from engine.errors import DTypeError, ShapeError
from engine.grad_mode import is_grad_enabled
from engine.graph import NO_EDGE, OUT, VJP, Node, edge, flat, next_seq
from engine.tensor import Tensor
from engine.versions import saved_versions

# ``saved`` of an op whose VJP needs its output alone (tanh, exp, ...): record knows it by identity
SAVES_OUTPUT: tuple[Any, ...] = (OUT,)

Operand = Tensor | bool | int | float
_new = object.__new__
# float32's array dtype (a singleton), for the common case of the tests for a floating dtype
F32 = dtypes.float32.dtype



class _NotGiven:
    """Default of an argument whose explicit None means something else to torch
    (``sum(x)`` is SumBackward0, ``sum(x, dim=None)`` SumBackward1)."""

    def __repr__(self) -> str:
        return "None"


NOT_GIVEN: Any = _NotGiven()


def record(data: Any, name: str, vjp: VJP, inputs: Sequence[Any], saved: tuple[Any, ...] = (),
           attrs: Any = None, plain: bool = False) -> Tensor:
    """Wrap ``data`` as the op's result, with a grad_fn when any input requires grad.

    ``inputs`` are the op's differentiable arguments in torch's order; a Python number among them
    gets a ``(None, 0)`` edge, as torch's wrapped numbers do. ``plain``: the caller knows that
    ``saved`` holds no tensor and not OUT (numbers, None), so there is nothing in it for record
    to look for (a saved output or a tensor changed in place).

    Every op runs through here, forward and (under no_grad) in first-order backward passes, so it
    is written for speed: one grad-mode lookup, the edges of one or two inputs without a loop.
    """
    # (float32 by identity first: reading ``kind`` costs a tenth of what record itself does)
    node: Node | None
    if is_grad_enabled() and ((dtype := data.dtype) is F32 or dtype.kind == "f"):
        n = len(inputs)
        first = inputs[0]
        # (graph.edge, inline for the common first inputs, tensors that are not views: one with
        # a history, or a constant: one that requires no grad, (None, 0) as edge answers)
        if first.__class__ is Tensor and first._base is None and \
                ((src := first._grad_fn) is not None or not first._requires_grad):
            nr: int = 0 if src is None else first._output_nr
        else:
            src, nr = edge(first)
        # the node's edges, flat (Node.edges), and whether any input requires grad
        if n == 1:
            edges: tuple[Any, ...] = (src, nr)
            needed = src is not None
        elif n == 2:
            second = inputs[1]  # (a Python number's edge without a call: a scalar op's operand)
            src1, nr1 = edge(second) if second.__class__ is Tensor else NO_EDGE
            edges = (src, nr, src1, nr1)
            needed = src is not None or src1 is not None
        else:
            edges = flat(((src, nr), *map(edge, inputs[1:])))
            needed = any(e is not None for e in edges[::2])
        if needed:  # some input requires grad: record
            output = None
            moved = False  # whether a saved tensor's version counter is past 0 (see versions.py)
            tensors = False  # whether saved holds a tensor (Node._saves_tensors)
            if saved is SAVES_OUTPUT:  # (the output alone: the loop's answer, without the loop)
                output = data
            elif not plain:  # (plain: no loop, whose iterator is an object the garbage
                # collector counts: a chain's run -1 %)
                for s in saved:
                    if s is OUT:
                        output = data
                    elif s.__class__ is Tensor:
                        tensors = True
                        base = s._base
                        vc = (s if base is None else base)._vc
                        if vc is not None and vc[0]:
                            moved = True
            # The node's out_meta: the very tuple of the node that made the first input when that
            # had the same shape and dtype (an elementwise op), so that a long chain of ops does
            # not keep three more small tuples alive per op (and for the garbage collector to walk)
            meta = None
            if src is not None and nr == 0:
                meta = src.out_meta
                if len(meta) != 1 or meta[0][1] is not dtype or meta[0][0] != data.shape:
                    meta = None
            # Node.make(name, vjp, edges, saved, attrs, meta, output), inline: a call frame is a
            # tenth of a chain op's cost. (Every slot is set, as make sets it:
            # tests/engine/test_record_slots.py.)
            node = Node()
            node._name = name
            node.vjp = vjp
            node.edges = edges
            node._saved = saved
            node._saves_tensors = tensors
            node._output = output
            node._held = node._retained = node.step = None
            node._versions = saved_versions(saved, Tensor) if moved else None
            node.attrs = attrs
            node.out_meta = meta if meta is not None else ((data.shape, dtype),)
            node.seq = next_seq()
        else:
            node = None
    else:
        node, needed = None, False
    # Tensor(data, node is not None, node), its __init__ inline for every result, recorded or
    # not: calling the class costs a no-grad result (a loop's stopping test, a VJP's product in a
    # backward pass) a fifth of its record. (The same slots and values: test_record_slots.py.)
    ctx = current_context()
    if ctx is not None:
        ctx.admit(data.size)  # (before the tensor exists: it raises when over a limit)
    out = _new(Tensor)
    out._ctx = ctx
    out._data = data
    out._requires_grad = needed  # (a bool: whether there is a node)
    out._grad = out._acc = out._base = out._vc = None
    out._grad_fn = node
    out._output_nr = 0
    out._retains_grad = False
    if ctx is not None and ctx.detect_anomaly:  # (NaN/inf outside the graph too)
        _check_anomaly(node if node is not None else Node.make(name, vjp, ()), inputs, out)
    return out


def _check_anomaly(node: Node, inputs: Sequence[Any], out: Any) -> None:
    ctx = current_context()
    assert ctx is not None
    if ctx.in_backward:  # a VJP's own arithmetic: its results are checked as gradients
        return
    node.step = ctx.step
    check_forward(node, inputs, out)


def record_multi(datas: Sequence[Any], name: str, vjp: VJP, inputs: Sequence[Any],
                 saved: tuple[Any, ...] = (), attrs: Any = None,
                 differentiable: Sequence[bool] | None = None) -> tuple[Tensor, ...]:
    """Like :func:`record` for ops with several outputs sharing one node (split, max(dim), ...).
    Outputs marked not differentiable (indices) get no grad_fn, as in torch."""
    diff = differentiable or [True] * len(datas)
    outs = tuple(Tensor(d) for d in datas)
    if not is_grad_enabled():
        return outs
    edges = tuple(map(edge, inputs))
    if all(e[0] is None for e in edges):
        return outs
    node = Node.make(name, vjp, edges, saved, attrs, tuple([(d.shape, d.dtype) for d in datas]))
    if saved:
        node._versions = saved_versions(saved, Tensor)
    for i, (o, d) in enumerate(zip(outs, diff, strict=True)):
        if d:
            o.grad_fn = node
            o._output_nr = i
            o._requires_grad = True
    if outs[0]._ctx is not None and outs[0]._ctx.detect_anomaly:
        _check_anomaly(node, inputs, outs)
    return outs


# ----- temporary elision -----------------------------------------------------------------------
# An op may write its result into its input's array when that input is a temporary nobody can see
# again: ``(h @ w + b).tanh()`` then makes one array where it would make three (what numpy does
# for ``a + b + c``, and what ``z = x @ w; z += b; tanh(z, out=z)`` does by hand). Only arrays of
# at least this many bytes are considered (numpy's own threshold): below it, looking costs more
# than a new array.
ELIDE_MIN_BYTES = 256 * 1024
_BINARY_OP = dis.opmap.get("BINARY_OP", -1)
# The reference counting scratch() relies on, checked on these CPython versions (3.14 may put
# borrowed references on the stack: a variable passed to an op could then look like a temporary).
_COUNTS_KNOWN = sys.implementation.name == "cpython" and (3, 11) <= sys.version_info[:2] < (3, 14)


def scratch(t: Any) -> Any:
    """The array of tensor ``t`` when the calling op may write its result into it, else None.

    The op must call this first, before any other name is bound to ``t``, and must not save ``t``
    for its VJP. ``t`` qualifies when nothing but the call itself holds it (CPython's reference
    counts: a caller's variable, a container, a graph node that saved it or a leaf's
    AccumulateGrad would each add one; nor may a weak reference reach it), it is not a view and
    sees no view, its array is held by it alone (no node saved it as its output) and no anomaly
    check will read the op's inputs afterwards. A Python caller hands its argument over to the
    callee (CPython >= 3.11), while a binary operator (``a + b``, from C) keeps its operand on
    its stack for the call: that one reference more is allowed only when the op's caller is
    running a binary operator.
    """
    if t.__class__ is not Tensor or t._data.nbytes < ELIDE_MIN_BYTES:  # (most calls end here)
        return None
    if not _COUNTS_KNOWN or t._base is not None or t._retains_grad or \
            (t._requires_grad and t._grad_fn is None) or weakref.getweakrefcount(t):
        return None
    a = t._data
    # (t is held by the op's parameter, this function's and getrefcount's: 3, then the caller)
    extra = sys.getrefcount(t) - 3
    if extra:
        caller = sys._getframe(2)
        if extra != 1 or caller.f_code.co_code[caller.f_lasti] != _BINARY_OP:
            return None
    if not backend.unshared(a, 2):  # (held by t and by ``a``)
        return None
    ctx = t._ctx
    if ctx is not None and ctx.detect_anomaly:  # (its report shows the op's inputs)
        return None
    return a


# ----- operands and dtypes --------------------------------------------------------------------
def array_of(v: Operand, dt: DType) -> Any:
    """The array (or Python number) to compute with, in dtype ``dt``."""
    if isinstance(v, Tensor):
        a = v._data
        return a if a.dtype == dt.np else a.astype(dt.np)
    if dt.category == 2:
        return float(v)
    if dt.category == 1:
        return int(v)
    return bool(v)


def floating(t: Tensor) -> Any:
    """``t``'s array, cast to the default float dtype if integral (torch's unary float ops)."""
    a = t._data
    return a if a.dtype.kind == "f" else a.astype(dtypes.DEFAULT_FLOAT.np)


def check_tensor(v: Any, op: str, arg: str = "input") -> Tensor:
    if not isinstance(v, Tensor):
        raise DTypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(v).__name__}")
    return v


MAX_DIMS = 64  # the array backends' limit (numpy 2, CuPy)


def check_ndim(ndim: int, op: str) -> None:
    """Refuse a result of more dimensions than the backend's arrays can have."""
    if ndim > MAX_DIMS:
        raise ShapeError(f"{op}(): a tensor can have at most {MAX_DIMS} dimensions, not {ndim}")


def check_alloc(shape: Sequence[int], what: str = "result") -> None:
    """Refuse, before allocating, a result (or an op's intermediate array) that no array can be
    or that is over the current program's limits."""
    check_shape(shape, what)


def broadcast_shapes(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """torch's broadcasting of two shapes, with its error message."""
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + tuple(a)
    pb = (1,) * (n - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(pa, pb, strict=True)):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ShapeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i}"
            )
    return tuple(out)


def check_binary(a: Operand, b: Operand) -> None:
    """Broadcast-check two tensors and refuse an oversized result before computing it. (A Python
    number never changes the result's shape.)"""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        sa, sb = a._data.shape, b._data.shape
        if sa != sb:
            check_alloc(broadcast_shapes(sa, sb))


def unsqueeze_multiple(t: Tensor, dims: Sequence[int], ndim: int) -> Tensor:
    """torch's unsqueeze_multiple: put back the reduced ``dims`` (of an ``ndim``-d input) as size
    1, one unsqueeze per dim in increasing order."""
    if len(dims) == 1:
        return ops.unsqueeze(t, dims[0])
    for d in sorted(d % ndim for d in dims):
        t = ops.unsqueeze(t, d)
    return t


def expand_reduced(g: Tensor, shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool
                   ) -> Tensor:
    """Broadcast a reduction's gradient back over the reduced ``dims`` of ``shape`` (torch's
    sum_backward: unsqueeze the reduced dims, then expand)."""
    if not keepdim and shape:
        g = unsqueeze_multiple(g, dims, len(shape))
    return ops.expand(g, list(shape))
