"""Convolution (conv1d, conv2d) and 2-d pooling (max_pool2d, avg_pool2d), with torch's graphs.

All four rest on one gather: ``unfold`` copies, for every kernel tap, the input elements that tap
sees at every output position (one strided slice per tap, so the work is vectorised over the
pixels and loops only over the few taps).  A convolution is then a matrix product of the unfolded
input with the flattened kernel, a pooling a max or sum over the taps.  ``fold`` is unfold's
adjoint (it adds each tap's values back where they came from), so every VJP is an engine-op
expression of fold, unfold and matmul, and fold and unfold are recorded ops whose VJPs are each
other: create_graph and second derivatives work through all of it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine import dtypes, ops
from engine.backend import xp
from engine.context import wake
from engine.dims import wrap_dim
from engine.errors import ArgumentError, DTypeError, ShapeError
from engine.graph import Node, keeps_missing
from engine.ops.core import check_alloc, check_tensor, record, record_multi
from engine.registry import A, T, defop, internal_node
from engine.tensor import Tensor

__all__ = ["avg_pool2d", "conv1d", "conv2d", "max_pool2d"]

# torch's names for F.unfold and F.fold, the recorded steps of a convolution's backward
_IM2COL = internal_node("Im2ColBackward0")
_COL2IM = internal_node("Col2ImBackward0")
# torch's fused backward kernels, each recorded as one node when the backward pass records a graph
_CONV_BACKWARD = internal_node("ConvolutionBackwardBackward0")
_MAX_POOL_BACKWARD = internal_node("MaxPool2DWithIndicesBackwardBackward0")
_AVG_POOL_BACKWARD = internal_node("AvgPool2DBackwardBackward0")

_CONV = "convolution"
_POOL = "pooling"


# ----- geometry -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """Where a kernel slides over the trailing spatial dims: its size, stride, dilation, the
    padding before and after each dim, and the input and output spatial sizes."""

    size: tuple[int, ...]  # input spatial size (unpadded)
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    out: tuple[int, ...]

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)

    def tap_reads(self) -> Iterator[tuple[int, tuple[slice, ...], tuple[slice, ...]] | None]:
        """For each tap (row-major over the kernel): its index, the output positions at which it
        reads the input itself rather than the padding, and the input elements it reads there;
        None when it reads only padding. Nothing padded is ever made: a padding of 10^5 around a
        1-pixel input with a long stride costs what the output does, as in torch.
        (A kernel can have a million taps: the loops over them look at the clock.)"""
        for i, tap in enumerate(itertools.product(*(range(k) for k in self.kernel))):
            if not i & 0xFF:
                wake()
            outs, ins = [], []
            for t, d, s, o, n, (lo, _) in zip(tap, self.dilation, self.stride, self.out, self.size,
                                              self.pads, strict=True):
                off = t * d - lo  # the input index read at output position 0
                first = max(0, -(off // s)) if off < 0 else 0  # (-(off // s): ceil(-off / s))
                stop = min(o, (n - 1 - off) // s + 1)
                if first >= stop:
                    break
                outs.append(slice(first, stop))
                ins.append(slice(off + s * first, off + s * (stop - 1) + 1, s))
            else:
                yield i, tuple(outs), tuple(ins)
                continue
            yield None


def _output_size(n: int, k: int, s: int, lo: int, hi: int, d: int) -> int:
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def unfold_array(a: Any, w: Window, fill: float = 0.0) -> Any:
    """(..., *size) -> (..., taps, *out): what each kernel tap sees at each output position
    (``fill`` where it sees padding)."""
    nd = len(w.size)
    shape = (*a.shape[:a.ndim - nd], w.taps, *w.out)
    check_alloc(shape, "unfolded input")
    lead = (slice(None),) * (a.ndim - nd)
    reads = list(w.tap_reads())
    if not any(lo or hi for lo, hi in w.pads):  # every tap reads the input whole: one copy
        return xp.stack([a[lead + read[2]] for read in reads if read is not None], axis=a.ndim - nd)
    cols = xp.full(shape, fill, dtype=a.dtype)
    for read in reads:
        if read is not None:
            i, outs, ins = read
            cols[lead + (i, *outs)] = a[lead + ins]
    return cols


def fold_array(cols: Any, w: Window) -> Any:
    """unfold's adjoint: (..., taps, *out) -> (..., *size), each tap's values added where read
    (what was read from the padding is dropped)."""
    nd = len(w.size)
    lead_shape = cols.shape[:cols.ndim - nd - 1]
    out = xp.zeros((*lead_shape, *w.size), dtype=cols.dtype)
    lead = (slice(None),) * len(lead_shape)
    for read in w.tap_reads():
        if read is not None:
            i, outs, ins = read
            out[lead + ins] += cols[lead + (i, *outs)]
    return out


def _unfold(x: Tensor, w: Window) -> Tensor:
    """unfold as a recorded op (Im2ColBackward0, torch's name for F.unfold)."""
    return record(unfold_array(x._data, w), _IM2COL, _unfold_vjp, (x,), attrs=w)


def _unfold_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (_fold(g, node.attrs),)


def _fold(cols: Tensor, w: Window) -> Tensor:
    """fold as a recorded op (Col2ImBackward0, torch's name for F.fold)."""
    return record(fold_array(cols._data, w), _COL2IM, _fold_vjp, (cols,), attrs=w)


def _fold_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (_unfold(g, node.attrs),)


# ----- argument parsing ---------------------------------------------------------------------
def _size(shape: Sequence[int]) -> str:
    return f"[{', '.join(str(int(s)) for s in shape)}]"


def _tuple(value: Any, nd: int, name: str, message: str | None = None) -> tuple[int, ...]:
    """An int or a list of 1 or nd ints, as nd ints."""
    vals = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(vals) == 1:
        vals = vals * nd
    if len(vals) != nd or not all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        raise ArgumentError(message or f"expected {name} to be a single integer value or a list of "
                            f"{nd} values to match the convolution dimensions, but got "
                            f"{name}={_size(vals) if all(isinstance(v, int) for v in vals) else vals}")
    return tuple(vals)


# ----- convolution --------------------------------------------------------------------------
def _conv_window(x: Tensor, weight: Tensor, nd: int, stride: Any, padding: Any, dilation: Any,
                 groups: int) -> tuple[Window, tuple[int, ...]]:
    """Check a convolution's arguments as torch does; return its window and any extra right-side
    zero padding 'same' needs on top (for an odd total padding)."""
    if weight.ndim < 3:
        raise ShapeError("weight should have at least three dimensions")
    for name, value in (("stride", stride), ("padding", padding), ("dilation", dilation)):
        if not isinstance(value, str):  # (torch fits each to the weight's spatial dims first)
            given = list(value) if isinstance(value, (list, tuple)) else [value] * nd
            if len(given) != 1 and len(given) != weight.ndim - 2:
                raise ArgumentError(f"expected {name} to be a single integer value or a list of "
                                    f"{weight.ndim - 2} values to match the convolution dimensions, "
                                    f"but got {name}={_size(given)}")
    if weight.ndim != x.ndim:
        raise ShapeError(f"Expected {weight.ndim}-dimensional input for {weight.ndim}-dimensional "
                         f"weight {_size(weight.shape)}, but got {x.ndim}-dimensional input of size "
                         f"{_size(x.shape)} instead")
    s = _tuple(stride, nd, "stride")
    d = _tuple(dilation, nd, "dilation")
    k = tuple(weight.shape[2:])
    extra = (0,) * nd
    if isinstance(padding, str):
        if padding == "valid":
            p = (0,) * nd
        elif padding == "same":
            if any(v != 1 for v in s):
                raise ArgumentError("padding='same' is not supported for strided convolutions")
            total = [di * (ki - 1) for di, ki in zip(d, k, strict=True)]
            p = tuple(t // 2 for t in total)
            extra = tuple(t - 2 * (t // 2) for t in total)
        else:
            raise ArgumentError(f"Invalid padding string: '{padding}'")
    else:
        p = _tuple(padding, nd, "padding")
    if any(v < 0 for v in p):
        raise ArgumentError("negative padding is not supported")
    if any(v <= 0 for v in s):
        raise ArgumentError("non-positive stride is not supported")
    if any(v < 0 for v in d):
        raise ArgumentError("dilation should be greater than zero")
    if groups <= 0:
        raise ArgumentError("non-positive groups is not supported")
    if weight.shape[0] < groups:
        raise ShapeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                         f"dimension 0, but got weight of size {_size(weight.shape)} instead")
    if weight.shape[0] % groups:
        raise ShapeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                         f"dimension 0, but got weight of size [{_size(weight.shape)}] instead")
    if x.shape[1] != weight.shape[1] * groups:
        raise ShapeError(f"Given groups={groups}, weight of size {_size(weight.shape)}, expected "
                         f"input{_size(x.shape)} to have {weight.shape[1] * groups} channels, but got "
                         f"{x.shape[1]} channels instead")
    if any(v == 0 for v in d):  # (a zero dilation reaches a kernel: torch picks it by batch size;
        # a batch of one goes to the 2-d slow path, which sees conv1d's dilation as [1, d])
        raise ArgumentError("non-positive dilation is not supported" if x.shape[0] > 1 else
                            f"dilation should be greater than zero, but got "
                            f"{_size((1, *d) if nd == 1 else d)}")
    size = tuple(x.shape[2:])
    padded = [n + 2 * pi + e for n, pi, e in zip(size, p, extra, strict=True)]
    reach = [di * (ki - 1) + 1 for di, ki in zip(d, k, strict=True)]
    if any(n < r for n, r in zip(padded, reach, strict=True)):
        raise ShapeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                         f"Kernel size: ({' x '.join(map(str, reach))}). Kernel size can't be greater "
                         "than actual input size")
    size = tuple(n + e for n, e in zip(size, extra, strict=True))
    out = tuple(_output_size(n, ki, si, pi, pi, di)
                for n, ki, si, pi, di in zip(size, k, s, p, d, strict=True))
    return Window(size, k, s, d, tuple((pi, pi) for pi in p), out), extra


def _convolution(op: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
                 padding: Any, dilation: Any, groups: int) -> Tensor:
    check_tensor(input, op)
    check_tensor(weight, op, "weight")
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but "
                         f"got input of size: {_size(input.shape)}")
    if bias is not None:
        check_tensor(bias, op, "bias")
        if bias.dtype is not input.dtype:
            raise DTypeError(f"Input type ({input.dtype.c_type}) and bias type ({bias.dtype.c_type}) should "
                             "be the same")
    dilated = any(v > 1 for v in (dilation if isinstance(dilation, (list, tuple)) else [dilation]))
    if dilated and input.dtype is dtypes.bool_:  # (torch's dilated kernel dispatches first)
        raise DTypeError("\"slow_conv_dilated<>\" not implemented for 'Bool'")
    if weight.dtype is not input.dtype:
        raise DTypeError(
            f"Input type ({input.dtype.legacy_type}) and weight type ({weight.dtype.legacy_type}) "
            "should be the same or input should be a MKLDNN tensor and weight is a dense tensor"
            if nd == 1 and input.ndim == nd + 2 and not dilated else  # (conv1d's mkldnn path)
            f"expected scalar type {input.dtype.scalar_type} but found {weight.dtype.scalar_type}")
    if input.ndim == nd + 1:  # unbatched: torch adds the batch dim around the convolution
        return ops.squeeze(_convolution(op, nd, ops.unsqueeze(input, 0), weight, bias, stride,
                                        padding, dilation, groups), 0)
    window, extra = _conv_window(input, weight, nd, stride, padding, dilation, groups)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"Given weight of size {_size(weight.shape)}, expected bias to be "
                         f"1-dimensional with {weight.shape[0]} elements, but got bias of size "
                         f"{_size(bias.shape)} instead")
    if any(extra):  # 'same' with an odd total padding: torch pads the right side first (F.pad)
        input = ops.pad(input, [v for e in reversed(extra) for v in (0, e)])
    out = _conv_forward(input._data, weight._data, window, groups)
    if bias is not None:
        out = out + bias._data.reshape((-1,) + (1,) * nd)
    return record(out, conv2d.op.forms["ConvolutionBackward0"], _convolution_vjp, (input, weight, bias),
                  saved=(input, weight), attrs=(window, groups))


def _conv_forward(x: Any, w: Any, window: Window, groups: int) -> Any:
    n, c = x.shape[:2]
    o = w.shape[0]
    positions = math.prod(window.out)
    check_alloc((n, o, positions))
    cols = unfold_array(x, window).reshape(n, groups, c // groups * window.taps, positions)
    kernel = w.reshape(groups, o // groups, -1)
    return xp.matmul(kernel, cols).reshape((n, o, *window.out))


def _conv_input_grad(g: Any, w: Any, x_shape: tuple[int, ...], window: Window, groups: int) -> Any:
    """Each output's gradient sent back through the taps that produced it (arrays)."""
    n, c = x_shape[:2]
    o = w.shape[0]
    g4 = g.reshape(n, groups, o // groups, math.prod(window.out))
    kernel = w.reshape(groups, o // groups, -1)
    cols = xp.matmul(xp.swapaxes(kernel, 1, 2), g4)
    return fold_array(cols.reshape(n, c, window.taps, *window.out), window)


def _conv_weight_grad(g: Any, x: Any, w_shape: tuple[int, ...], window: Window, groups: int) -> Any:
    """The gradient correlated with the unfolded input, summed over the batch (arrays)."""
    n, c = x.shape[:2]
    o = w_shape[0]
    positions = math.prod(window.out)
    g4 = g.reshape(n, groups, o // groups, positions)
    cols = unfold_array(x, window).reshape(n, groups, c // groups * window.taps, positions)
    return xp.sum(xp.matmul(g4, xp.swapaxes(cols, 2, 3)), axis=0).reshape(w_shape)


def _convolution_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, w = node.saved()
    window, groups = node.attrs
    return _convolution_backward(g, x, w, window, groups,
                                 (node.needs(0), node.needs(1), node.needs(2)))


def _convolution_backward(g: Tensor, x: Tensor, w: Tensor, window: Window, groups: int,
                          mask: tuple[bool, bool, bool]) -> tuple[Tensor | None, ...]:
    """torch's convolution_backward: the three gradients as one fused node
    (ConvolutionBackwardBackward0, edges grad_output, input, weight), whichever ``mask`` asks for."""
    ga, xa, wa = g._data, x._data, w._data
    datas = (_conv_input_grad(ga, wa, x.shape, window, groups) if mask[0] else None,
             _conv_weight_grad(ga, xa, w.shape, window, groups) if mask[1] else None,
             xp.sum(ga, axis=(0, *range(2, ga.ndim))) if mask[2] else None)
    shapes = (x.shape, w.shape, (w.shape[0],))
    placeholders = [d if d is not None else xp.broadcast_to(xp.zeros((), ga.dtype), shp)
                    for d, shp in zip(datas, shapes, strict=True)]
    outs = record_multi(placeholders, _CONV_BACKWARD, _convolution_double_vjp, (g, x, w),
                        saved=(g, x, w), attrs=(window, groups))
    return tuple(o if d is not None else None for o, d in zip(outs, datas, strict=True))


@keeps_missing
def _convolution_double_vjp(node: Node, grads: list[Tensor | None]) -> tuple[Any, ...]:
    """torch's _convolution_double_backward: the gradient of grad_output is
    conv(ggI, weight) + conv(input, ggW) + ggb (viewed and expanded); input's is the transposed
    convolution of grad_output with ggW, weight's the convolution of ggI with grad_output (each
    None where the gradient it needs did not come, and both None for an empty input)."""
    g, x, w = node.saved()
    window, groups = node.attrs
    ggi, ggw, ggb = grads
    gg_out = gx = gw = None
    if node.needs(0):
        if x.numel() != 0:
            if ggi is not None:
                gg_out = _conv_op(ggi, w, window, groups)
            if ggw is not None:
                term = _conv_op(x, ggw, window, groups)
                gg_out = term if gg_out is None else gg_out + term
        if ggb is not None:
            view = ops.view(ops.contiguous(ggb), [1, -1] + [1] * len(window.size))
            term = ops.expand(view, list(g.shape))
            gg_out = term if gg_out is None else gg_out + term
    if x.numel() != 0:
        if node.needs(1) and ggw is not None:
            gx = _input_grad_op(g, ggw, x.shape, window, groups)
        if node.needs(2) and ggi is not None:
            gw = _weight_grad_op(g, ggi, w.shape, window, groups)
    return gg_out, gx, gw


# The convolutions torch's double backward runs (plain and transposed ones, each recorded as a
# ConvolutionBackward0 without bias): a convolution, its input gradient against a weight and its
# weight gradient against an input; each one's VJP is made of the other two.
def _conv_op(x: Tensor, w: Tensor, window: Window, groups: int) -> Tensor:
    return record(_conv_forward(x._data, w._data, window, groups), conv2d.op.forms["ConvolutionBackward0"],
                  _convolution_vjp, (x, w, None), saved=(x, w), attrs=(window, groups))


def _input_grad_op(g: Tensor, w: Tensor, x_shape: tuple[int, ...], window: Window, groups: int
                   ) -> Tensor:
    return record(_conv_input_grad(g._data, w._data, x_shape, window, groups),
                  conv2d.op.forms["ConvolutionBackward0"], _input_grad_vjp, (g, w, None),
                  saved=(g, w), attrs=(window, groups))


def _input_grad_vjp(node: Node, gy: Tensor) -> tuple[Any, ...]:
    g, w = node.saved()
    window, groups = node.attrs
    return (_conv_op(gy, w, window, groups) if node.needs(0) else None,
            _weight_grad_op(g, gy, w.shape, window, groups) if node.needs(1) else None, None)


def _weight_grad_op(g: Tensor, x: Tensor, w_shape: tuple[int, ...], window: Window, groups: int
                    ) -> Tensor:
    """The weight gradient as torch's double backward runs it: a convolution of the input with
    grad_output, both with their first two dims swapped (with groups, one per group of each, on
    their slices, concatenated), swapped back."""
    # that convolution swaps stride and dilation, so its kernel can come out larger than the
    # weight (a strided convolution): torch then narrows it to the weight's size
    full = tuple(max(k, (n + lo + hi - s * (o - 1) - 1) // d + 1)
                 for k, n, (lo, hi), s, d, o in zip(window.kernel, window.size, window.pads,
                                                    window.stride, window.dilation, window.out,
                                                    strict=True))
    wide = Window(window.size, full, window.stride, window.dilation, window.pads, window.out)
    xt, gt = ops.transpose(x, 0, 1), ops.transpose(g, 0, 1)
    cin, cout = x.shape[1] // groups, g.shape[1] // groups
    parts = []
    for k in range(groups):
        xk = ops.narrow(xt, 0, k * cin, cin) if groups > 1 else xt
        gk = ops.narrow(gt, 0, k * cout, cout) if groups > 1 else gt
        data = xp.swapaxes(_conv_weight_grad(xp.swapaxes(gk._data, 0, 1), xp.swapaxes(xk._data, 0, 1),
                                             (cout, cin, *full), wide, 1), 0, 1)
        parts.append(record(data, conv2d.op.forms["ConvolutionBackward0"], _weight_grad_vjp,
                            (xk, gk, None), saved=(gk, xk), attrs=(window, 1)))
    out = ops.transpose(ops.cat(parts, 1) if groups > 1 else parts[0], 0, 1)
    for d, (k, f) in enumerate(zip(window.kernel, full, strict=True)):
        if f > k:
            out = ops.narrow(out, d + 2, 0, k)
    return out


def _weight_grad_vjp(node: Node, gy: Tensor) -> tuple[Any, ...]:
    gt, xt = node.saved()
    window, groups = node.attrs
    # (the taps past the weight's size had no gradient: the narrow's backward gave them zeros)
    if tuple(gy.shape[2:]) != window.kernel:
        gy = gy[(slice(None), slice(None), *(slice(0, k) for k in window.kernel))]
    g, x, gw = ops.transpose(gt, 0, 1), ops.transpose(xt, 0, 1), ops.transpose(gy, 0, 1)
    gxt = ops.transpose(_input_grad_op(g, gw, x.shape, window, groups), 0, 1) if node.needs(0) else None
    ggt = ops.transpose(_conv_op(x, gw, window, groups), 0, 1) if node.needs(1) else None
    return gxt, ggt, None


_CONV_PARAMS = [T(), T("weight"), T("bias", default=None, optional=True),
                A("stride", "dims", 1), A("padding", "dims", 0, choices=("same", "valid")),
                A("dilation", "dims", 1), A("groups", "int", 1)]


@defop("conv1d", _CONV_PARAMS, grad_fns=("ConvolutionBackward0", "SqueezeBackward1"),
       doc="1-d convolution (cross-correlation) of (N, C, L) or (C, L) input; padding may be "
           "'same' or 'valid'.", category=_CONV, method=False)
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    return _convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@defop("conv2d", _CONV_PARAMS, grad_fns=("ConvolutionBackward0", "SqueezeBackward1"),
       doc="2-d convolution (cross-correlation) of (N, C, H, W) or (C, H, W) input; padding may be "
           "'same' or 'valid'.", category=_CONV, method=False)
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    return _convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


# ----- pooling ------------------------------------------------------------------------------
def _pool_window(op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: bool) -> Window:
    """torch's pooling_output_shape and pool2d_shape_check, as one window over the last 2 dims.
    With ceil_mode the last window may hang over the right edge: the right padding grows so
    that it fits (padding that max ignores and avg does not count)."""
    k = _tuple(kernel_size, 2, "kernel_size",
               f"{op}: kernel_size must either be a single int, or a tuple of two ints")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _tuple(
        stride, 2, "stride", f"{op}: stride must either be omitted, a single int, or a tuple of two ints")
    p = _tuple(padding, 2, "padding", f"{op}: padding must either be a single int, or a tuple of two ints")
    d = _tuple(dilation, 2, "dilation",
               f"{op}: dilation must be either a single int, or a tuple of two ints")
    if any(v == 0 for v in s):
        raise ArgumentError("stride should not be zero")
    for pi, ki, di in zip(p, k, d, strict=True):
        if pi < 0:
            raise ArgumentError(f"pad must be non-negative, but got pad: {pi}")
        reach = (ki - 1) * di + 1
        if pi > (abs(reach) // 2) * (1 if reach >= 0 else -1):  # (C++'s division truncates)
            raise ArgumentError(f"pad should be at most half of effective kernel size, but got "
                                f"pad={pi}, kernel_size={ki} and dilation={di}")
    if any(v <= 0 for v in k):
        raise ArgumentError(f"kernel size should be greater than zero, but got kH: {k[0]} kW: {k[1]}")
    if any(v <= 0 for v in s):
        raise ArgumentError(f"stride should be greater than zero, but got dH: {s[0]} dW: {s[1]}")
    if any(v <= 0 for v in d):
        raise ArgumentError(f"dilation should be greater than zero, but got dilationH: {d[0]} "
                            f"dilationW: {d[1]}")
    size = tuple(input.shape[-2:])
    out = []
    pads = []
    for n, ki, si, pi, di in zip(size, k, s, p, d, strict=True):
        span = n + 2 * pi - di * (ki - 1) - 1
        o = (-(-span // si) if ceil_mode else span // si) + 1
        if ceil_mode and (o - 1) * si >= n + pi:  # the last window must start inside the input
            o -= 1
        out.append(o)
        pads.append((pi, max(pi, (o - 1) * si + di * (ki - 1) + 1 - n - pi)))
    if any(o < 1 for o in out):
        c = input.shape[-3]
        raise ShapeError(f"Given input size: ({c}x{size[0]}x{size[1]}). Calculated output size: "
                         f"({c}x{out[0]}x{out[1]}). Output size is too small")
    return Window(size, k, s, d, tuple(pads), tuple(out))


def _pool_input(op: str, input: Tensor) -> None:
    check_tensor(input, op)
    if input.ndim not in (3, 4) or 0 in input.shape[-3:]:
        raise ShapeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if input.dtype is dtypes.bool_:  # (integers pool, as torch's CPU kernels do)
        raise DTypeError(f'"{op}" not implemented for \'{input.dtype.scalar_type}\'')


def _pool_grad(g: Any, per_tap: Any, shape: tuple[int, ...], window: Window) -> Any:
    """Send an output gradient back through the taps: g times each tap's share, folded (arrays)."""
    g4 = g.reshape(-1, shape[-3], *window.out)
    cols = xp.expand_dims(g4, 2) * per_tap
    return fold_array(cols, window).reshape(shape)


@defop("max_pool2d", [T(), A("kernel_size", "dims"), A("stride", "dims", None, optional=True),
                      A("padding", "dims", 0), A("dilation", "dims", 1), A("ceil_mode", "bool", False),
                      A("return_indices", "bool", False)],
       grad_fns="MaxPool2DWithIndicesBackward0", outputs=("out", "indices"),
       doc="Max over each (dilated) window of the last two dims; indices (flat over H*W) on "
           "request.", category=_POOL, method=False)
def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    _pool_input("max_pool2d", input)
    window = _pool_window("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    lowest = -math.inf if input.dtype.is_floating_point else xp.iinfo(input._data.dtype).min
    cols = unfold_array(input._data, window, fill=lowest)  # (..., taps, oh, ow)
    axis = input.ndim - 2
    best = xp.expand_dims(xp.argmax(cols, axis=axis), axis)
    values = xp.squeeze(xp.take_along_axis(cols, best, axis=axis), axis=axis)
    onehot = (xp.arange(window.taps).reshape(-1, 1, 1) == best).astype(cols.dtype)
    onehot = onehot.reshape((-1, input.shape[-3], window.taps, *window.out))
    indices = _flat_indices(xp.squeeze(best, axis=axis), window)
    outs = record_multi((values, indices), max_pool2d.op.grad_fn, _max_pool_vjp, (input,),
                        saved=(input, Tensor(onehot), Tensor(indices)), attrs=(input.shape, window),
                        differentiable=(True, False))
    return outs if return_indices else outs[0]


def _flat_indices(tap: Any, w: Window) -> Any:
    """The input position (row * W + col) each output's max came from."""
    row0 = xp.arange(w.out[0]).reshape(-1, 1) * w.stride[0] - w.pads[0][0]
    col0 = xp.arange(w.out[1]) * w.stride[1] - w.pads[1][0]
    rows = row0 + tap // w.kernel[1] * w.dilation[0]
    cols = col0 + tap % w.kernel[1] * w.dilation[1]
    return (rows * w.size[1] + cols).astype(xp.int64)


def _max_pool_vjp(node: Node, grads: list[Tensor]) -> tuple[Any, ...]:
    """torch's max_pool2d_with_indices_backward: one fused node over (grad_output, input)."""
    x, onehot, indices = node.saved()
    shape, window = node.attrs
    g = grads[0]
    return (record(_pool_grad(g._data, onehot._data, shape, window), _MAX_POOL_BACKWARD,
                   _max_pool_double_vjp, (g, x), saved=(x, indices)),)


def _max_pool_double_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    """torch's max_pool_double_backward: each output takes the incoming gradient at its argmax
    (grad.view(..., -1).gather(-1, indices).view(indices' shape)); the input gets zeros."""
    x, indices = node.saved()
    lead = list(indices.shape[:-2])
    picked = None
    if node.needs(0):
        flat = ops.view(ops.contiguous(gg), [*lead, -1])
        picked = ops.view(ops.gather(flat, -1, ops.view(indices, [*lead, -1])), list(indices.shape))
    return picked, ops.zeros_like(x) if node.needs(1) else None


@defop("avg_pool2d", [T(), A("kernel_size", "dims"), A("stride", "dims", None, optional=True),
                      A("padding", "dims", 0), A("ceil_mode", "bool", False),
                      A("count_include_pad", "bool", True),
                      A("divisor_override", "int", None, optional=True)],
       grad_fns="AvgPool2DBackward0",
       doc="Mean over each window of the last two dims (count_include_pad counts zero padding).",
       category=_POOL, method=False)
def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    check_tensor(input, "avg_pool2d")
    if input.ndim == 0:  # (torch reads input.size(-3) first)
        raise ShapeError("Dimension specified as -3 but tensor has no dimensions")
    wrap_dim(-3, input.ndim)  # torch's message for too few dims
    if input.ndim > 4:
        raise ShapeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
                         f"input, but got:{_size(input.shape)}")
    _pool_input("avg_pool2d", input)
    window = _pool_window("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise ArgumentError("divisor must be not zero")
    divisor = _avg_divisor(window, count_include_pad, divisor_override, input._data.dtype)
    return _avg_pool(input, window, divisor)


def _avg_pool(x: Tensor, window: Window, divisor: Any) -> Tensor:
    """Each window's sum over its divisor, recorded (AvgPool2DBackward0)."""
    sums = xp.sum(unfold_array(x._data, window), axis=x.ndim - 2)
    # (integers divide as C++ does: the quotient truncated toward zero)
    mean = sums / divisor if x.dtype.is_floating_point else xp.abs(sums) // divisor * xp.sign(sums)
    return record(mean, avg_pool2d.op.grad_fn, _avg_pool_vjp, (x,), saved=(x,),
                  attrs=(x.shape, window, divisor))


def _avg_divisor(w: Window, count_include_pad: bool, override: int | None, dtype: Any) -> Any:
    """What each window's sum is divided by: override, or the window's cells inside the padded
    input (count_include_pad) or inside the input itself."""
    if override is not None:
        return xp.full(w.out, float(override), dtype=dtype)
    counts = []
    for n, k, s, (lo, _), o in zip(w.size, w.kernel, w.stride, w.pads, w.out, strict=True):
        start = xp.arange(o) * s - lo
        end = xp.minimum(start + k, n + lo)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, n)
        counts.append(end - start)
    return (counts[0].reshape(-1, 1) * counts[1]).astype(dtype)


def _avg_pool_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    """torch's avg_pool2d_backward: one fused node over (grad_output, input)."""
    (x,) = node.saved()
    shape, window, divisor = node.attrs
    share = xp.broadcast_to(1 / divisor, (window.taps, *window.out))
    return (record(_pool_grad(g._data, share, shape, window), _AVG_POOL_BACKWARD,
                   _avg_pool_double_vjp, (g, x), saved=(x,), attrs=node.attrs),)


def _avg_pool_double_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    """torch: the gradient of grad_output is avg_pool2d of the incoming one; the input's, zeros."""
    (x,) = node.saved()
    _, window, divisor = node.attrs
    return (_avg_pool(gg, window, divisor) if node.needs(0) else None,
            ops.zeros_like(x) if node.needs(1) else None)
