"""Elementwise ops: arithmetic, unary math, activations, comparisons and logic.

Each op's forward is followed by its VJP. VJPs return the gradient in the broadcast shape; the
backward pass sums it back to each input's shape (engine/autograd.py).
"""

from __future__ import annotations

import math
from typing import Any

from engine import dtypes, ops
from engine.backend import ON_HOST, with_number, xp
from engine.errors import ArgumentError, DTypeError
from engine.grad_mode import is_grad_enabled
from engine.graph import Node, on_arrays, takes_broadcast
from engine.ops import core
from engine.ops.core import (
    ELIDE_MIN_BYTES,
    F32,
    OUT,
    SAVES_OUTPUT,
    Operand,
    array_of,
    broadcast_shapes,
    check_alloc,
    check_binary,
    check_tensor,
    floating,
    record,
    scratch,
)
from engine.ops.scalar_ops import add_scalar, div_scalar, mul_scalar, sub_scalar
from engine.registry import A, OpFunction, T, defop, internal_node
from engine.registry import Operand as OperandParam
from engine.tensor import Tensor

_EW = "elementwise"
# the nodes of tanh's and sigmoid's VJPs, themselves differentiable
_TANH_TWICE = internal_node("TanhBackwardBackward0")
_SIGMOID_TWICE = internal_node("SigmoidBackwardBackward0")
# relu's VJP (torch: threshold_backward(grad, result, 0)), itself differentiable
_THRESHOLD_TWICE = internal_node("ThresholdBackwardBackward0")
# abs's VJP multiplies by sgn (torch's sign for complex numbers too), not by the sign op
_SGN = internal_node("SgnBackward0")
_ACT = "activation"


# ----- add / sub / rsub -----------------------------------------------------------------------
def _binary(a: Operand, b: Operand, op: str = "") -> tuple[Any, Any]:
    """Both operands as arrays (or a Python number) in the dtype torch computes the op in."""
    # fast paths for the common cases: same-dtype tensors, a float tensor with a Python number
    if isinstance(a, Tensor):
        x = a._data
        if isinstance(b, Tensor):
            y = b._data
            if x.dtype == y.dtype:
                if x.shape != y.shape:  # check_binary: refuse an oversized broadcast first
                    check_alloc(broadcast_shapes(x.shape, y.shape))
                return x, y
        elif x.dtype.kind == "f" and not isinstance(b, bool):
            return x, b
    elif not isinstance(b, Tensor):
        raise DTypeError(f"{op}(): expected at least one Tensor argument, got two numbers")
    check_binary(a, b)
    dt = dtypes.result_type(a, b)
    return array_of(a, dt), array_of(b, dt)


def _scaled(x: Any, alpha: Any) -> Any:
    return x if alpha == 1 else x * alpha


def _maybe_multiply(g: Any, alpha: Any) -> Any:
    """torch's maybe_multiply in a VJP: ``g * alpha`` as the Scalar overload, none when 1."""
    return g if alpha == 1 else mul_scalar(g, alpha)


@defop("add", [OperandParam("input"), OperandParam(), A("alpha", "number", 1)], grad_fns="AddBackward0",
       doc="input + alpha * other, broadcasting.", category=_EW)
def add(input: Tensor, other: Operand, alpha: float = 1) -> Tensor:
    buf = scratch(input)  # (first: see there; add saves nothing, so it may write into input)
    x, y = _binary(input, other, "add")
    if buf is not None and _fits(buf, x, y):
        return record(xp.add(x, _scaled(y, alpha), out=buf), add.op.grad_fn, _add_vjp,
                      (input, other), attrs=alpha)
    return record(x + _scaled(y, alpha), add.op.grad_fn, _add_vjp, (input, other), attrs=alpha)


def _fits(buf: Any, x: Any, y: Any) -> bool:
    """Whether ``x (op) y`` may be written into ``buf``, ``x``'s own array as ``scratch`` gave it:
    the result has its shape and dtype (a same-dtype array broadcast into it, or a Python
    float with a float array)."""
    if x is not buf:  # (cast to another dtype first)
        return False
    if isinstance(y, float):
        return True
    if not isinstance(y, xp.ndarray) or y.dtype != x.dtype or y.ndim > x.ndim:
        return False
    # (a bias: the same trailing dims, decided without broadcasting the shapes)
    return y.shape == x.shape[x.ndim - y.ndim:] or broadcast_shapes(x.shape, y.shape) == x.shape


@on_arrays
def _add_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return g, (_maybe_multiply(g, node.attrs) if node.needs(1) else None)


@defop("sub", [OperandParam("input"), OperandParam(), A("alpha", "number", 1)], grad_fns="SubBackward0",
       doc="input - alpha * other, broadcasting.", category=_EW)
def sub(input: Tensor, other: Operand, alpha: float = 1) -> Tensor:
    x, y = _binary(input, other, "sub")
    _no_bool_subtraction(input, other)
    return record(x - _scaled(y, alpha), sub.op.grad_fn, _sub_vjp, (input, other), attrs=alpha)


BOOL_SUBTRACTED = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                   "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
TWO_BOOLS_SUBTRACTED = ("Subtraction, the `-` operator, with two bool tensors is not supported. "
                        "Use the `^` or `logical_xor()` operator instead.")


def _no_bool_subtraction(x: Any, y: Any) -> None:
    # (a Python bool operand counts as a bool tensor, as torch wraps it)
    bools = [v.dtype is dtypes.bool_ if isinstance(v, Tensor) else isinstance(v, bool)
             for v in (x, y)]
    if all(bools):
        raise DTypeError(TWO_BOOLS_SUBTRACTED)
    if any(bools):
        raise DTypeError(BOOL_SUBTRACTED)


@on_arrays
def _sub_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return g, (_maybe_multiply(-g, node.attrs) if node.needs(1) else None)


@defop("rsub", [OperandParam("input"), OperandParam(), A("alpha", "number", 1)],
       grad_fns=("RsubBackward1", "RsubBackward0"), doc="other - alpha * input (torch.rsub).",
       category=_EW)
def rsub(input: Tensor, other: Operand, alpha: float = 1) -> Tensor:
    y, x = _binary(other, input, "rsub")  # (torch computes other - input: "tensor a" is other)
    _no_bool_subtraction(input, other)
    out = y - _scaled(x, alpha)
    if isinstance(other, Tensor) and isinstance(input, Tensor):
        return record(out, rsub.op.forms["RsubBackward0"], _rsub_vjp, (input, other), attrs=alpha)
    tensor = input if isinstance(input, Tensor) else other
    return record(out, rsub.op.forms["RsubBackward1"], _rsub_vjp, (tensor,), attrs=alpha)


@on_arrays
def _rsub_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    gi = _maybe_multiply(-g, node.attrs) if node.needs(0) else None
    return (gi,) if len(node.next_functions) == 1 else (gi, g)


# ----- mul / div ------------------------------------------------------------------------------
@defop("mul", [OperandParam("input"), OperandParam()], grad_fns="MulBackward0",
       doc="input * other, broadcasting.", category=_EW)
def mul(input: Tensor, other: Operand) -> Tensor:
    # torch saves each operand only for the other's gradient: times a Python number (which takes
    # none) or a tensor that requires none, the other operand alone, so a later in-place change
    # of the one not saved does not stop backward (and the graph does not keep it alive).
    if other.__class__ is float and input.__class__ is Tensor and \
            ((dt := (x := input._data).dtype) is F32 or dt.kind == "f"):
        # (_binary's answer for a float tensor and a Python float, without the call.) On the host
        # the number goes in as a 0-d array of the tensor's dtype, kept for the backward (attrs:
        # see backend.ON_HOST): made by numpy's own conversion of the number, so the same bits.
        # (The dtype positional: a keyword costs the call an argument parse.)
        c = xp.asarray(other, dt) if ON_HOST and x.base is None else None
        out = _times_number(x, other) if c is None else x * c
        return record(out, _MUL, _mul_vjp, (input, other), (None, other), c, plain=True)
    if other.__class__ is int and input.__class__ is Tensor and \
            ((dt := input._data.dtype) is F32 or dt.kind == "f"):
        # (the path below for them, _binary's answer for them without its call: a loop's x * 2)
        return record(_times_number(input._data, other), _MUL, _mul_vjp, (input, other),
                      (None, other), plain=True)
    x, y = _binary(input, other, "mul")
    if y.__class__ in (int, float):  # (other: a number)
        return record(_times_number(x, y), _MUL, _mul_vjp, (input, other), (None, other),
                      plain=True)
    saved = (input if _takes_grad(other) else None, other if _takes_grad(input) else None) \
        if is_grad_enabled() else ()  # (nothing is recorded without grad mode)
    return record(x * y, _MUL, _mul_vjp, (input, other), saved)


# mul's grad_fn as its declaration gives it, read once: ``mul.op.grad_fn`` costs two attribute
# look-ups through a function's __dict__, a tenth of a chain's mul
_MUL = mul.op.grad_fn


def _takes_grad(v: Operand) -> bool:
    """Whether ``record`` gives operand ``v`` an edge (when it records at all)."""
    return v.__class__ is Tensor and v.requires_grad


def _times_number(x: Any, number: Any) -> Any:
    """``x * number`` for an array ``x``. A view may be an expanded gradient (the VJP of x * 2.0
    under sum): backend.with_number computes its one product and fills it in; a fresh array skips
    that check (a chain's every mul)."""
    return x * number if x.base is None else with_number(xp.multiply, x, number)


@on_arrays
@takes_broadcast  # (reads g only in g * a and g * b, new arrays)
def _mul_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    c = node.attrs  # (the number as a 0-d array, when mul's forward made one)
    saved = node._saved
    # Times a number, mul's forward saved (None, the number): no tensor to check for in-place
    # changes or to unpack, so node.saved's call (a tenth of a chain's backward) is left out.
    # On tensors (a pass in an execution context or with create_graph), ``g * number`` as mul
    # itself computes and records it (the same array, one tensor charged, the same node), without
    # mul's frame and operand handling: a third of such a node's cost there.
    if c is not None and saved is not None:
        if g.__class__ is not Tensor:
            # (a bare gradient has the node's output dtype, c's: the backward pass casts what
            # reaches a node to it (autograd._deliver), or has checked it)
            return (g * c if node.edges[0] is not None else None), None
        elif (x := g._data).dtype is c.dtype and x.base is None and not is_grad_enabled():
            # (mul's float path: x times the number as a 0-d array of x's dtype, this very one)
            return (record(x * c, _MUL, _mul_vjp, (g, saved[1]), saved, c, plain=True)
                    if node.edges[0] is not None else None), None
    elif saved is not None and g.__class__ is Tensor and saved[1].__class__ is int and \
            ((dt := g._data.dtype) is F32 or dt.kind == "f"):
        # (mul's path for a float tensor and a Python int, as in mul: a frame less than calling it)
        return (record(_times_number(g._data, saved[1]), _MUL, _mul_vjp, (g, saved[1]), saved,
                       plain=True)
                if node.edges[0] is not None else None), None
    a, b = node.saved(g)  # (a is None when b is a Python number: see mul)
    edges = node.edges  # (node.needs(i), inline: this runs once per mul in a backward)
    gb = g * a if edges[2] is not None else None  # (other's first: see _div_vjp)
    return (g * b if edges[0] is not None else None), gb


@defop("div", [OperandParam("input"), OperandParam(), A("rounding_mode", "choice", None, optional=True,
                                       choices=("trunc", "floor"))],
       grad_fns=("DivBackward0", "DivBackward2"),
       doc="input / other (true division unless rounding_mode).",
       category=_EW)
def div(input: Tensor, other: Operand, rounding_mode: str | None = None) -> Tensor:
    _binary(input, other, "div")
    dt = dtypes.result_type(input, other)
    if rounding_mode is None:
        if dt.category < 2:
            dt = dtypes.DEFAULT_FLOAT
        x, y = array_of(input, dt), array_of(other, dt)
        # torch saves the divisor whenever it records and the dividend only for the divisor's
        # gradient, so a later in-place change of a dividend not saved does not stop backward
        saved = (input if _takes_grad(other) else None, other) if is_grad_enabled() else ()
        return record(x / y, div.op.forms["DivBackward0"], _div_vjp, (input, other), saved)
    if rounding_mode not in ("trunc", "floor"):
        raise ArgumentError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )
    x, y = array_of(input, dt), array_of(other, dt)
    if dt.category < 2:
        if (xp.asarray(y) == 0).any():
            raise ArgumentError("ZeroDivisionError")
        q = xp.floor_divide(x, y) if rounding_mode == "floor" else \
            (xp.trunc(x / y)).astype(dt.np)
    else:
        q = xp.floor(x / y) if rounding_mode == "floor" else xp.trunc(x / y)
    return record(xp.asarray(q, dtype=dt.np), div.op.forms["DivBackward2"], _zero_vjp2, (input, other))


@on_arrays
@takes_broadcast
def _div_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, b = node.saved(g)  # (a is None unless b takes a gradient: see div)
    # torch's generated VJPs compute the inputs' gradients in the alphabetical order of its
    # argument names (other before self), so those nodes come first in creation order, which
    # decides the order of the next backward pass (graph._SEQUENCE)
    # (a Python number over a tensor is div itself, as in torch's formula; Python's 2 / t is not)
    gb = -g * ((ops.div(a, b) if isinstance(b, Tensor) else a / b) / b) if node.needs(1) else None
    ga = g / b if node.needs(0) else None
    return ga, gb


def _zero_vjp2(node: Node, g: Tensor) -> tuple[Any, ...]:
    z = ops.zeros_like(g)
    return tuple(z if node.needs(i) else None for i in range(len(node.next_functions)))


# ----- pow ------------------------------------------------------------------------------------
@defop("pow", [OperandParam("input"), OperandParam("exponent")],
       grad_fns=("PowBackward0", "PowBackward1", "PowBackward2"),
       doc="input ** exponent; either side may be a number.", category=_EW)
def pow(input: Operand, exponent: Operand) -> Tensor:  # noqa: A001 - torch's name
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise DTypeError("pow() needs at least one Tensor argument")
    check_binary(input, exponent)
    dt = dtypes.result_type(input, exponent)
    x, e = array_of(input, dt), array_of(exponent, dt)
    if dt.category == 1 and (xp.asarray(e) < 0).any():
        raise ArgumentError("Integers to negative integer powers are not allowed.")
    if dt is dtypes.bool_:
        # torch: a bool tensor to a bool number stays bool (x or not e); a bool tensor as the
        # exponent has no kernel. (numpy's bool ** bool would be int8, a dtype torch lacks.)
        if not isinstance(input, Tensor) or isinstance(exponent, Tensor):
            raise DTypeError("\"pow\" not implemented for 'Bool'")
        return record(x | (not e), pow.op.forms["PowBackward0"], _pow_ts_vjp, (input,),
                      saved=(input,), attrs=e)
    if isinstance(input, Tensor) and isinstance(exponent, Tensor):
        return record(x ** e, pow.op.forms["PowBackward1"], _pow_tt_vjp, (input, exponent),
                      saved=(input, exponent, OUT))
    if isinstance(input, Tensor):
        out = xp.square(x) if e == 2 else x ** e
        return record(out, pow.op.forms["PowBackward0"], _pow_ts_vjp, (input,), saved=(input,), attrs=e)
    return record(x ** e, pow.op.forms["PowBackward2"], _pow_st_vjp, (exponent,), saved=(OUT,), attrs=x)


def pow_into_temporary(a: Tensor, e: float) -> Tensor:
    """``a.pow_(e)`` where ``a`` is a temporary of a formula (torch's norm_backward writes
    ``self.abs().pow_(p - 2)``): pow's values and node, whose saved input is the clone torch keeps
    of the values the write overwrites (a CloneBackward0 in the next order's graph)."""
    if not (is_grad_enabled() and a.requires_grad):
        return pow(a, e)
    out = xp.square(a._data) if e == 2 else a._data ** e
    return record(out, pow.op.forms["PowBackward0"], _pow_ts_vjp, (a,), saved=(ops.clone(a),),
                  attrs=e)


@takes_broadcast
def _pow_ts_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()
    e = node.attrs
    if e == 0:
        return (ops.zeros_like(g),)
    if e == 2 and not is_grad_enabled():
        # x ** 1 is x and 2 * x is exact: the same values as the formula below in two passes
        # and one new array instead of three (a squared loss's backward); recording, the
        # formula's own graph. (``x * 2`` on the array: what mul would compute, without an op's
        # dispatch and record in a pass that records nothing)
        twice = x._data * 2
        if _alike(twice, g._data):
            xp.multiply(twice, g._data, out=twice)  # a fresh array: nobody else has it
            return (Tensor(twice),)
        return (g * Tensor(twice),)
    return (g * mul_scalar(x ** (e - 1), e),)


def _pow_tt_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, e, out = node.saved()
    gx = ge = None
    if node.needs(1):  # log(base) in the promoted dtype, as torch computes it
        ge = g * ops.where((x == 0) & (e >= 0), 0.0, out * ops.log(ops.to(x, out.dtype)))
    if node.needs(0):
        gx = ops.where(e == 0, 0.0, g * (e * x ** sub_scalar(e, 1)))
    return gx, ge


def _pow_st_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (out,) = node.saved()
    base = node.attrs
    if base == 0:
        return (ops.zeros_like(g),)  # torch's convention for a zero base
    return (g * mul_scalar(out, math.log(base)),)


# ----- unary math -----------------------------------------------------------------------------
# torch's refusal of a bool input, by op (the other keep_int ops take bools)
_BOOL_REFUSED = {
    "neg": "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
           "invert a mask, use the `~` or `logical_not()` operator instead.",
    "abs": "\"abs_cpu\" not implemented for 'Bool'",
    "relu": "Boolean inputs not supported for relu",
}


def _unary(name: str, grad_fn: str, doc: str, forward: Any, vjp: Any, saves: str,
           category: str = _EW, keep_int: bool = False, elide: bool = False) -> Any:
    """Declare a one-input op whose VJP needs its input (``saves='input'``), its output
    (``'output'``) or nothing (``''``). ``elide``: ``forward`` takes ``out=`` (a ufunc), so a
    temporary input's array may take the result (core.scratch)."""

    save_input, out_only = saves == "input", SAVES_OUTPUT if saves == "output" else ()
    may_elide = elide and not save_input

    @defop(name, [T()], grad_fns=grad_fn, doc=doc, category=category)
    def op(input: Tensor) -> Tensor:
        # (first, see there: an op that does not save its input may write into it; scratch's
        # own first test, the array's size, made here: most arrays are too small, and the call
        # would cost a tenth of a small op)
        buf = scratch(input) if may_elide and input.__class__ is Tensor and \
            input._data.nbytes >= core.ELIDE_MIN_BYTES else None
        if input.__class__ is not Tensor:
            check_tensor(input, name)  # raises torch's message (or passes a subclass)
        x = input._data
        if not keep_int:
            dt = x.dtype
            if dt is not F32 and dt.kind != "f":  # (float32 by identity: see record)
                x = floating(input)
        elif x.dtype == xp.bool_:
            if name == "sign":  # torch: the signs of False and True
                return record(xp.array(x, copy=True), grad_fn, vjp, (input,))
            if name in _BOOL_REFUSED:
                raise DTypeError(_BOOL_REFUSED[name])
        if buf is not None and x is buf:
            return record(forward(x, out=buf), grad_fn, vjp, (input,), out_only)
        return record(forward(x), grad_fn, vjp, (input,), (input,) if save_input else out_only)

    op.__name__ = name
    return op


def _g_times(f: Any, arrays: bool = True) -> Any:
    """A VJP ``g * f(saved)`` for one-input ops; ``arrays``: f computes on arrays too (see
    graph.on_arrays), as it does when it only uses operators."""

    def vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
        (s,) = node.saved(g)
        return (g * f(s),)

    marked = takes_broadcast(vjp)  # (g times a new array: see graph.takes_broadcast)
    return on_arrays(marked) if arrays else marked


@on_arrays
@takes_broadcast
def _neg_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (-g,)


def _sign_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (ops.zeros_like(g),)


@on_arrays
@takes_broadcast
def _relu_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (y,) = node.saved(g)
    return (threshold_backward(g, y, 0),)


def threshold_backward(g: Any, x: Any, threshold: float) -> Any:
    """g where x > threshold, else 0: torch's one kernel (relu's VJP at its output), recorded as
    one node. (Bare arrays in, a bare array out: see graph.on_arrays.)"""
    bare = not isinstance(g, Tensor)
    a, b = (g, x) if bare else (g._data, x._data)
    out = a * (b > threshold)
    return out if bare else record(out, _THRESHOLD_TWICE, _threshold_backward_vjp, (g, x),
                                   saved=(x,), attrs=threshold)


def _threshold_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    # torch: grad_output's is threshold_backward again; self's is zeros (no graph)
    (x,) = node.saved()
    return (threshold_backward(gg, x, node.attrs) if node.needs(0) else None,
            ops.zeros_like(gg) if node.needs(1) else None)


@on_arrays
@takes_broadcast
def _sqrt_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (y,) = node.saved(g)
    return (g / mul_scalar(y, 2),)


@on_arrays
@takes_broadcast
def _log_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved(g)
    return (g / x,)


@on_arrays
@takes_broadcast
def _log1p_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved(g)
    return (g / add_scalar(x, 1),)


# 1 as a 0-d array of each float dtype, for the ``1 - y`` of the fused backwards below: numpy
# takes an array of the same dtype for less than a Python number (which it converts on every
# call); the same value, so the same roundings. (Never written to: nothing else sees them.)
_ONE = {one.dtype: one for one in (xp.ones((), dtype=dt.np)
                                   for dt in (dtypes.float32, dtypes.float64))}
# (float32's, by identity first: hashing a dtype for the dict costs more than the ufunc saves)
_ONE_F32 = _ONE[F32]


# torch differentiates tanh and sigmoid through dedicated backward functions: one kernel each,
# themselves differentiable (TanhBackwardBackward0, ...). The same here: one engine op where the
# composite g * (1 - y * y) would be three, which matters for long chains of small tensors.
def tanh_backward(g: Tensor, y: Tensor) -> Tensor:
    """g * (1 - y**2): the gradient of tanh at its output y. (Bare arrays in, a bare array out:
    see graph.on_arrays.)"""
    bare = g.__class__ is not Tensor
    if bare:  # (two assignments, not one of a tuple made for it: this runs once per tanh node)
        a, b = g, y
    else:
        a, b = g._data, y._data
    # (_alike's size test first, without the call: a chain of small tensors never gets past it;
    # on b, the saved output, always an array or a numpy scalar: _alike asks the same size of a)
    if b.nbytes >= INPLACE_MIN_BYTES and _alike(a, b):
        out = b * b  # the same roundings as a * (1 - b * b), in one temporary instead of three
        xp.subtract(1, out, out=out)
        xp.multiply(out, a, out=out)
    else:
        dt = b.dtype
        out = a * ((_ONE_F32 if dt is F32 else _ONE.get(dt, 1)) - b * b)
    return out if bare else record(out, _TANH_TWICE, _tanh_backward_vjp, (g, y),
                                   saved=(g, y))


# The smallest first temporary a fused backward works in place on (numpy's own threshold for
# reusing temporaries, as core.scratch uses): below it the in-place ufuncs cost more than the arrays
# they save. (tests/engine/test_inplace_threshold.py forces both sides and compares.)
INPLACE_MIN_BYTES = ELIDE_MIN_BYTES


def _alike(a: Any, b: Any) -> bool:
    """Whether a fused backward should work in place on its first temporary: ``a`` and ``b`` are
    arrays (not 0-d: numpy answers those with scalars) of one shape and dtype (so no promotion or
    broadcasting can change the result) and large enough for the temporaries saved to pay. (For
    small arrays a ufunc with ``out=`` costs more than one that allocates: numpy checks the output
    array; the values are the same.)"""
    return getattr(a, "ndim", 0) > 0 and a.nbytes >= INPLACE_MIN_BYTES and \
        a.shape == b.shape and a.dtype == b.dtype


def _tanh_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    # torch computes the inputs' gradients in the alphabetical order of its argument names
    # (grad_output, output): probed with grad_fn._sequence_nr()
    g, y = node.saved()
    gg_out = tanh_backward(gg, y) if node.needs(0) else None
    return gg_out, (gg * (mul_scalar(y, -2.0) * g) if node.needs(1) else None)


def sigmoid_backward(g: Tensor, y: Tensor) -> Tensor:
    """g * y * (1 - y): the gradient of sigmoid at its output y. (Bare arrays in, a bare array
    out: see graph.on_arrays.)"""
    bare = not isinstance(g, Tensor)
    a, b = (g, y) if bare else (g._data, y._data)
    if _alike(a, b):
        out = 1 - b  # the same roundings as a * (b * (1 - b)), in one temporary
        xp.multiply(out, b, out=out)
        xp.multiply(out, a, out=out)
    else:
        out = a * (b * (_ONE.get(b.dtype, 1) - b))
    return out if bare else record(out, _SIGMOID_TWICE, _sigmoid_backward_vjp, (g, y),
                                   saved=(g, y))


def _sigmoid_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, y = node.saved()  # (grad_output's first: see _tanh_backward_vjp)
    gg_out = sigmoid_backward(gg, y) if node.needs(0) else None
    return gg_out, (gg * g * add_scalar(mul_scalar(y, -2), 1) if node.needs(1) else None)


@on_arrays
@takes_broadcast  # (tanh_backward's in-place steps write into its own b * b, never into g)
def _tanh_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    y = node._output
    # (node.saved's answer without the call, for a bare gradient: the output, while it is kept
    # (not freed) and unchanged in place (versions.watch_output would have set _versions))
    if y is None or node._versions is not None or g.__class__ is Tensor:
        y = node.saved(g)[0]
    return (tanh_backward(g, y),)


@on_arrays
@takes_broadcast
def _sigmoid_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (sigmoid_backward(g, node.saved(g)[0]),)


_LN2 = math.log(2.0)


@on_arrays
@takes_broadcast
def _exp2_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (y,) = node.saved(g)
    return (mul_scalar(g * y, _LN2),)  # torch: grad * result * M_LN2


@on_arrays
@takes_broadcast
def _rsqrt_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (y,) = node.saved(g)
    return (mul_scalar(g, -0.5) * y ** 3,)  # torch: -0.5 * grad * result.pow(3)


@on_arrays
@takes_broadcast
def _reciprocal_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (y,) = node.saved(g)
    return (-g * (y * y),)


def sgn(x: Tensor) -> Tensor:
    """sgn(x): the sign, recorded as torch's sgn (SgnBackward0), whose gradient is zero."""
    return record(xp.sign(x._data), _SGN, _sign_vjp, (x,))

neg = _unary("neg", "NegBackward0", "-input.", xp.negative, _neg_vjp, "", keep_int=True)
exp = _unary("exp", "ExpBackward0", "e ** input.", xp.exp, _g_times(lambda y: y), "output",
             elide=True)
exp2 = _unary("exp2", "Exp2Backward0", "2 ** input.", xp.exp2, _exp2_vjp, "output")
log = _unary("log", "LogBackward0", "Natural logarithm.", xp.log, _log_vjp, "input")
log1p = _unary("log1p", "Log1PBackward0", "log(1 + input).", xp.log1p, _log1p_vjp, "input")
expm1 = _unary("expm1", "Expm1Backward0", "e ** input - 1.", xp.expm1,
               _g_times(lambda y: add_scalar(y, 1)), "output")
sqrt = _unary("sqrt", "SqrtBackward0", "Square root.", xp.sqrt, _sqrt_vjp, "output")
rsqrt = _unary("rsqrt", "RsqrtBackward0", "1 / sqrt(input).", lambda a: 1 / xp.sqrt(a),
               _rsqrt_vjp, "output")
reciprocal = _unary("reciprocal", "ReciprocalBackward0", "1 / input.", lambda a: 1 / a,
                    _reciprocal_vjp, "output")
abs = _unary("abs", "AbsBackward0", "|input|.", xp.abs, _g_times(lambda x: sgn(x), False), "input",
             keep_int=True)  # noqa: A001
sign: OpFunction = _unary("sign", "SignBackward0", "-1, 0 or 1 by sign.", xp.sign, _sign_vjp, "",
                          keep_int=True)
sin = _unary("sin", "SinBackward0", "Sine.", xp.sin, _g_times(lambda x: cos(x), False), "input")
cos: OpFunction = _unary("cos", "CosBackward0", "Cosine.", xp.cos, _g_times(lambda x: -sin(x), False),
                         "input")
tan = _unary("tan", "TanBackward0", "Tangent.", xp.tan, _g_times(lambda y: add_scalar(y ** 2, 1)),
             "output")
tanh = _unary("tanh", "TanhBackward0", "Hyperbolic tangent.", xp.tanh, _tanh_vjp, "output",
              category=_ACT, elide=True)
sigmoid = _unary("sigmoid", "SigmoidBackward0", "1 / (1 + e ** -input).",
                 lambda a: 1 / (1 + xp.exp(-a)), _sigmoid_vjp, "output", category=_ACT)
relu = _unary("relu", "ReluBackward0", "max(input, 0); gradient 0 at 0.",
              lambda a: xp.maximum(a, 0).astype(a.dtype), _relu_vjp, "output", category=_ACT,
              keep_int=True)


@defop("square", [T()], grad_fns="PowBackward0", doc="input ** 2.", category=_EW)
def square(input: Tensor) -> Tensor:
    return pow(check_tensor(input, "square"), 2)


# ----- clamp, maximum, minimum, where ---------------------------------------------------------
@defop("clamp", [T(), OperandParam("min", default=None, optional=True),
                 OperandParam("max", default=None, optional=True)],
       grad_fns=("ClampBackward1", "ClampBackward0"),
       doc="Limit input to [min, max] (numbers or tensors); gradient passes at the bounds.",
       category=_EW)
def clamp(input: Tensor, min: Operand | None = None, max: Operand | None = None) -> Tensor:  # noqa: A002
    check_tensor(input, "clamp")
    if min is None and max is None:
        raise ArgumentError("torch.clamp: At least one of 'min' or 'max' must not be None")
    bounds = [v for v in (min, max) if v is not None]
    tensors = isinstance(min, Tensor) or isinstance(max, Tensor)
    for v in bounds:
        check_binary(input, v)
    dt = dtypes.result_type(input, *bounds)
    out = array_of(input, dt)
    if min is not None:
        out = xp.maximum(out, array_of(min, dt))
    if max is not None:
        out = xp.minimum(out, array_of(max, dt))
    out = xp.asarray(out, dtype=dt.np)
    if tensors:
        return record(out, clamp.op.forms["ClampBackward0"], _clamp_vjp, (input, min, max),
                      saved=(input, min, max))
    return record(out, clamp.op.forms["ClampBackward1"], _clamp_vjp, (input,), saved=(input, min, max))


def _clamp_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch's clamp_backward / clamp_backward_min_max: where(pred, grad, 0) per input, in input
    # order (one C++ function); a tensor bound takes the gradient where it binds (min only when
    # it is below max: with min > max, max wins)
    x, lo, hi = node.saved()
    inside: Any = None
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        inside = (x <= hi) if inside is None else ops.logical_and(inside, x <= hi)
    grads: list[Any] = [ops.where(inside, g, 0.0) if node.needs(0) else None]
    if len(node.next_functions) == 3:
        both = lo is not None and hi is not None
        if node.needs(1):
            binds = ops.logical_and(x < lo, lo < hi) if both else x < lo
            grads.append(ops.where(binds, g, 0.0))
        else:
            grads.append(None)
        if node.needs(2):
            binds = ops.logical_or(x > hi, hi < lo) if both else x > hi
            grads.append(ops.where(binds, g, 0.0))
        else:
            grads.append(None)
    return tuple(grads)


def _extremum(name: str, grad_fn: str, pick: Any, doc: str) -> Any:
    @defop(name, [T(), T("other")], grad_fns=grad_fn, doc=doc, category=_EW)
    def op(input: Tensor, other: Tensor) -> Tensor:
        check_tensor(input, name)
        check_tensor(other, name, "other")
        x, y = _binary(input, other)
        return record(pick(x, y), grad_fn, vjp, (input, other), saved=(input, other))

    def vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
        # torch: half to each side on a tie, nothing to the losing side, and (as no comparison
        # holds with a NaN) the full gradient to both sides where either is NaN:
        # where(a == b, grad / 2, grad).masked_fill_(loses, 0), the last input's first
        a, b = node.saved()
        a_loses, b_loses = (a < b, a > b) if name == "maximum" else (a > b, a < b)
        gb = ops.masked_fill(ops.where(a == b, div_scalar(g, 2), g), b_loses, 0) \
            if node.needs(1) else None
        ga = ops.masked_fill(ops.where(a == b, div_scalar(g, 2), g), a_loses, 0) \
            if node.needs(0) else None
        return ga, gb

    op.__name__ = name
    return op


maximum = _extremum("maximum", "MaximumBackward0", xp.maximum,
                    "Elementwise maximum; ties split the gradient evenly.")
minimum = _extremum("minimum", "MinimumBackward0", xp.minimum,
                    "Elementwise minimum; ties split the gradient evenly.")


@defop("where", [T("condition"), OperandParam("input"), OperandParam("other")],
       grad_fns="WhereBackward0", doc="input where condition else other.", category=_EW,
       method=False)
def where(condition: Tensor, input: Operand, other: Operand) -> Tensor:
    check_tensor(condition, "where", "condition")
    if condition.dtype is not dtypes.bool_:
        raise DTypeError(f"where expected condition to be a boolean tensor, but got a tensor with "
                         f"dtype {condition.dtype.scalar_type}")
    check_binary(condition, input)
    check_binary(condition, other)
    check_binary(input, other)
    dt = dtypes.result_type(input, other)
    out = xp.where(condition._data, array_of(input, dt), array_of(other, dt))
    out = xp.asarray(out, dtype=dt.np)
    return record(out, where.op.grad_fn, _where_vjp, (input, other), saved=(condition,))


def _where_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (c,) = node.saved()
    other = ops.where(c, 0.0, g) if node.needs(1) else None
    return (ops.where(c, g, 0.0) if node.needs(0) else None), other



# ----- comparisons and logic (not differentiable) ---------------------------------------------
def _comparison(name: str, fn: Any, doc: str) -> Any:
    @defop(name, [T(), OperandParam()], doc=doc, category="comparison", differentiable=False)
    def op(input: Tensor, other: Operand) -> Tensor:
        if input.__class__ is Tensor and other.__class__ in (int, float) and \
                ((dt := (x := input._data).dtype) is F32 or dt.kind == "f"):
            # a float tensor and a number (a loop's stopping test): _binary's answer for them
            # (both as they are) without its call and check_tensor's
            return Tensor(xp.asarray(fn(x, other)))
        x, y = _binary(check_tensor(input, name), other)
        return Tensor(xp.asarray(fn(x, y)))

    op.__name__ = name
    return op


lt = _comparison("lt", xp.less, "input < other, as bool.")
le = _comparison("le", xp.less_equal, "input <= other, as bool.")
gt = _comparison("gt", xp.greater, "input > other, as bool.")
ge = _comparison("ge", xp.greater_equal, "input >= other, as bool.")
eq = _comparison("eq", xp.equal, "input == other, as bool.")
ne = _comparison("ne", xp.not_equal, "input != other, as bool.")


@defop("isnan", [T()], doc="Whether each element is NaN, as bool.", category="comparison",
       differentiable=False)
def isnan(input: Tensor) -> Tensor:
    return Tensor(xp.asarray(xp.isnan(check_tensor(input, "isnan")._data)))


def _as_bool(v: Operand) -> Any:
    return (v._data != 0) if isinstance(v, Tensor) else bool(v)


@defop("logical_not", [T()], doc="not input, as bool.", category="comparison", differentiable=False)
def logical_not(input: Tensor) -> Tensor:
    return Tensor(xp.asarray(xp.logical_not(_as_bool(check_tensor(input, "logical_not")))))


@defop("logical_and", [T(), OperandParam()], doc="input and other, as bool.", category="comparison",
       differentiable=False)
def logical_and(input: Tensor, other: Operand) -> Tensor:
    check_binary(check_tensor(input, "logical_and"), other)
    return Tensor(xp.asarray(xp.logical_and(_as_bool(input), _as_bool(other))))


@defop("logical_or", [T(), OperandParam()], doc="input or other, as bool.", category="comparison",
       differentiable=False)
def logical_or(input: Tensor, other: Operand) -> Tensor:
    check_binary(check_tensor(input, "logical_or"), other)
    return Tensor(xp.asarray(xp.logical_or(_as_bool(input), _as_bool(other))))
