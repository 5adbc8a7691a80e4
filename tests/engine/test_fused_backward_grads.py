"""The first derivatives torch computes in one backward kernel (engine/ops/activation_grads.py,
engine/ops/loss_grads.py) as differentiable ops of their own.

The second-order golden family (test_second_order_goldens.py, with its "seeded" twins whose
incoming gradient requires grad) compares their graphs and values with torch's. Here the same
derivatives are checked against finite differences in float64, independently of torch: in the
op's inputs (gradgradcheck) and in the incoming gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine.gradcheck import gradcheck, gradgradcheck

F = ge.ops

# Inputs kept well away from every kink (0, hardtanh's bounds, softplus's threshold, smooth_l1's
# beta, huber's delta), so finite differences see a smooth function.
X = [[-1.7, -0.93, -0.31, 0.22], [0.64, 1.13, -0.047, 1.81], [-0.58, 0.36, 2.3, -1.26]]
T = [[-0.2, 0.81, -0.9, 0.13], [1.5, 0.07, 0.3, -1.1], [0.05, -0.75, 1.2, 0.4]]
P = [[0.12, 0.55, 0.83, 0.31], [0.67, 0.24, 0.91, 0.46], [0.38, 0.72, 0.09, 0.59]]
PT = [[0.3, 0.9, 0.1, 0.5], [0.7, 0.2, 0.6, 0.4], [0.8, 0.05, 0.35, 0.65]]
W = [[0.5, 1.2, 0.8, 1.0], [0.3, 0.9, 1.4, 0.6], [1.1, 0.7, 0.2, 1.3]]


def f64(values: Any, requires_grad: bool = True) -> ge.Tensor:
    return ge.tensor(values, dtype="float64", requires_grad=requires_grad)


ONE_INPUT: dict[str, Callable[[ge.Tensor], ge.Tensor]] = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "softplus": lambda x: F.softplus(x, 2, 1.5),
    "logsigmoid": F.logsigmoid,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "elu": lambda x: F.elu(x, 0.7),
    "selu": F.selu,
    "hardtanh": lambda x: F.hardtanh(x, -0.5, 0.5),
    "softmax": lambda x: F.softmax(x, 1),
    "log_softmax": lambda x: F.log_softmax(x, 1),
    "erf": F.erf,
    "nll_loss": lambda x: F.nll_loss(F.log_softmax(x, 1), ge.tensor([0, 3, 1]),
                                     f64([0.5, 2.0, 1.0, 0.7], requires_grad=False)),
}

TWO_INPUTS: dict[str, tuple[Callable[[ge.Tensor, ge.Tensor], ge.Tensor], Any, Any]] = {
    "mse_loss": (F.mse_loss, X, T),
    "mse_loss_none": (lambda a, b: F.mse_loss(a, b, reduction="none"), X, T),
    "smooth_l1_loss": (lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), X, T),
    "huber_loss_sum": (lambda a, b: F.huber_loss(a, b, reduction="sum", delta=0.5), X, T),
    "huber_loss_mean": (lambda a, b: F.huber_loss(a, b, delta=0.5), X, T),
    "binary_cross_entropy": (lambda a, b: F.binary_cross_entropy(a, b, f64(W, False)), P, PT),
    "bce_with_logits": (lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, f64(W, False), pos_weight=f64([0.5, 1.5, 2.0, 0.8], False)), X, PT),
}


def _through_grad_output(fn: Callable[..., ge.Tensor], inputs: list[ge.Tensor]
                         ) -> Callable[[ge.Tensor], ge.Tensor]:
    """v -> the first derivative of fn at ``inputs`` with incoming gradient v, dotted with fixed
    weights: its gradient in v is the backward node's VJP in its grad input."""
    rng = np.random.default_rng(3)
    weights = [ge.tensor(rng.standard_normal(x.shape), dtype="float64") for x in inputs]

    def first(v: ge.Tensor) -> ge.Tensor:
        gs = ge.grad([fn(*inputs)], inputs, [v], create_graph=True)
        return sum(((g * w).sum() for g, w in zip(gs, weights, strict=True)), f64(0.0, False))

    return first


@pytest.mark.parametrize("name", ONE_INPUT)
def test_one_input_second_derivatives(name: str) -> None:
    fn = ONE_INPUT[name]
    x = f64(X)
    assert gradgradcheck(fn, [x])
    v = f64(np.random.default_rng(1).standard_normal(fn(x).shape).tolist())
    assert gradcheck(_through_grad_output(fn, [x]), [v])


@pytest.mark.parametrize("name", TWO_INPUTS)
def test_loss_second_derivatives(name: str) -> None:
    fn, a, b = TWO_INPUTS[name]
    x, t = f64(a), f64(b)
    assert gradgradcheck(fn, [x, t])
    v = f64(np.random.default_rng(2).standard_normal(fn(x, t).shape).tolist())
    assert gradcheck(_through_grad_output(fn, [x, t]), [v])
