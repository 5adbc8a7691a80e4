"""The first derivatives of the activations, as ops of their own: torch computes each in one
kernel (gelu_backward, softplus_backward, ...), so a gradient taken with ``create_graph`` has one
node (GeluBackwardBackward0, ...) with edges to the incoming gradient and to the saved input (or
output). Each function here computes that derivative on backend arrays and records the node; its
VJP is torch's formula for the second derivative, written with engine ops in torch's order so the
third-order graph is torch's too. The activations' own VJPs (engine/ops/activations.py) call these.
"""

from __future__ import annotations

import math
from typing import Any

from engine import ops
from engine.backend import xp
from engine.graph import Node
from engine.ops.core import record
from engine.ops.elementwise import sigmoid_backward
from engine.ops.scalar_ops import add_scalar, mul_scalar, sub_scalar
from engine.registry import internal_node
from engine.tensor import Tensor

_GELU = internal_node("GeluBackwardBackward0")
_SOFTPLUS = internal_node("SoftplusBackwardBackward0")
_LOG_SIGMOID = internal_node("LogSigmoidBackwardBackward0")
_LEAKY_RELU = internal_node("LeakyReluBackwardBackward0")
_ELU = internal_node("EluBackwardBackward0")
_HARDTANH = internal_node("HardtanhBackwardBackward0")
_SOFTMAX = internal_node("SoftmaxBackwardDataBackward0")
_LOG_SOFTMAX = internal_node("LogSoftmaxBackwardDataBackward0")
_COSH = internal_node("CoshBackward0")
_SINH = internal_node("SinhBackward0")

SQRT1_2 = 1 / math.sqrt(2.0)
_2_SQRTPI = 2 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
TANH_GELU_K = math.sqrt(2 / math.pi)  # tanh-approximate gelu: tanh(K * (x + C * x**3))
TANH_GELU_C = 0.044715


# ----- erf ------------------------------------------------------------------------------------
# numpy has no erf (and the backend may only use functions CuPy also has), so it is computed here
# in float64 from two expansions that need no table of coefficients:
#   |x| < 2.5: erf(x) = 2/sqrt(pi) e^(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)), all terms positive
#   |x| >= 2.5: erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), a continued
#   fraction evaluated from the bottom.
# Both are within a few ulp of the exact value (tests/engine/test_nn.py checks against math.erf).
_ERF_SPLIT = 2.5
_ERF_SERIES_TERMS = 45
_ERFC_FRACTION_DEPTH = 40


def erf_array(a: Any) -> Any:
    x = a.astype(xp.float64)
    ax = xp.abs(x)
    s = xp.minimum(ax, _ERF_SPLIT)
    term = s
    total = s
    two_s2 = 2 * s * s
    for n in range(_ERF_SERIES_TERMS):
        term = term * two_s2 / (2 * n + 3)
        total = total + term
    near = _2_SQRTPI * xp.exp(-s * s) * total
    c = xp.maximum(ax, _ERF_SPLIT)
    frac = c
    for k in range(_ERFC_FRACTION_DEPTH, 0, -1):
        frac = c + (k / 2) / frac
    far = 1 - xp.exp(-c * c) / (math.sqrt(math.pi) * frac)
    out = xp.copysign(xp.where(ax < _ERF_SPLIT, near, far), x)
    return out.astype(a.dtype)


def zeros_for(g: Tensor) -> Tensor:
    """torch's ``zeros_like(grad)``: the gradient of a backward whose slope does not depend on its
    input (leaky_relu, hardtanh, nll_loss): zeros, with no history."""
    return Tensor(xp.zeros_like(g._data))


def _mask(cond: Any, like: Tensor) -> Tensor:
    """A comparison's result as a constant tensor of ``like``'s dtype (torch's ``.type_as``)."""
    return Tensor(cond.astype(like._data.dtype))


# ----- gelu -----------------------------------------------------------------------------------
def gelu_backward(g: Tensor, x: Tensor, approximate: str) -> Tensor:
    a, gd = x._data, g._data
    if approximate == "tanh":
        t = xp.tanh((a + a * a * a * TANH_GELU_C) * TANH_GELU_K)
        inner = (a * a * (3 * TANH_GELU_C) + 1) * TANH_GELU_K
        out = gd * ((t + 1) * 0.5 + a * 0.5 * (1 - t * t) * inner)
    else:
        cdf = (erf_array(a * SQRT1_2) + 1) * 0.5
        pdf = xp.exp(a * a * -0.5) * _INV_SQRT_2PI
        out = gd * (cdf + a * pdf)
    return record(out, _GELU, _gelu_backward_vjp, (g, x), saved=(g, x), attrs=approximate)


def _gelu_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, x = node.saved()
    return (gelu_backward(gg, x, node.attrs) if node.needs(0) else None,
            ops.mul(ops.mul(gg, g), _gelu_second(x, node.attrs)) if node.needs(1) else None)


def _gelu_second(x: Tensor, approximate: str) -> Tensor:
    """gelu''(x), in the steps of torch's gelu_double_backward."""
    if approximate != "tanh":
        x_sq = ops.mul(x, x)
        pdf = mul_scalar(ops.exp(mul_scalar(x_sq, -0.5)), _INV_SQRT_2PI)
        return ops.sub(mul_scalar(pdf, 2.0), ops.mul(x_sq, pdf))
    # gelu = f * (1 + tanh(u)) with f = x / 2: gelu'' = 2 f' g h + f g' h + f g h', g = sech(u)**2,
    # h = u'
    inner = mul_scalar(ops.add(x, mul_scalar(ops.pow(x, 3), TANH_GELU_C)), TANH_GELU_K)
    tanh_inner = ops.tanh(inner)
    sech = ops.div(1.0, _cosh(inner))
    f = mul_scalar(x, 0.5)
    g = ops.sub(1.0, ops.mul(tanh_inner, tanh_inner))
    h = mul_scalar(add_scalar(ops.mul(mul_scalar(x, 3 * TANH_GELU_C), x), 1.0), TANH_GELU_K)
    f_prime_gh = mul_scalar(ops.mul(mul_scalar(g, 0.5), h), 2.0)
    g_prime = ops.mul(ops.mul(mul_scalar(sech, 2.0), ops.mul(ops.neg(sech), tanh_inner)), h)
    h_prime = mul_scalar(mul_scalar(x, 6 * TANH_GELU_C), TANH_GELU_K)
    return ops.add(ops.add(f_prime_gh, ops.mul(ops.mul(f, h), g_prime)),
                   ops.mul(ops.mul(f, g), h_prime))


def _cosh(x: Tensor) -> Tensor:
    """cosh, which torch's tanh-gelu double backward uses (not an op of the catalog)."""
    return record(xp.cosh(x._data), _COSH, _cosh_vjp, (x,), saved=(x,))


def _cosh_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()
    return (ops.mul(g, _sinh(x)),)


def _sinh(x: Tensor) -> Tensor:
    return record(xp.sinh(x._data), _SINH, _sinh_vjp, (x,), saved=(x,))


def _sinh_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()
    return (ops.mul(g, _cosh(x)),)


# ----- softplus, logsigmoid -------------------------------------------------------------------
def softplus_backward(g: Tensor, x: Tensor, beta: float, threshold: float) -> Tensor:
    bx = x._data * beta
    gd = g._data
    out = xp.where(bx > threshold, gd, gd * (1 / (1 + xp.exp(-bx))))
    return record(out.astype(gd.dtype), _SOFTPLUS, _softplus_backward_vjp, (g, x), saved=(g, x),
                  attrs=(beta, threshold))


def _softplus_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, x = node.saved()
    beta, threshold = node.attrs
    gx = None
    if node.needs(1):  # torch's softplus_double_backward(gg * g, x, beta, threshold)
        s = ops.sigmoid(mul_scalar(x, beta))
        below = _mask(x._data * beta < threshold, gg)
        gx = mul_scalar(ops.mul(sigmoid_backward(ops.mul(gg, g), s), below), beta)
    return (softplus_backward(gg, x, beta, threshold) if node.needs(0) else None, gx)


def log_sigmoid_backward(g: Tensor, x: Tensor) -> Tensor:
    out = g._data * (1 / (1 + xp.exp(x._data)))  # g * sigmoid(-x)
    return record(out, _LOG_SIGMOID, _log_sigmoid_backward_vjp, (g, x), saved=(g, x))


def _log_sigmoid_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, x = node.saved()
    gx = None
    if node.needs(1):  # torch's log_sigmoid_double_backward(gg * g, x)
        s = ops.sigmoid(x)
        gx = ops.mul(ops.mul(ops.mul(gg, g), sub_scalar(s, 1.0)), s)
    return (log_sigmoid_backward(gg, x) if node.needs(0) else None, gx)


# ----- piecewise: leaky_relu, elu, hardtanh -----------------------------------------------------
def leaky_relu_backward(g: Tensor, x: Tensor, negative_slope: float) -> Tensor:
    gd = g._data
    out = xp.where(x._data > 0, gd, gd * negative_slope).astype(gd.dtype)
    return record(out, _LEAKY_RELU, _leaky_relu_backward_vjp, (g, x), saved=(x,),
                  attrs=negative_slope)


def _leaky_relu_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()
    return (leaky_relu_backward(gg, x, node.attrs) if node.needs(0) else None,
            zeros_for(gg) if node.needs(1) else None)


def elu_backward(g: Tensor, x: Tensor, alpha: float, scale: float) -> Tensor:
    a, gd = x._data, g._data
    out = xp.where(a > 0, gd * scale, gd * (xp.exp(xp.minimum(a, 0)) * (alpha * scale)))
    return record(out.astype(gd.dtype), _ELU, _elu_backward_vjp, (g, x), saved=(g, x),
                  attrs=(alpha, scale))


def _elu_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, x = node.saved()
    alpha, scale = node.attrs
    gx = None
    if node.needs(1):  # torch's elu_double_backward: the slope's own slope lives where x < 0
        scaled = mul_scalar(ops.mul(gg, g), 1.0)  # (times input_scale, 1 here)
        gx = ops.mul(elu_backward(scaled, x, alpha, scale), _mask(x._data < 0, gg))
    return (elu_backward(gg, x, alpha, scale) if node.needs(0) else None, gx)


def hardtanh_backward(g: Tensor, x: Tensor, min_val: float, max_val: float) -> Tensor:
    a, gd = x._data, g._data
    out = xp.where((a > min_val) & (a < max_val), gd, 0).astype(gd.dtype)  # (+0 outside, as torch)
    return record(out, _HARDTANH, _hardtanh_backward_vjp, (g, x), saved=(x,),
                  attrs=(min_val, max_val))


def _hardtanh_backward_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()
    return (hardtanh_backward(gg, x, *node.attrs) if node.needs(0) else None,
            zeros_for(gg) if node.needs(1) else None)


# ----- softmax / log_softmax: differentiated in their output ---------------------------------
def softmax_backward_data(g: Tensor, y: Tensor, dim: int) -> Tensor:
    gd, yd = g._data, y._data  # y * (g - sum(g * y)), in the steps of torch's kernel
    gy = gd * yd
    out = yd * (gd - (xp.sum(gy, axis=dim, keepdims=True) if gy.ndim else gy))
    return record(out, _SOFTMAX, _softmax_backward_data_vjp, (g, y), saved=(g, y), attrs=dim)


def _softmax_backward_data_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, y = node.saved()
    d = node.attrs
    gy = None
    if node.needs(1):  # torch's softmax_double_backward
        gy = ops.sub(ops.sub(ops.mul(g, gg), ops.mul(ops.sum(ops.mul(y, g), d, keepdim=True), gg)),
                     ops.mul(g, ops.sum(ops.mul(y, gg), d, keepdim=True)))
    return (softmax_backward_data(gg, y, d) if node.needs(0) else None, gy)


def log_softmax_backward_data(g: Tensor, y: Tensor, dim: int) -> Tensor:
    gd = g._data
    total = xp.sum(gd, axis=dim, keepdims=True) if gd.ndim else gd
    return record(gd - xp.exp(y._data) * total, _LOG_SOFTMAX, _log_softmax_backward_data_vjp,
                  (g, y), saved=(g, y), attrs=dim)


def _log_softmax_backward_data_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    g, y = node.saved()
    d = node.attrs
    gg_g = ops.sub(gg, ops.sum(ops.mul(gg, ops.exp(y)), d, keepdim=True)) if node.needs(0) else None
    gy = (ops.mul(ops.mul(ops.neg(ops.sum(g, d, keepdim=True)), ops.exp(y)), gg)
          if node.needs(1) else None)
    return gg_g, gy
