"""The double backward of layer_norm and batch_norm, as torch's layer_norm_double_backward and
batchnorm_double_backward compute it (so the graph a create_graph backward records through
NativeLayerNormBackwardBackward0 / NativeBatchNormBackwardBackward0 is torch's).

Each takes the saved input, gamma (the weight, or None), the incoming gradients of the first
backward's three outputs (ggI, ggG, ggB; None where none came), the first backward's grad_output
gO and the statistics as constant tensors, and returns (gI, gG, ggO): the gradients of the input,
of gamma and of grad_output. torch writes some steps in place (``div_``, ``add_``); out of place
they record the same nodes. A C++ number times a tensor is the Scalar overload (MulBackward1,
DivBackward1), hence the scalar_ops helpers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from engine import ops
from engine.errors import AutogradError
from engine.ops.scalar_ops import div_scalar, mul_scalar
from engine.tensor import Tensor

__all__ = ["batch_norm_double_backward", "layer_norm_double_backward"]

Grads = tuple[Tensor | None, Tensor | None, Tensor | None]


# torch's error where a gradient for the bias came but no weight was given: its bias term is then
# an undefined tensor, which adding to a defined one refuses (alone it stays undefined)
UNDEFINED_OTHER = ("Expected a proper Tensor but got None (or an undefined Tensor in C++) for "
                   "argument #1 'other'")


def _add(a: Tensor | None, b: Tensor) -> Tensor:
    return b if a is None else a + b


def _add_bias_term(ggo: Tensor | None, ggb_e: Tensor | None, ggb: Tensor | None) -> Tensor | None:
    if ggb_e is not None:
        return _add(ggo, ggb_e)
    if ggb is not None and ggo is not None:
        raise AutogradError(UNDEFINED_OTHER)
    return ggo


def _sum_rows(t: Tensor) -> Tensor:
    return ops.sum(t, [1], keepdim=True)


def _first_backward(go: Tensor, gamma: Tensor, sub_mu: Tensor, s12: Tensor, s1: Tensor, count: int,
                    reduce: Callable[[Tensor], Tensor]) -> Tensor:
    """The first backward's input gradient, rebuilt from ``go`` (torch's first_bwd_fn_grad_input
    in both functions; ``reduce`` sums over the normalised elements, ``count`` of them)."""
    h0 = div_scalar(gamma * s12, count)
    h1 = mul_scalar(go, count) - reduce(go) - ops.mul(sub_mu, s1) * reduce(go * sub_mu)
    return h0 * h1


def layer_norm_double_backward(x: Tensor, gamma: Tensor | None, ggi: Tensor | None,
                               ggg: Tensor | None, ggb: Tensor | None, go_t: Tensor, mean: Tensor,
                               rstd: Tensor, k: int) -> Grads:
    """``k``: the number of normalised (trailing) dims; ``mean``/``rstd``: one per row."""
    m = math.prod(x.shape[:x.ndim - k])
    n = math.prod(x.shape[x.ndim - k:])
    inp = ops.reshape(x, [m, n])
    go = ops.reshape(go_t, [m, n])
    mu = ops.reshape(mean, [m, 1])
    s12 = ops.reshape(rstd, [m, 1])
    affine = gamma is not None
    ggg_e = ggb_e = None
    if gamma is not None:
        gamma_e = ops.reshape(gamma, [1, n])
        ggg_e = ops.reshape(ggg, [1, n]) if ggg is not None else None
        ggb_e = ops.reshape(ggb, [1, n]) if ggb is not None else None
    else:
        gamma_e = ops.ones([1], dtype=x.dtype.name)
    ggi_e = ops.reshape(ggi, [m, n]) if ggi is not None else None
    sub_mu = inp - mu
    s1 = ops.pow(s12, 2)
    s32 = ops.pow(s12, 3)
    mu_s32 = sub_mu * s32
    gi = None
    if ggi_e is not None:
        gxhat = go * gamma_e
        gxhat_mu_sum = _sum_rows(gxhat * sub_mu)
        gxhat_sum = _sum_rows(gxhat)
        ggi_sum = _sum_rows(ggi_e)
        ggi_mu_sum = _sum_rows(ggi_e * sub_mu)
        all_sub = (div_scalar(ggi_sum * gxhat_sum, n) - _sum_rows(ggi_e * gxhat)
                   + mul_scalar(s1 * gxhat_mu_sum * ggi_mu_sum, 3.0 / n))
        gi_0 = div_scalar(mu_s32 * all_sub, n)
        gi_1 = div_scalar(ggi_mu_sum * s32, n) * (div_scalar(gxhat_sum, n) - gxhat)
        gi_2 = div_scalar(gxhat_mu_sum * s32, n) * (div_scalar(ggi_sum, n) - ggi_e)
        gi = gi_0 + gi_1 + gi_2
    if affine and ggg_e is not None:
        t0 = go * ggg_e * s12
        t1 = div_scalar(s12 * _sum_rows(go * ggg_e), -n)
        t2 = div_scalar(mu_s32 * _sum_rows(go * ggg_e * sub_mu), -n)
        gi = _add(gi, t0 + t1 + t2)
    if gi is not None:
        gi = ops.reshape(gi, list(x.shape))

    def first_backward(go_local: Tensor, gamma_local: Tensor) -> Tensor:
        return _first_backward(go_local, gamma_local, sub_mu, s12, s1, n, _sum_rows)

    gg = None
    if gamma is not None and ggi_e is not None:
        gg = first_backward(ggi_e, ops.ones([], dtype=x.dtype.name))
        gg = ops.reshape(ops.sum(go * gg, [0]), list(gamma.shape))
    ggo = first_backward(ggi_e, gamma_e) if ggi_e is not None else None
    if ggg_e is not None:
        ggo = _add(ggo, ggg_e * sub_mu * s12)
    ggo = _add_bias_term(ggo, ggb_e, ggb)
    if ggo is not None:
        ggo = ops.reshape(ops.expand(ggo, [m, n]), list(x.shape))
    return gi, gg, ggo


def _sum_except_channels(t: Tensor, keepdim: bool = True) -> Tensor:
    """torch's sum_exclude_dim1: over dim 0, then each dim after 1, last first."""
    r = ops.sum(t, [0], keepdim=keepdim)
    stop = 1 if keepdim else 0
    for d in range(r.ndim - 1, stop, -1):
        r = ops.sum(r, [d], keepdim=keepdim)
    return r


def _expand_as_channels(src: Tensor, target: Tensor) -> Tensor:
    """torch's expand_as_dim1: a per-channel vector unsqueezed and expanded over target."""
    while src.ndim < target.ndim - 1:
        src = ops.unsqueeze(src, 1)
    return ops.expand(src, list(target.shape))


def batch_norm_double_backward(x: Tensor, gamma: Tensor | None, ggi: Tensor | None,
                               ggg: Tensor | None, ggb: Tensor | None, go: Tensor, mean: Tensor,
                               invstd: Tensor, training: bool) -> Grads:
    """``mean``/``invstd``: per channel, shaped to broadcast over x (batch or running ones)."""
    affine = gamma is not None
    ggg_e = ggb_e = None
    if gamma is not None:
        gamma_e = _expand_as_channels(gamma, x)
        ggg_e = _expand_as_channels(ggg, x) if ggg is not None else None
        ggb_e = _expand_as_channels(ggb, x) if ggb is not None else None
    else:
        gamma_e = ops.ones([], dtype=x.dtype.name)
    m = x.shape[0] * math.prod(x.shape[2:])
    sub_mu = x - mean
    s12 = invstd
    s1 = ops.pow(s12, 2)
    s32 = ops.pow(s12, 3)
    mu_s32 = sub_mu * s32
    go_mu_sum = _sum_except_channels(go * sub_mu)
    go_sum = _sum_except_channels(go)
    gi = None
    if ggi is not None and training:
        ggi_sum = _sum_except_channels(ggi)
        ggi_mu_sum = _sum_except_channels(ggi * sub_mu)
        all_sub = (div_scalar(ggi_sum * go_sum, m) - _sum_except_channels(go * ggi)
                   + mul_scalar(s1 * go_mu_sum * ggi_mu_sum, 3.0 / m))
        gi_0 = div_scalar(mu_s32 * all_sub, m)
        gi_1 = div_scalar(ggi_mu_sum * s32, m) * (div_scalar(go_sum, m) - go)
        gi_2 = div_scalar(go_mu_sum * s32, m) * (div_scalar(ggi_sum, m) - ggi)
        gi = gamma_e * (gi_0 + gi_1 + gi_2)
    if affine and ggg_e is not None:
        if training:
            t0 = go * s12
            t1 = div_scalar(s12 * go_sum, -m)
            t2 = div_scalar(mu_s32 * _sum_except_channels(go * sub_mu), -m)
            gi = _add(gi, ggg_e * (t0 + t1 + t2))
        else:
            gi = _add(gi, ggg_e * s12 * go)

    def first_backward(go_local: Tensor, gamma_local: Tensor) -> Tensor:
        return _first_backward(go_local, gamma_local, sub_mu, s12, s1, m, _sum_except_channels)

    gg = None
    if affine and ggi is not None:
        if training:
            gg = _sum_except_channels(ggi * first_backward(go, ops.ones([], dtype=x.dtype.name)),
                                      False)
        else:
            gg = _sum_except_channels(ggi * go * s12, False)
    ggo = None
    if ggi is not None:
        ggo = first_backward(ggi, gamma_e) if training else ggi * s12 * gamma_e
    if ggg_e is not None:
        ggo = _add(ggo, ggg_e * sub_mu * s12)
    return gi, gg, _add_bias_term(ggo, ggb_e, ggb)

