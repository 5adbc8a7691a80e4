"""Activations with torch.nn.functional's names and arguments, erf, and softmax / log_softmax.

Each forward computes on backend arrays and records torch's grad_fn. Each VJP records what torch's
derivative formula records under ``create_graph``: where torch differentiates through a fused
backward kernel (gelu_backward, ...) that is one op of engine/ops/activation_grads.py; where its
formula is composite (erf, silu) the same engine ops in the same order.
"""

from __future__ import annotations

import math
from typing import Any

from engine import dtypes, ops
from engine.backend import xp
from engine.dims import wrap_dim
from engine.errors import ArgumentError, DTypeError
from engine.graph import Node
from engine.ops import activation_grads as grads
from engine.ops.activation_grads import SQRT1_2, TANH_GELU_C, TANH_GELU_K, erf_array
from engine.ops.core import OUT, check_tensor, floating, record
from engine.ops.scalar_ops import add_scalar, mul_scalar
from engine.registry import A, T, defop
from engine.tensor import Tensor

__all__ = ["elu", "erf", "gelu", "hardtanh", "leaky_relu", "log_softmax", "logsigmoid", "selu",
           "silu", "softmax", "softplus"]

_ACT = "activation"
_2_SQRTPI = 2 / math.sqrt(math.pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946



def float_input(input: Any, op: str, kernel: str) -> Any:
    """``input``'s array; integral inputs are refused with the message of torch's CPU kernel."""
    check_tensor(input, op)
    if not input.dtype.is_floating_point:
        raise DTypeError(f'"{kernel}" not implemented for \'{input.dtype.scalar_type}\'')
    return input._data


@defop("erf", [T()], grad_fns="ErfBackward0", doc="The error function (integer inputs give floats).",
       category="elementwise")
def erf(input: Tensor) -> Tensor:
    check_tensor(input, "erf")
    return record(erf_array(floating(input)), erf.op.grad_fn, _erf_vjp, (input,), saved=(input,))


def _erf_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()  # torch: 2 / sqrt(pi) * exp(-(x.pow(2))) * grad
    return (ops.mul(mul_scalar(ops.exp(ops.neg(ops.pow(x, 2))), _2_SQRTPI), g),)


# ----- gelu, silu, softplus, logsigmoid ------------------------------------------------------
@defop("gelu", [T(), A("approximate", "choice", "none", choices=("none", "tanh"))],
       grad_fns="GeluBackward0",
       doc="x * Phi(x) (Phi the standard normal CDF); approximate='tanh' uses the tanh formula.",
       category=_ACT, method=False)
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    a = float_input(input, "gelu", "GeluKernelImpl")
    if approximate not in ("none", "tanh"):
        raise ArgumentError("approximate argument must be either none or tanh.")
    if approximate == "tanh":
        out = 0.5 * a * (1 + xp.tanh(TANH_GELU_K * (a + TANH_GELU_C * a * a * a)))
    else:
        out = 0.5 * a * (1 + erf_array(a * SQRT1_2))
    return record(out.astype(a.dtype), gelu.op.grad_fn, _gelu_vjp, (input,), saved=(input,),
                  attrs=approximate)


def _gelu_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (grads.gelu_backward(g, node.saved()[0], node.attrs),)


@defop("silu", [T()], grad_fns="SiluBackward0", doc="x * sigmoid(x) (swish).", category=_ACT,
       method=False)
def silu(input: Tensor) -> Tensor:
    a = float_input(input, "silu", "silu_cpu")
    return record(a / (1 + xp.exp(-a)), silu.op.grad_fn, _silu_vjp, (input,), saved=(input,))


def _silu_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    (x,) = node.saved()  # torch's infinitely_differentiable_silu_backward:
    s = ops.sigmoid(x)  # grad * s * (1 + x * (1 - s)), its right factor built first, as torch's
    right = add_scalar(ops.mul(x, ops.sub(1.0, s)), 1.0)  # compiled C++ does (which decides the
    return (ops.mul(ops.mul(g, s), right),)  # order in which s's two gradients are added)


@defop("softplus", [T(), A("beta", "number", 1), A("threshold", "number", 20)],
       grad_fns="SoftplusBackward0",
       doc="log(1 + exp(beta * x)) / beta; x itself where beta * x > threshold.", category=_ACT,
       method=False)
def softplus(input: Tensor, beta: float = 1, threshold: float = 20) -> Tensor:
    a = float_input(input, "softplus", "softplus_cpu")
    bx = a * beta
    out = xp.where(bx > threshold, a, xp.log1p(xp.exp(bx)) / beta)
    return record(out.astype(a.dtype), softplus.op.grad_fn, _softplus_vjp, (input,),
                  saved=(input,), attrs=(beta, threshold))


def _softplus_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (grads.softplus_backward(g, node.saved()[0], *node.attrs),)


@defop("logsigmoid", [T()], grad_fns="LogSigmoidBackward0",
       doc="log(sigmoid(x)), computed without overflow.", category=_ACT, method=False,
       aliases=("log_sigmoid",))
def logsigmoid(input: Tensor) -> Tensor:
    a = float_input(input, "logsigmoid", "log_sigmoid_cpu")
    out = xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))
    return record(out.astype(a.dtype), logsigmoid.op.grad_fn, _logsigmoid_vjp, (input,),
                  saved=(input,))


def _logsigmoid_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (grads.log_sigmoid_backward(g, node.saved()[0]),)


# ----- piecewise: leaky_relu, elu / selu, hardtanh -------------------------------------------
@defop("leaky_relu", [T(), A("negative_slope", "number", 0.01)], grad_fns="LeakyReluBackward0",
       doc="x where x > 0, else negative_slope * x.", category=_ACT, method=False)
def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    a = float_input(input, "leaky_relu", "leaky_relu_cpu")
    out = xp.where(a > 0, a, a * negative_slope).astype(a.dtype)
    return record(out, leaky_relu.op.grad_fn, _leaky_relu_vjp, (input,), saved=(input,),
                  attrs=negative_slope)


def _leaky_relu_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (grads.leaky_relu_backward(g, node.saved()[0], node.attrs),)


def _elu(input: Tensor, op: str, alpha: float, scale: float) -> Tensor:
    """scale * (x if x > 0 else alpha * (exp(x) - 1)); selu is elu with fixed alpha and scale."""
    a = float_input(input, op, "elu_cpu")
    out = scale * xp.where(a > 0, a, alpha * xp.expm1(xp.minimum(a, 0)))
    return record(out.astype(a.dtype), elu.op.grad_fn, _elu_vjp, (input,), saved=(input,),
                  attrs=(alpha, scale))


def _elu_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (grads.elu_backward(g, node.saved()[0], *node.attrs),)


@defop("elu", [T(), A("alpha", "number", 1.0)], grad_fns="EluBackward0",
       doc="x where x > 0, else alpha * (exp(x) - 1).", category=_ACT, method=False)
def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _elu(input, "elu", alpha, 1.0)


@defop("selu", [T()], grad_fns="EluBackward0",
       doc="scale * elu(x, alpha) with the self-normalising constants.", category=_ACT,
       method=False)
def selu(input: Tensor) -> Tensor:
    return _elu(input, "selu", _SELU_ALPHA, _SELU_SCALE)


@defop("hardtanh", [T(), A("min_val", "number", -1.0), A("max_val", "number", 1.0)],
       grad_fns="HardtanhBackward0",
       doc="x clamped to [min_val, max_val]; gradient 0 at and beyond the bounds.", category=_ACT,
       method=False)
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    check_tensor(input, "hardtanh")
    if input.dtype is dtypes.bool_:
        raise DTypeError("Bool inputs not supported for hardtanh")
    if min_val > max_val:
        raise ArgumentError("min_val cannot be greater than max_val")
    a = input._data
    out = xp.minimum(xp.maximum(a, min_val), max_val).astype(a.dtype)
    return record(out, hardtanh.op.grad_fn, _hardtanh_vjp, (input,), saved=(input,),
                  attrs=(min_val, max_val))


def _hardtanh_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (grads.hardtanh_backward(g, node.saved()[0], *node.attrs),)


# ----- softmax / log_softmax ----------------------------------------------------------------
def _softmax_dim(dim: int | None, ndim: int) -> int:
    """torch's choice when dim is None (deprecated but still accepted): 0 for 0-, 1- and 3-d input,
    else 1."""
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
    return wrap_dim(dim, ndim)


def _softmax_input(input: Tensor, op: str, dim: int | None, dtype: str | None
                   ) -> tuple[Tensor, int]:
    """The (converted) input and the dim; integral inputs are refused as torch's kernel does."""
    check_tensor(input, op)
    d = _softmax_dim(dim, input.ndim)
    if dtype is not None:
        input = ops.to(input, dtype)  # torch converts first: ToCopyBackward0 under the node
    kernel = f"{op}_lastdim_kernel_impl" if d == max(input.ndim - 1, 0) else f"{op}_kernel_impl"
    float_input(input, op, kernel)
    return input, d


def _shifted(a: Any, d: int) -> Any:
    """a minus its max along d, so exp never overflows (an all -inf slice stays NaN, as in torch)."""
    if a.ndim == 0 or a.size == 0:  # (an empty input has no max; its softmax is empty too)
        return a - a
    return a - xp.max(a, axis=d, keepdims=True)


@defop("softmax", [T(), A("dim", "int", None, optional=True), A("dtype", "dtype", None, optional=True)],
       grad_fns="SoftmaxBackward0", doc="exp(x) / sum(exp(x)) along dim.", category=_ACT)
def softmax(input: Tensor, dim: int | None = None, dtype: str | None = None) -> Tensor:
    input, d = _softmax_input(input, "softmax", dim, dtype)
    e = xp.exp(_shifted(input._data, d))
    out = e / (xp.sum(e, axis=d, keepdims=True) if e.ndim else e)
    return record(out, softmax.op.grad_fn, _softmax_vjp, (input,), saved=(OUT,), attrs=d)


def _softmax_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (grads.softmax_backward_data(g, node.saved()[0], node.attrs),)


@defop("log_softmax", [T(), A("dim", "int", None, optional=True),
                       A("dtype", "dtype", None, optional=True)],
       grad_fns="LogSoftmaxBackward0", doc="log(softmax(x)) along dim, computed stably.",
       category=_ACT)
def log_softmax(input: Tensor, dim: int | None = None, dtype: str | None = None) -> Tensor:
    input, d = _softmax_input(input, "log_softmax", dim, dtype)
    z = _shifted(input._data, d)
    out = z - (xp.log(xp.sum(xp.exp(z), axis=d, keepdims=True)) if z.ndim else xp.log(xp.exp(z)))
    return record(out, log_softmax.op.grad_fn, _log_softmax_vjp, (input,), saved=(OUT,), attrs=d)


def _log_softmax_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (grads.log_softmax_backward_data(g, node.saved()[0], node.attrs),)
