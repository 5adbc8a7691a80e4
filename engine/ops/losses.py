"""Losses with torch.nn.functional's names, arguments and graphs.

Where torch computes a loss in one kernel (nll_loss, mse_loss, smooth_l1_loss, huber_loss, both
binary cross entropies) the forward here computes it on arrays and records that one node, and the
VJP is written with engine ops so second derivatives work.  Where torch composes the loss from
other ops (l1_loss, weighted losses, cross_entropy with label smoothing or class probabilities) it
is composed here from the same ops in the same order, so the grad_fn graph is torch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from engine import dtypes, ops
from engine.backend import xp
from engine.errors import ArgumentError, AutogradError, DTypeError, ShapeError
from engine.graph import Node
from engine.ops.activations import float_input, log_softmax
from engine.ops.core import array_of, broadcast_shapes, check_tensor, record
from engine.ops.scalar_ops import add_scalar as _add_scalar
from engine.ops.scalar_ops import mul_scalar as _mul_scalar
from engine.registry import A, T, defop
from engine.tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "huber_loss", "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss"]

_LOSS = "loss"
_REDUCTIONS = ("none", "mean", "sum")
_REDUCTION = A("reduction", "choice", "mean", choices=_REDUCTIONS)
_WEIGHT = T("weight", default=None, optional=True)


# ----- helpers shared by the losses ----------------------------------------------------------
def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ArgumentError(f"{reduction} is not a valid value for reduction")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """A composite loss's reduction, as torch applies it (MeanBackward0 / SumBackward0)."""
    return ops.mean(loss) if reduction == "mean" else ops.sum(loss) if reduction == "sum" else loss


def _reduce_array(loss: Any, reduction: str) -> Any:
    """The same reduction inside a one-node loss."""
    if reduction == "mean":
        return xp.asarray(xp.mean(loss) if loss.size else xp.asarray(math.nan, dtype=loss.dtype))
    return xp.asarray(xp.sum(loss)) if reduction == "sum" else loss


def _scaled_grad(g: Tensor, node_reduction: str, numel: int) -> Tensor:
    """The gradient reaching each element of a one-node loss: the mean divides by the count."""
    return g / numel if node_reduction == "mean" else g


def _broadcast_pair(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """torch.broadcast_tensors: expand whichever of the two does not have the common shape."""
    shape = broadcast_shapes(input.shape, target.shape)
    return tuple(t if t.shape == shape else ops.expand(t, list(shape))  # type: ignore[return-value]
                 for t in (input, target))


def _no_grad_arg(t: Tensor | None, fn: str, arg: str) -> None:
    if t is not None and t.requires_grad:
        raise AutogradError(f"The function '{fn}' is not differentiable with respect to argument "
                            f"'{arg}'. This input cannot have requires_grad True.")


def _div_scalar(t: Tensor, s: float) -> Tensor:
    """tensor / number in torch's C++ code (DivBackward1, one edge)."""
    return record(t._data / s, cross_entropy.op.forms["DivBackward1"], _div_scalar_vjp, (t,), attrs=s)


def _div_scalar_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (g / node.attrs,)


# ----- mse / smooth_l1 / huber: one node over d = input - target ------------------------------
# Each is an elementwise function of d: ``value`` gives the loss on arrays, ``slope`` its derivative
# on Tensors (engine ops, so the VJP can itself be differentiated).
Slope = Callable[[Tensor, float], Tensor]


def _pointwise_loss(op: str, grad_fn: str, kernel: str, input: Tensor, target: Tensor,
                    reduction: str, value: Callable[[Any, float], Any], slope: Slope,
                    param: float) -> Tensor:
    check_tensor(input, op)
    check_tensor(target, op, "target")
    _check_reduction(reduction)
    x, y = _broadcast_pair(input, target)
    dt = dtypes.result_type(x, y)
    if not dt.is_floating_point:
        raise DTypeError(f'"{kernel}" not implemented for \'{dt.scalar_type}\'')
    d = array_of(x, dt) - array_of(y, dt)
    out = _reduce_array(value(d, param).astype(dt.np), reduction)
    return record(out, grad_fn, _pointwise_loss_vjp, (x, y), saved=(x, y),
                  attrs=(reduction, d.size, slope, param))


def _pointwise_loss_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, y = node.saved()
    reduction, numel, slope, param = node.attrs
    gd = _scaled_grad(g, reduction, numel) * slope(x - y, param)
    return (gd if node.needs(0) else None, -gd if node.needs(1) else None)


def _mse_value(d: Any, _: float) -> Any:
    return d * d


def _mse_slope(d: Tensor, _: float) -> Tensor:
    return d * 2


def _smooth_l1_value(d: Any, beta: float) -> Any:
    ad = xp.abs(d)
    return xp.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta)


def _smooth_l1_slope(d: Tensor, beta: float) -> Tensor:
    return ops.clamp(d / beta, -1.0, 1.0)


def _huber_value(d: Any, delta: float) -> Any:
    ad = xp.abs(d)
    return xp.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))


def _huber_slope(d: Tensor, delta: float) -> Tensor:
    return ops.clamp(d, -delta, delta)


def _weighted(errors: Tensor, weight: Tensor, input: Tensor, reduction: str, mean: str) -> Tensor:
    """torch.nn.functional's weighted mse/l1/huber: errors * weight, then reduced; the weighted
    mean is sum / sum(weight) (``mean='by_weight'``) or a plain mean (``'plain'``, huber)."""
    _check_reduction(reduction)
    if weight.shape != input.shape:
        raise ArgumentError("Weights and input must have the same size.")
    loss = errors * weight
    if reduction == "mean" and mean == "by_weight":
        return ops.sum(loss) / ops.sum(weight)
    return _reduce(loss, reduction)


@defop("mse_loss", [T(), T("target"), _REDUCTION, _WEIGHT], grad_fns=(
    "MseLossBackward0", "DivBackward0", "MulBackward0", "SumBackward0"),
    doc="Mean squared error (input - target)**2, reduced; optional elementwise weight.",
    category=_LOSS, method=False)
def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    if weight is None:
        return _pointwise_loss("mse_loss", mse_loss.op.forms["MseLossBackward0"], "mse_cpu", input,
                               target, reduction, _mse_value, _mse_slope, 0.0)
    x, y = _broadcast_pair(check_tensor(input, "mse_loss"), check_tensor(target, "mse_loss", "target"))
    return _weighted(ops.pow(x - y, 2), weight, input, reduction, "by_weight")


@defop("l1_loss", [T(), T("target"), _REDUCTION, _WEIGHT],
       grad_fns=("MeanBackward0", "SumBackward0", "AbsBackward0", "DivBackward0"),
       doc="Mean absolute error |input - target|, reduced; optional elementwise weight.",
       category=_LOSS, method=False)
def l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    check_tensor(input, "l1_loss")
    check_tensor(target, "l1_loss", "target")
    _check_reduction(reduction)
    x, y = _broadcast_pair(input, target)
    errors = ops.abs(x - y)
    if weight is None:
        return _reduce(errors, reduction)
    return _weighted(errors, weight, input, reduction, "by_weight")


@defop("smooth_l1_loss", [T(), T("target"), _REDUCTION, A("beta", "number", 1.0)],
       grad_fns=("SmoothL1LossBackward0", "MeanBackward0", "SumBackward0", "AbsBackward0"),
       doc="0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta=0 is "
           "l1_loss.", category=_LOSS, method=False)
def smooth_l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    if beta < 0:
        raise ArgumentError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _pointwise_loss("smooth_l1_loss", smooth_l1_loss.op.forms["SmoothL1LossBackward0"],
                           "smooth_l1_cpu", input, target, reduction, _smooth_l1_value,
                           _smooth_l1_slope, beta)


@defop("huber_loss", [T(), T("target"), _REDUCTION, A("delta", "number", 1.0), _WEIGHT],
       grad_fns=("HuberLossBackward0", "MeanBackward0", "SumBackward0", "MulBackward0"),
       doc="0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target).",
       category=_LOSS, method=False)
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    if delta <= 0:
        raise ArgumentError("huber_loss does not support non-positive values for delta.")
    if weight is None:
        return _pointwise_loss("huber_loss", huber_loss.op.forms["HuberLossBackward0"], "huber_cpu",
                               input, target, reduction, _huber_value, _huber_slope, delta)
    _check_reduction(reduction)
    errors = _pointwise_loss("huber_loss", huber_loss.op.forms["HuberLossBackward0"], "huber_cpu",
                             input, target, "none", _huber_value, _huber_slope, delta)
    return _weighted(errors, weight, input, reduction, "plain")


# ----- binary cross entropy --------------------------------------------------------------------
def _bce_weight(weight: Tensor | None, shape: tuple[int, ...], fn: str) -> Any:
    """The elementwise weight array (broadcast to the loss's shape), or None."""
    if weight is None:
        return None
    check_tensor(weight, fn, "weight")
    _no_grad_arg(weight, fn, "weight")
    full = broadcast_shapes(shape, weight.shape)
    if full != shape:
        raise ShapeError(f"output with shape [{', '.join(map(str, shape))}] doesn't match the "
                         f"broadcast shape [{', '.join(map(str, full))}]")
    return xp.broadcast_to(weight._data, shape)


def _as_tensor(a: Any) -> Tensor | None:
    return None if a is None else Tensor(a)


@defop("binary_cross_entropy", [T(), T("target"), _WEIGHT, _REDUCTION],
       grad_fns="BinaryCrossEntropyBackward0",
       doc="-weight (target log(input) + (1 - target) log(1 - input)), logs clamped at -100.",
       category=_LOSS, method=False)
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                         reduction: str = "mean") -> Tensor:
    fn = "binary_cross_entropy"
    x = float_input(input, fn, fn)
    check_tensor(target, fn, "target")
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ShapeError(f"Using a target size ({_size(target.shape)}) that is different to the input "
                         f"size ({_size(input.shape)}) is deprecated. Please ensure they have the "
                         "same size.")
    if target.dtype is not input.dtype:
        raise DTypeError(f"Found dtype {target.dtype.scalar_type} but expected "
                         f"{input.dtype.scalar_type}")
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise ArgumentError("all elements of input should be between 0 and 1")
    y = target._data
    w = _bce_weight(weight, input.shape, fn)
    loss = -(y * xp.maximum(xp.log(x), -100) + (1 - y) * xp.maximum(xp.log1p(-x), -100))
    if w is not None:
        loss = loss * w
    out = _reduce_array(loss.astype(x.dtype), reduction)
    return record(out, binary_cross_entropy.op.grad_fn, _bce_vjp, (input, target),
                  saved=(input, target, _as_tensor(w)), attrs=(reduction, x.size))


def _bce_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, y, w = node.saved()
    reduction, numel = node.attrs
    g = _scaled_grad(g, reduction, numel)
    if w is not None:
        g = g * w
    gx = g * (x - y) / ops.clamp((1 - x) * x, min=1e-12) if node.needs(0) else None
    gy = g * (ops.log1p(-x) - ops.log(x)) if node.needs(1) else None  # -logit(x)
    return gx, gy


def _size(shape: tuple[int, ...]) -> str:
    return f"torch.Size([{', '.join(map(str, shape))}])"


@defop("binary_cross_entropy_with_logits", [T(), T("target"), _WEIGHT, _REDUCTION,
                                             T("pos_weight", default=None, optional=True)],
       grad_fns="BinaryCrossEntropyWithLogitsBackward0",
       doc="binary_cross_entropy(sigmoid(input), target) computed stably; pos_weight weighs the "
           "positive term.", category=_LOSS, method=False)
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                                     reduction: str = "mean", pos_weight: Tensor | None = None
                                     ) -> Tensor:
    fn = "binary_cross_entropy_with_logits"
    check_tensor(input, fn)
    check_tensor(target, fn, "target")
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ShapeError(f"Target size ({_size(target.shape)}) must be the same as input size "
                         f"({_size(input.shape)})")
    a = float_input(input, fn, "log_sigmoid_cpu")
    y = float_input(target, fn, "log_sigmoid_cpu")
    w = _bce_weight(weight, input.shape, fn)
    if pos_weight is not None:
        check_tensor(pos_weight, fn, "pos_weight")
        _no_grad_arg(pos_weight, fn, "pos_weight")
        broadcast_shapes(pos_weight.shape, input.shape)
    pw = None if pos_weight is None else pos_weight._data
    # torch's steps, each rounded as its in-place ops round: log_sigmoid(input) scaled in the
    # input's dtype, then (1 - target) * input - that, times weight, in the target's dtype
    log_sig = xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))
    if pw is not None:
        log_sig = (log_sig * ((pw - 1) * y + 1)).astype(a.dtype)
    loss = ((1 - y) * a).astype(y.dtype)
    loss = (loss - log_sig).astype(y.dtype)
    if w is not None:
        loss = (loss * w).astype(y.dtype)
    out = _reduce_array(loss, reduction)
    return record(out, binary_cross_entropy_with_logits.op.grad_fn, _bce_logits_vjp, (input, target),
                  saved=(input, target, _as_tensor(w), _as_tensor(pw)), attrs=(reduction, a.size))


def _bce_logits_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    x, y, w, pw = node.saved()
    reduction, numel = node.attrs
    g = _scaled_grad(g, reduction, numel)
    if w is not None:
        g = g * w
    gx = gy = None
    if node.needs(0):
        if pw is None:
            gx = g * (ops.sigmoid(x) - y)
        else:
            py = pw * y
            gx = g * ((py + 1 - y) * ops.sigmoid(x) - py)
    if node.needs(1):
        gy = -g * x if pw is None else g * (ops.logsigmoid(-x) - ops.logsigmoid(x) * pw)
    return gx, gy


# ----- nll_loss -----------------------------------------------------------------------------
def _nll_checks(input: Tensor, target: Tensor, weight: Tensor | None) -> None:
    """torch's argument checks for nll_loss (before any reshaping of 3-d or 5-d+ input)."""
    if input.ndim < 1:
        raise ShapeError(f"Expected 1 or more dimensions (got {input.ndim})")
    if target.dtype is not dtypes.int64:
        raise DTypeError(f"expected target dtype to be Long or Byte, but got "
                         f"{target.dtype.scalar_type}")
    if input.ndim == 1:
        if target.ndim > 1 or (target.ndim == 1 and target.shape[0] != 1):
            raise ShapeError("For 1D input, 1D target must have size 1, but got target size: "
                             f"{target.shape[0] if target.ndim == 1 else target.numel()}")
    elif input.ndim == 2 and target.ndim > 1:
        raise ShapeError("0D or 1D target tensor expected, multi-target not supported")
    elif input.shape[0] != (target.shape[0] if target.ndim else 0):
        raise ShapeError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if input.ndim >= 3 and target.shape != (input.shape[0], *input.shape[2:]):
        want = [input.shape[0], *input.shape[2:]]
        if input.ndim == 4 and target.ndim != 3:
            raise ShapeError("only batches of spatial targets supported (3D tensors) but got targets "
                             f"of dimension: {target.ndim}")
        if input.ndim == 4:
            raise ShapeError(f"size mismatch (got input: [{', '.join(map(str, input.shape))}] , "
                             f"target: [{', '.join(map(str, target.shape))}]")
        raise ShapeError(f"Expected target size [{', '.join(map(str, want))}], got "
                         f"[{', '.join(map(str, target.shape))}]")
    classes = input.shape[_class_dim(input)]
    if weight is not None:
        check_tensor(weight, "nll_loss", "weight")
        if weight.ndim != 1 or weight.shape[0] != classes:
            raise ShapeError(f"weight tensor should be defined either for all {classes} classes or "
                             "no classes but got weight tensor of shape: "
                             f"[{', '.join(map(str, weight.shape))}]")
        if weight.dtype is not input.dtype:
            raise DTypeError(f"expected scalar type {input.dtype.scalar_type} but found "
                             f"{weight.dtype.scalar_type}")
        _no_grad_arg(weight, "nll_loss_forward", "weight")


def _nll_node(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
              reduction: str, grad_fn: str) -> Tensor:
    """The NllLossBackward0 / NllLoss2DBackward0 node: class dim 1 (0 for 1-d input)."""
    x = float_input(input, "nll_loss", "nll_loss_out_frame")
    cd = _class_dim(input)
    classes = input.shape[cd]
    t = target._data.reshape(()) if input.ndim == 1 else target._data  # a 1-d input takes [t] or t
    kept = t != ignore_index
    safe = xp.where(kept, t, 0)
    if t.size and bool(((safe < 0) | (safe >= classes)).any()):
        bad = safe[(safe < 0) | (safe >= classes)].reshape(-1)[0]
        raise ShapeError(f"Target {int(bad)} is out of bounds.")
    w = xp.ones((classes,), dtype=x.dtype) if weight is None else weight._data
    per = w[safe] * kept  # each element's weight; 0 where the target is ignored
    picked = xp.squeeze(xp.take_along_axis(x, xp.expand_dims(safe, cd), axis=cd), axis=cd)
    loss = -picked * per
    if reduction == "none":
        out, scale = loss, 1.0
    elif reduction == "sum":
        out, scale = xp.sum(loss), 1.0
    else:
        total = xp.sum(per)
        out, scale = xp.sum(loss) / total, total
    # d loss / d input is -weight at the target class of each element: a constant, dense array.
    classes_axis = xp.arange(classes).reshape((classes,) + (1,) * (x.ndim - cd - 1))
    slope = -((xp.expand_dims(safe, cd) == classes_axis) * xp.expand_dims(per, cd))
    slope = xp.where(xp.expand_dims(kept, cd), slope / scale, 0).astype(x.dtype)
    return record(xp.asarray(out, dtype=x.dtype), grad_fn, _nll_vjp, (input,),
                  saved=(Tensor(slope),), attrs=(reduction, cd))


def _nll_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (slope,) = node.saved()
    reduction, cd = node.attrs
    if reduction == "none" and slope.ndim > 1:
        g = ops.unsqueeze(g, cd)
    return (g * slope,)


@defop("nll_loss", [T(), T("target"), _WEIGHT, A("ignore_index", "int", -100), _REDUCTION],
       grad_fns=("NllLossBackward0", "NllLoss2DBackward0", "ViewBackward0"),
       doc="Negative log-likelihood of the target class (input holds log-probabilities).",
       category=_LOSS, method=False)
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    check_tensor(input, "nll_loss")
    check_tensor(target, "nll_loss", "target")
    _check_reduction(reduction)
    _nll_checks(input, target, weight)
    if input.ndim <= 2:
        return _nll_node(input, target, weight, ignore_index, reduction,
                         nll_loss.op.forms["NllLossBackward0"])
    if input.ndim == 4:
        return _nll_node(input, target, weight, ignore_index, reduction,
                         nll_loss.op.forms["NllLoss2DBackward0"])
    # 3-d and 5-d+ input: torch views it as 4-d (n, c, 1, rest), and the 'none' result back
    n, c = input.shape[:2]
    spatial = (1, -1) if input.numel() else (0, 0)
    flat_in = ops.view(ops.contiguous(input), [n, c, *spatial])
    flat_t = ops.view(target, [n, *spatial])
    out = _nll_node(flat_in, flat_t, weight, ignore_index, reduction, nll_loss.op.forms["NllLoss2DBackward0"])
    if reduction == "none" and input.numel():
        out = ops.view(out, [n, *input.shape[2:]])
    return out


# ----- cross_entropy ------------------------------------------------------------------------
@defop("cross_entropy", [T(), T("target"), _WEIGHT, A("ignore_index", "int", -100), _REDUCTION,
                         A("label_smoothing", "float", 0.0)],
       grad_fns=("NllLossBackward0", "NllLoss2DBackward0", "AddBackward0", "DivBackward1",
                 "NegBackward0"),
       doc="log_softmax over the class dim then nll_loss (class indices), or -sum(target * "
           "log_softmax) (class probabilities, target shaped like input); label smoothing.",
       category=_LOSS, method=False)
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    check_tensor(input, "cross_entropy")
    check_tensor(target, "cross_entropy", "target")
    _check_reduction(reduction)
    if input.ndim == 0:  # (nll_loss's message: there is no class dim)
        raise ShapeError("Expected 1 or more dimensions (got 0)")
    if input.shape == target.shape:
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing)
    if label_smoothing > 0:
        _check_smoothing(label_smoothing)
        return _cross_entropy_smoothed(input, target, weight, ignore_index, reduction,
                                       label_smoothing)
    return nll_loss(log_softmax(input, _class_dim(input)), target, weight, ignore_index=ignore_index,
                    reduction=reduction)


def _class_dim(input: Tensor) -> int:
    return 0 if input.ndim == 1 else 1


def _check_smoothing(label_smoothing: float) -> None:
    if label_smoothing > 1:
        raise ArgumentError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")


def _class_weight(weight: Tensor, ndim: int, cd: int) -> Tensor:
    """The class weights shaped to broadcast along the class dim of an ndim-d input."""
    shape = [1] * ndim
    shape[cd] = weight.shape[0]
    return ops.view(weight, shape)


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                         reduction: str, label_smoothing: float) -> Tensor:
    """Class probabilities: -(log_softmax(input) * target [* weight]) summed over the classes."""
    if not target.dtype.is_floating_point:
        raise DTypeError("Expected floating point type for target with class probabilities, got "
                         f"{target.dtype.scalar_type}")
    if ignore_index >= 0:
        raise ArgumentError("ignore_index is not supported for floating point target")
    cd = _class_dim(input)
    classes = input.shape[cd]
    logp = log_softmax(input, cd)
    if label_smoothing > 0:
        _check_smoothing(label_smoothing)
        target = _add_scalar(_mul_scalar(target, 1 - label_smoothing), label_smoothing / classes)
    prod = logp * target
    if weight is not None:
        check_tensor(weight, "cross_entropy", "weight")
        if weight.ndim != 1 or weight.shape[0] != classes:
            raise ShapeError(f"cross_entropy: weight tensor should be defined either for all {classes} "
                             "classes or no classes but got weight tensor of shape: "
                             f"[{', '.join(map(str, weight.shape))}]")
        prod = prod * _class_weight(weight, input.ndim, cd)
    if reduction == "none":
        return -ops.sum(prod, cd)
    total = -ops.sum(prod)
    if reduction == "sum":
        return total
    return _div_scalar(total, input.numel() // classes if classes else 0)


def _cross_entropy_smoothed(input: Tensor, target: Tensor, weight: Tensor | None,
                            ignore_index: int, reduction: str, label_smoothing: float) -> Tensor:
    """Class indices with label smoothing: (1 - s) * nll + s / C * (the loss against uniform
    targets), in torch's composition."""
    cd = _class_dim(input)
    classes = input.shape[cd]
    logp = log_softmax(input, cd)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    ignored = target._data == ignore_index
    per_class = logp if weight is None else logp * _class_weight(weight, input.ndim, cd)
    smooth = ops.masked_fill(-ops.sum(per_class, cd), Tensor(ignored), 0.0)
    if reduction == "mean":
        if weight is None:
            count: Any = Tensor(xp.asarray(xp.sum(~ignored)))
        else:
            kept_targets = target._data[~ignored].reshape(-1)
            count = Tensor(xp.asarray(xp.sum(weight._data[kept_targets])))
        smooth = ops.sum(smooth) / count
    elif reduction == "sum":
        smooth = ops.sum(smooth)
    return _mul_scalar(nll, 1 - label_smoothing) + _mul_scalar(smooth, label_smoothing / classes)
