"""Layers with torch.nn.functional's names and graphs: linear, layer_norm, batch_norm, dropout and
embedding (conv and pooling live in conv.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine import backend, context, dtypes, ops
from engine.backend import xp
from engine.dims import wrap_dim
from engine.errors import ArgumentError, DTypeError, ShapeError
from engine.grad_mode import set_grad_enabled
from engine.graph import Node, keeps_missing
from engine.ops.core import check_alloc, check_tensor, record, record_multi
from engine.ops.linalg import column_major, mm, mm_mat1_backward, mm_mat2_backward
from engine.ops.norm_backward import batch_norm_double_backward, layer_norm_double_backward
from engine.ops.shape import expanded_shape
from engine.registry import A, T, defop, internal_node
from engine.tensor import Tensor

__all__ = ["batch_norm", "dropout", "embedding", "layer_norm", "linear"]

_LAYER = "layer"
# the fused backward kernels of the two norms (what their backward records under create_graph)
_LAYER_NORM_BACKWARD = internal_node("NativeLayerNormBackwardBackward0")
_BATCH_NORM_BACKWARD = internal_node("NativeBatchNormBackwardBackward0")
_EMBEDDING_BACKWARD = internal_node("EmbeddingDenseBackwardBackward0")


def _size(shape: Sequence[int]) -> str:
    return f"[{', '.join(str(int(s)) for s in shape)}]"


# ----- linear -------------------------------------------------------------------------------
def _addmm(bias: Tensor, mat1: Tensor, mat2: Tensor) -> Tensor:
    """bias + mat1 @ mat2 as one node (AddmmBackward0, edges bias, mat1, mat2)."""
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if m.ndim != 2:
            raise ShapeError(f"{name} must be a matrix, got {m.ndim}-D tensor")
    for name, m in (("self", bias), ("mat1", mat1)):  # (addmm's dtype checks, in its order)
        if m.dtype is not mat2.dtype:
            raise DTypeError(f"{name} and mat2 must have the same dtype, but got "
                             f"{m.dtype.scalar_type} and {mat2.dtype.scalar_type}")
    with set_grad_enabled(False):
        product = mm(mat1, mat2)  # mm's checks and torch's messages; no node
    shape = product.shape
    if bias.ndim > 2:
        raise ShapeError(f"The expanded size of the tensor ({shape[-1]}) must match the existing size "
                         f"({bias.shape[-1] if bias.ndim else 1}) at non-singleton dimension 1.  "
                         f"Target sizes: {_size(shape)}.  Tensor sizes: {_size(bias.shape)}")
    expanded_shape(tuple(bias.shape), list(shape))  # torch's expand of bias, with its message
    return record(product._data + bias._data, linear.op.forms["AddmmBackward0"], _addmm_vjp,
                  (bias, mat1, mat2), saved=(mat1, mat2),
                  attrs=(column_major(mat1._data), column_major(mat2._data)))


def _addmm_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, b = node.saved()
    a_cols, b_cols = node.attrs
    return (g if node.needs(0) else None,  # summed to the bias's shape by the backward pass
            mm_mat1_backward(g, b, a_cols) if node.needs(1) else None,
            mm_mat2_backward(g, a, b_cols) if node.needs(2) else None)


@defop("linear", [T(), T("weight"), T("bias", default=None, optional=True)],
       grad_fns=("AddmmBackward0", "MmBackward0", "ViewBackward0", "AddBackward0",
                 "UnsafeViewBackward0", "MvBackward0"),
       doc="input @ weight.T + bias, over the last dim of input; torch's graph (an addmm on "
           "2-d or contiguous input).", category=_LAYER, method=False)
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    check_tensor(input, "linear")
    check_tensor(weight, "linear", "weight")
    if input.ndim == 0 or weight.ndim == 0:
        raise ShapeError("both arguments to linear need to be at least 1D, but they are "
                         f"{input.ndim}D and {weight.ndim}D")
    if bias is None:
        return ops.matmul(input, ops.t(weight))
    check_tensor(bias, "linear", "bias")
    if input.ndim == 2:
        return _addmm(bias, input, ops.t(weight))
    if input.ndim >= 1 and bias.ndim == 1 and input._data.flags.c_contiguous:
        # torch flattens contiguous input to 2-d for one addmm, then views the result back
        rows = math.prod(input.shape[:-1])
        out = _addmm(bias, ops.reshape(input, [rows, input.shape[-1]]), ops.t(weight))
        return ops.view(out, [*input.shape[:-1], out.shape[1]])
    return ops.matmul(input, ops.t(weight)) + bias


# ----- layer_norm / batch_norm ----------------------------------------------------------------
# Both normalise x over ``stat_dims`` to xhat = (x - mean) * rstd and return xhat * weight + bias.
# Their VJP is one function: with batch statistics (layer_norm, batch_norm in training) the mean and
# rstd depend on x and are recomputed from it with engine ops; with running statistics they are
# constants.  Gradients of weight and bias sum over ``param_dims``.
def _norm_forward(x: Any, stat_dims: tuple[int, ...], eps: float, running: Any) -> tuple[Any, Any]:
    """xhat and the biased variance (None with running statistics)."""
    if running is None:
        mean = xp.mean(x, axis=stat_dims, keepdims=True)
        var = xp.var(x, axis=stat_dims, keepdims=True)
        return (x - mean) / xp.sqrt(var + eps), var
    mean, var = running
    return (x - mean) / xp.sqrt(var + eps), None


def _affine(xhat: Any, weight: Tensor | None, bias: Tensor | None, view: tuple[int, ...]) -> Any:
    out = xhat
    if weight is not None:
        out = out * weight._data.reshape(view)
    if bias is not None:
        out = out + bias._data.reshape(view)
    return out.astype(xhat.dtype)


def _norm_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    """torch's native_layer_norm_backward / native_batch_norm_backward: the three gradients as one
    fused node (NativeLayerNormBackwardBackward0 over grad_out, input, mean, rstd, weight, bias;
    NativeBatchNormBackwardBackward0 over grad_out, input, weight, save_mean, save_invstd; the
    statistics never take a gradient) whose VJP is torch's double backward (norm_backward.py)."""
    x, weight, *bias = node.saved()  # (layer_norm saves its bias too, as torch's does)
    _, _, view, _, _ = node.attrs
    layer = node.name() == layer_norm.op.grad_fn
    mask = (node.needs(0), node.needs(1), node.needs(2))
    with set_grad_enabled(False):
        grads = _norm_grads(node, g, x, weight, mask)
    param = tuple(view) if layer else (view[0],)
    datas = [t._data if t is not None else xp.broadcast_to(xp.zeros((), g._data.dtype), shape)
             for t, shape in zip(grads, (x.shape, param, param), strict=True)]
    if layer:
        inputs: tuple[Any, ...] = (g, x, None, None, weight, bias[0])
        name = _LAYER_NORM_BACKWARD
    else:
        inputs, name = (g, x, weight, None, None), _BATCH_NORM_BACKWARD
    outs = record_multi(datas, name, _norm_double_vjp, inputs, saved=(g, x, weight),
                        attrs=node.attrs)
    return tuple(o if t is not None else None for o, t in zip(outs, grads, strict=True))


@keeps_missing
def _norm_double_vjp(node: Node, grads: list[Tensor | None]) -> tuple[Any, ...]:
    g, x, weight = node.saved()
    stat_dims, _, _, eps, running = node.attrs
    mean, invstd = _statistics(x, stat_dims, eps, running)
    ggi, ggg, ggb = grads
    if node.name() == _LAYER_NORM_BACKWARD:
        gi, gg, ggo = layer_norm_double_backward(x, weight, ggi, ggg, ggb, g, mean, invstd,
                                                 len(stat_dims))
        return ggo, gi, None, None, gg, None
    gi, gg, ggo = batch_norm_double_backward(x, weight, ggi, ggg, ggb, g, mean, invstd,
                                             running is None)
    return ggo, gi, gg, None, None


def _statistics(x: Tensor, stat_dims: tuple[int, ...], eps: float, running: Any
                ) -> tuple[Tensor, Tensor]:
    """The mean and 1 / sqrt(var + eps) the forward normalised with, as constants."""
    if running is None:
        mean = xp.mean(x._data, axis=stat_dims, keepdims=True)
        var = xp.var(x._data, axis=stat_dims, keepdims=True)
    else:
        mean, var = running
    return Tensor(mean.astype(x._data.dtype)), Tensor((1 / xp.sqrt(var + eps)).astype(x._data.dtype))


def _norm_grads(node: Node, g: Tensor, x: Tensor, weight: Tensor | None,
                mask: tuple[bool, bool, bool]) -> tuple[Tensor | None, ...]:
    """The first backward's values: input, weight and bias gradients (where ``mask`` asks)."""
    stat_dims, param_dims, view, eps, running = node.attrs
    dims = list(stat_dims)
    mean, rstd = _statistics(x, stat_dims, eps, running)
    xhat = (x - mean) * rstd
    gx = gw = gb = None
    if mask[0]:
        gxhat = g if weight is None else g * ops.reshape(weight, list(view))
        if running is None:
            gxhat = (gxhat - ops.mean(gxhat, dims, keepdim=True)
                     - xhat * ops.mean(gxhat * xhat, dims, keepdim=True))
        gx = gxhat * rstd
    if mask[1] and weight is not None:
        gw = _sum_over(g * xhat, param_dims, weight.shape)
    if mask[2]:
        gb = _sum_over(g, param_dims, weight.shape if weight is not None else None)
    return gx, gw, gb


def _sum_over(t: Tensor, dims: tuple[int, ...], shape: Any) -> Tensor:
    if dims:
        t = ops.sum(t, list(dims))
    return t if shape is None or t.shape == tuple(shape) else ops.reshape(t, list(shape))


def _check_float(t: Tensor, kernel: str) -> None:
    if not t.dtype.is_floating_point:
        raise DTypeError(f'"{kernel}" not implemented for \'{t.dtype.scalar_type}\'')


@defop("layer_norm", [T(), A("normalized_shape", "ints"), T("weight", default=None, optional=True),
                      T("bias", default=None, optional=True), A("eps", "float", 1e-5)],
       grad_fns="NativeLayerNormBackward0",
       doc="Normalise over the trailing normalized_shape dims, then scale by weight and add bias.",
       category=_LAYER, method=False)
def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    check_tensor(input, "layer_norm")
    shape = [normalized_shape] if isinstance(normalized_shape, int) else [int(s) for s in normalized_shape]
    if not shape:
        raise ShapeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                         "least one element, but got normalized_shape = []")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and list(check_tensor(p, "layer_norm", name).shape) != shape:
            raise ShapeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                             f"{name} of shape {_size(p.shape)} and normalized_shape = {_size(shape)}")
    k = len(shape)
    if input.ndim < k or list(input.shape[input.ndim - k:]) != shape:
        raise ShapeError(f"Given normalized_shape={_size(shape)}, expected input with shape "
                         f"[*, {', '.join(map(str, shape))}], but got input of size{_size(input.shape)}")
    _norm_dtypes(input, weight, (bias,))
    _check_float(input, "LayerNormKernelImpl")
    stat_dims = tuple(range(input.ndim - k, input.ndim))
    xhat, _ = _norm_forward(input._data, stat_dims, eps, None)
    out = _affine(xhat, weight, bias, tuple(shape))
    return record(out, layer_norm.op.grad_fn, _norm_vjp, (input, weight, bias),
                  saved=(input, weight, bias),
                  attrs=(stat_dims, tuple(range(input.ndim - k)), tuple(shape), eps, None))


def _norm_dtypes(input: Tensor, weight: Tensor | None, others: tuple[Tensor | None, ...]) -> None:
    """torch's dtype checks of a norm's tensors on CPU: a weight of another dtype than input is
    "mixed dtype" (only a float32 weight may mix, and only with a reduced-precision input, which
    gradserve has none of); each other tensor must have input's dtype."""
    if weight is not None and weight.dtype is not input.dtype:
        raise DTypeError("mixed dtype (CPU): expect parameter to have scalar type of Float"
                         if weight.dtype is not dtypes.float32 else
                         "mixed dtype (CPU): all inputs must share same datatype.")
    for t in others:
        if t is not None and t.dtype is not input.dtype:
            raise DTypeError(f"expected scalar type {input.dtype.scalar_type} but found "
                             f"{t.dtype.scalar_type}")


@defop("batch_norm", [T(), T("running_mean", optional=True), T("running_var", optional=True),
                      T("weight", default=None, optional=True), T("bias", default=None, optional=True),
                      A("training", "bool", False), A("momentum", "float", 0.1),
                      A("eps", "float", 1e-5)],
       grad_fns="NativeBatchNormBackward0",
       doc="Normalise each channel (dim 1) by the batch's statistics (training; running_mean/var, "
           "when given, are updated in place) or by running_mean/var (eval).",
       category=_LAYER, method=False)
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    check_tensor(input, "batch_norm")
    if training and input.ndim == 0:  # (torch's Python check of the batch reads size[0])
        raise ShapeError("tuple index out of range")
    if running_mean is not None and input.ndim < 2:  # (torch reads sizes()[1] unchecked: 0)
        check_tensor(running_mean, "batch_norm", "running_mean")
        raise ShapeError(f"running_mean should contain 0 elements not {running_mean.numel()}")
    channels = input.shape[wrap_dim(1, input.ndim)]
    stat_dims = (0, *range(2, input.ndim))
    count = math.prod(input.shape[d] for d in stat_dims)
    if training and count == 1:
        raise ArgumentError("Expected more than 1 value per channel when training, got input size "
                            f"torch.Size({_size(input.shape)})")
    if training and eps <= 0:
        raise ArgumentError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0:
        raise ArgumentError(f"batch_norm eps must be non-negative, but got {eps}")
    for name, p in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if p is not None and check_tensor(p, "batch_norm", name).numel() != channels:
            raise ShapeError(f"{name} should contain {channels} elements not {p.numel()}")
    if not training:
        for name, p in (("running_mean", running_mean), ("running_var", running_var)):
            if p is None:
                raise ArgumentError(f"{name} must be defined in evaluation mode")
    _check_float(input, "batch_norm")
    _norm_dtypes(input, weight, (bias, running_mean, running_var))
    view = (channels,) + (1,) * (input.ndim - 2)
    x = input._data
    running = None
    if not training:
        assert running_mean is not None and running_var is not None
        running = (running_mean._data.reshape(view).astype(x.dtype),
                   running_var._data.reshape(view).astype(x.dtype))
    xhat, var = _norm_forward(x, stat_dims, eps, running)
    if training:
        _update_running(running_mean, running_var, x, var, stat_dims, count, momentum)
    out = _affine(xhat, weight, bias, view)
    return record(out, batch_norm.op.grad_fn, _norm_vjp, (input, weight, bias),
                  saved=(input, weight), attrs=(stat_dims, stat_dims, view, eps, running))


def _update_running(running_mean: Tensor | None, running_var: Tensor | None, x: Any, var: Any,
                    dims: tuple[int, ...], count: int, momentum: float) -> None:
    """torch's in-place update of the running statistics in training (unbiased variance)."""
    if running_mean is not None:
        mean = xp.mean(x, axis=dims).astype(running_mean._data.dtype)
        running_mean._data = (1 - momentum) * running_mean._data + momentum * mean.reshape(
            running_mean.shape)
    if running_var is not None:
        unbiased = (var.reshape(-1) * (count / (count - 1))).astype(running_var._data.dtype)
        running_var._data = (1 - momentum) * running_var._data + momentum * unbiased.reshape(
            running_var.shape)


# ----- dropout ------------------------------------------------------------------------------
@defop("dropout", [T(), A("p", "float", 0.5), A("training", "bool", True)],
       grad_fns="MulBackward0",
       doc="In training, zero each element with probability p (drawn from the program's generator) "
           "and scale the rest by 1 / (1 - p); otherwise the input itself.",
       category=_LAYER, method=False)
def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    check_tensor(input, "dropout")
    if p < 0 or p > 1:
        raise ArgumentError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0 or input.numel() == 0:
        return input
    if not input.dtype.is_floating_point:
        raise DTypeError(f"result type Float can't be cast to the desired output type "
                         f"{input.dtype.scalar_type}")
    dt = input._data.dtype
    if p == 1:
        return ops.mul(input, Tensor(xp.zeros((), dtype=dt)))
    check_alloc(input.shape, "dropout mask")
    keep = context.generator().bernoulli(1 - p, input.shape)
    return ops.mul(input, Tensor(keep.astype(dt) / xp.asarray(1 - p, dtype=dt)))


# ----- embedding ----------------------------------------------------------------------------
@defop("embedding", [T(), T("weight"), A("padding_idx", "int", None, optional=True)],
       grad_fns="EmbeddingBackward0",
       doc="Rows of weight picked by the integer input; the padding_idx row gets no gradient.",
       category=_LAYER, method=False)
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    check_tensor(input, "embedding")
    check_tensor(weight, "embedding", "weight")
    if weight.ndim == 0:  # (torch reads weight.size(0) first)
        raise ShapeError("Dimension specified as 0 but tensor has no dimensions")
    rows = weight.shape[0]
    if padding_idx is not None:  # (torch's Python checks it before the kernel checks the rank)
        if not -rows <= padding_idx < rows:
            raise ArgumentError("Padding_idx must be within num_embeddings")
        padding_idx %= rows
    if weight.ndim != 2:
        raise ShapeError("'weight' must be 2-D")
    if input.dtype.name != "int64":
        raise DTypeError("Expected tensor for argument #1 'indices' to have one of the following "
                         f"scalar types: Long, Int; but got {input.dtype.legacy_type} instead (while "
                         "checking arguments for embedding)")
    idx = input._data
    if idx.size and not rows:  # (torch's embedding is an index_select of the rows)
        raise ShapeError("index_select(): self indexing axis dim should be positive")
    if idx.size and bool(((idx < 0) | (idx >= rows)).any()):
        raise ShapeError("index out of range in self")
    check_alloc((*idx.shape, weight.shape[1]))
    # (a copy: a 0-d index would read a view of the weight on CuPy, which in-place ops reach)
    rows = xp.array(weight._data[idx], copy=True)
    return record(rows, embedding.op.grad_fn, _embedding_vjp, (weight,), saved=(input,),
                  attrs=(weight.shape, padding_idx))


def _embedding_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    """torch's embedding_dense_backward, one fused node (EmbeddingDenseBackwardBackward0, edge:
    the incoming gradient): each row's gradient is the sum of the gradients of the outputs that
    picked it (none for padding_idx's)."""
    (idx,) = node.saved()
    (rows, dim), padding_idx = node.attrs
    flat = idx._data.reshape(-1)
    g2 = g._data.reshape(-1, dim)
    if padding_idx is not None:
        g2 = g2 * (flat != padding_idx)[:, None]
    out = backend.add_at(xp.zeros((rows, dim), dtype=g._data.dtype), flat, g2)
    return (record(out, _EMBEDDING_BACKWARD, _embedding_double_vjp, (g,), saved=(idx,),
                   attrs=padding_idx),)


def _embedding_double_vjp(node: Node, gg: Tensor) -> tuple[Any, ...]:
    """torch's embedding_dense_double_backward: the incoming rows picked again by the indices
    (padding_idx's zeroed), viewed as the output."""
    (idx,) = node.saved()
    padding_idx = node.attrs
    picked = ops.index_select(gg, 0, ops.reshape(idx, [-1]))
    if padding_idx is not None:
        picked = ops.masked_fill(picked, ops.reshape(idx == padding_idx, [-1, 1]), 0)
    return (ops.view(picked, [*idx.shape, -1]),)
