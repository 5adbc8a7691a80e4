"""The first derivatives of the one-kernel losses, as ops of their own: torch computes each in a
backward kernel (mse_loss_backward, nll_loss_backward, ...), so a gradient taken with
``create_graph`` has one node (MseLossBackwardBackward0, ...) with edges to the incoming gradient
and to the loss's inputs. Each function here computes that derivative on backend arrays and
records the node; its VJP is torch's double-backward formula, written with engine ops in torch's
order. engine/ops/losses.py's VJPs call these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine import ops
from engine.backend import xp
from engine.graph import NO_EDGE, Node, edge
from engine.ops.activation_grads import zeros_for
from engine.ops.core import record
from engine.ops.elementwise import mul
from engine.ops.scalar_ops import add_scalar, div_scalar, mul_scalar
from engine.registry import internal_node
from engine.tensor import Tensor

_BCE = internal_node("BinaryCrossEntropyBackwardBackward0")
_LOGIT = internal_node("LogitBackward0")
_BCE_EPS = 1e-12


def _mean_of(t: Tensor, reduction: str, numel: int) -> Tensor:
    """torch's ``if (reduction == Mean) grad_input /= numel`` in its double-backward formulas."""
    return div_scalar(t, numel) if reduction == "mean" else t


def _below(a: Tensor, b: Tensor, bound: float, like: Tensor) -> Tensor:
    """``(|a - b| < bound)`` as a constant tensor of ``like``'s dtype."""
    return Tensor((xp.abs(a._data - b._data) < bound).astype(like._data.dtype))


# ----- mse / smooth_l1 / huber: one node over (grad, self, target) -----------------------------
@dataclass(frozen=True)
class Pointwise:
    """A loss that is an elementwise function of d = self - target: its backward node's name, its
    slope on arrays, and its second derivative times ``p = gg * grad`` (before torch's division
    by the element count), in torch's steps."""

    twice: str
    slope: Callable[[Any, float], Any]
    second: Callable[[Tensor, Tensor, Tensor, float], Tensor]
    huber: bool = False  # the grad_output formula: huber_loss_double_backward_grad_output


MSE = Pointwise(internal_node("MseLossBackwardBackward0"), lambda d, _: d * 2,
                lambda p, a, b, _: mul_scalar(p, 2.0))
SMOOTH_L1 = Pointwise(internal_node("SmoothL1LossBackwardBackward0"),
                      lambda d, beta: xp.clip(d / beta, -1.0, 1.0),
                      lambda p, a, b, beta: div_scalar(ops.mul(p, _below(a, b, beta, p)), beta))
HUBER = Pointwise(internal_node("HuberLossBackwardBackward0"),
                  lambda d, delta: xp.clip(d, -delta, delta),
                  lambda p, a, b, delta: ops.mul(p, _below(a, b, delta, p)), huber=True)


def pointwise_backward(kind: Pointwise, g: Tensor, a: Tensor, b: Tensor, reduction: str,
                       numel: int, param: float) -> Tensor:
    """d loss / d a for the loss of (a, b) (torch calls it with (self, target) for self's
    gradient and (target, self) for target's)."""
    gd = g._data / numel if reduction == "mean" else g._data
    out = (gd * kind.slope(a._data - b._data, param)).astype(a._data.dtype)
    return record(out, kind.twice, _pointwise_backward_vjp, (g, a, b), saved=(g, a, b),
                  attrs=(kind, reduction, numel, param))


def _pointwise_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, a, b = node.saved()
    kind, reduction, numel, param = node.attrs
    ggo = None
    if node.needs(0):
        if kind.huber and reduction != "none":  # (ones * its slope * gg).sum()
            ones = Tensor(xp.ones_like(g._data))
            ggo = ops.sum(ops.mul(pointwise_backward(kind, ones, a, b, reduction, numel, param), gg))
        else:
            ggo = pointwise_backward(kind, gg, a, b, reduction, numel, param)
    ga = gb = None
    if node.needs(1) or node.needs(2):
        ga = _mean_of(kind.second(ops.mul(gg, g), a, b, param), reduction, numel)
        gb = ops.neg(ga) if node.needs(2) else None
    return ggo, ga if node.needs(1) else None, gb


# ----- binary cross entropy -----------------------------------------------------------------------
def bce_backward(g: Tensor, x: Tensor, t: Tensor, w: Tensor | None, reduction: str,
                 numel: int) -> Tensor:
    """d bce / d input: grad * (x - t) / (x (1 - x)) (weighted, divided by the count for 'mean')."""
    a = x._data
    gd = g._data / numel if reduction == "mean" else g._data
    if w is not None:
        gd = gd * w._data
    out = gd * (a - t._data) / xp.maximum((1 - a) * a, 1e-12)
    return record(out.astype(a.dtype), _BCE, _bce_backward_vjp, (g, x, t), saved=(g, x, t, w),
                  attrs=(reduction, numel))


def _bce_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, x, t, w = node.saved()
    reduction, numel = node.attrs
    gg_g = gx = gt = None
    if node.needs(0):  # binary_cross_entropy_double_backward_grad_output
        gg_g = ops.div(ops.sub(x, t), ops.mul(add_scalar(x, _BCE_EPS),
                                              add_scalar(ops.sub(1.0, x), _BCE_EPS)))
        gg_g = _mean_of(_weighted(ops.mul(gg_g, gg), w), reduction, numel)
    if node.needs(1):  # binary_cross_entropy_double_backward
        num = ops.add(ops.sub(ops.mul(x, x), ops.mul(mul_scalar(x, 2.0), t)), t)
        den = ops.mul(ops.pow(add_scalar(x, _BCE_EPS), 2),
                      ops.pow(add_scalar(ops.sub(1.0, x), _BCE_EPS), 2))
        gx = _mean_of(_weighted(ops.mul(ops.div(num, den), ops.mul(gg, g)), w), reduction, numel)
    if node.needs(2):  # binary_cross_entropy_double_backward_target
        gt = ops.div(_weighted(ops.mul(ops.neg(gg), g), w), ops.mul(ops.sub(1.0, x), x))
        gt = _mean_of(gt, reduction, numel)
    return gg_g, gx, gt


def _weighted(t: Tensor, w: Tensor | None) -> Tensor:
    return t if w is None else ops.mul(t, w)


def bce_target_backward(g: Tensor, x: Tensor, w: Tensor | None, reduction: str,
                        numel: int) -> Tensor:
    """d bce / d target, torch's composite binary_cross_entropy_target_backward: -logit(x) * grad
    (the product in place)."""
    return _mean_of(_weighted(mul_in_place(ops.neg(_logit(x)), g), w), reduction, numel)


def mul_in_place(t: Tensor, g: Tensor) -> Tensor:
    """``t.mul_(g)`` on a fresh ``t``, as torch's composite loss backwards write it: a MulBackward0
    like ``t * g``, except that torch saves a copy of ``t`` from before the write (a
    CloneBackward0 of it) for ``g``'s gradient, when ``g`` requires one."""
    original = ops.clone(t) if edge(g) is not NO_EDGE else t
    return record(t._data * g._data, mul.op.grad_fn, _mul_in_place_vjp, (t, g), saved=(original, g))


def _mul_in_place_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    original, g = node.saved()
    return (ops.mul(gg, g) if node.needs(0) else None,
            ops.mul(gg, original) if node.needs(1) else None)


def _logit(x: Tensor) -> Tensor:
    """log(x / (1 - x)) (torch.logit, not an op of the catalog)."""
    a = x._data
    return record(xp.log(a / (1 - a)), _LOGIT, _logit_vjp, (x,), saved=(x,))


def _logit_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()
    inside = Tensor((x._data >= 0) & (x._data <= 1))
    return (ops.where(inside, ops.div(g, ops.mul(x, ops.sub(1.0, x))), float("nan")),)


# ----- nll_loss -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NllCall:
    """What nll_loss was called with, to differentiate its backward in grad_output (that is
    nll_loss again, of the incoming gradient) and to spread a gradient over the classes."""

    twice: str
    slope: Any  # d loss / d input, dense: -weight / total at each element's target class
    reduction: str
    class_dim: int
    again: Callable[[Tensor], Tensor]  # nll_loss(., target, weight, ...) of a tensor like input


def nll_backward(call: NllCall, g: Tensor, x: Tensor) -> Tensor:
    gd = g._data
    if call.reduction == "none" and call.slope.ndim > 1:
        gd = xp.expand_dims(gd, call.class_dim)
    return record((gd * call.slope).astype(call.slope.dtype), call.twice, _nll_backward_vjp, (g, x),
                  attrs=call)


def _nll_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    call: NllCall = node.attrs
    return (call.again(gg) if node.needs(0) else None,
            zeros_for(gg) if node.needs(1) else None)


NLL_TWICE = {"NllLossBackward0": internal_node("NllLossBackwardBackward0"),
             "NllLoss2DBackward0": internal_node("NllLoss2DBackwardBackward0")}
