"""The nn family beyond the per-op gradient checks and golden cases: a small MLP trained against
torch's numbers, seeded dropout, erf's accuracy, the keyword-only tensor arguments the checker
cannot build, batch_norm's running statistics, and torch's error messages."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine.gradcheck import gradcheck, gradgradcheck

F = ge.ops
MLP = json.loads((Path(__file__).resolve().parents[1] / "golden" / "nn_mlp.json").read_text())
TOL = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def f64(values: Any, requires_grad: bool = True) -> ge.Tensor:
    return ge.tensor(values, dtype="float64", requires_grad=requires_grad)


def host(t: ge.Tensor) -> np.ndarray:
    return np.asarray(t.detach().numpy())


# ----- the MLP -------------------------------------------------------------------------------
def mlp_loss(params: dict[str, ge.Tensor], x: ge.Tensor, y: ge.Tensor) -> ge.Tensor:
    hidden = F.gelu(F.linear(x, params["w1"], params["b1"]))
    return F.cross_entropy(F.linear(hidden, params["w2"], params["b2"]), y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mlp_training_matches_torch(dtype: str) -> None:
    """linear -> gelu -> linear -> cross_entropy, trained by SGD: every step's loss and every
    parameter's gradient equal torch's (scripts/goldens_nn.py wrote them), and the loss falls."""
    data = MLP["data"]
    params = {k: ge.tensor(data[k], dtype=dtype, requires_grad=True) for k in ("w1", "b1", "w2", "b2")}
    x = ge.tensor(data["x"], dtype=dtype)
    y = ge.tensor(data["y"])
    losses = []
    for step, want in enumerate(MLP["runs"][dtype]):
        loss = mlp_loss(params, x, y)
        assert loss.grad_fn.name() == "NllLossBackward0"
        loss.backward()
        np.testing.assert_allclose(loss.item(), want["loss"], err_msg=f"loss at step {step}",
                                   **TOL[dtype])
        for k, p in params.items():
            np.testing.assert_allclose(host(p.grad).reshape(-1), want["grads"][k],
                                       err_msg=f"grad of {k} at step {step}", **TOL[dtype])
        losses.append(loss.item())
        with ge.no_grad():
            params = {k: (p - p.grad * MLP["lr"]).requires_grad_() for k, p in params.items()}
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses


def test_mlp_hessian_vector_product_by_double_backward() -> None:
    """create_graph through linear, gelu and cross_entropy: d/dw (g . v) against differences."""
    data = MLP["data"]
    params = {k: f64(data[k]) for k in ("w1", "b1", "w2", "b2")}
    x, y = ge.tensor(data["x"], dtype="float64"), ge.tensor(data["y"])
    v = f64(np.linspace(-1, 1, 24).reshape(6, 4).tolist(), requires_grad=False)

    def directional(w1: ge.Tensor) -> ge.Tensor:
        (g,) = ge.grad(mlp_loss({**params, "w1": w1}, x, y), [w1], create_graph=True)
        return (g * v).sum()

    assert gradcheck(directional, [params["w1"]])


# ----- dropout -------------------------------------------------------------------------------
def _dropout(seed: int, p: float = 0.5) -> ge.Tensor:
    with ge.execution(seed=seed):
        x = ge.ones([200, 50], dtype="float64", requires_grad=True)
        return F.dropout(x, p)


def test_dropout_is_reproducible_per_seed() -> None:
    a, b, c = _dropout(7), _dropout(7), _dropout(8)
    assert np.array_equal(host(a), host(b))
    assert not np.array_equal(host(a), host(c))


def test_dropout_drops_p_and_scales_the_rest() -> None:
    out = host(_dropout(3, p=0.3))
    assert set(np.unique(out).tolist()) <= {0.0, 1 / 0.7}
    assert abs((out == 0).mean() - 0.3) < 0.02


def test_dropout_graph_and_gradient() -> None:
    with ge.execution(seed=1):
        x = f64(np.arange(12.0).reshape(3, 4).tolist())
        out = F.dropout(x, 0.25)
    assert out.grad_fn.name() == "MulBackward0"
    assert out.grad_fn.next_functions[1] == (None, 0)
    out.sum().backward()
    kept = host(out) != 0
    kept[0, 0] = host(x.grad)[0, 0] != 0  # x[0, 0] is 0, so its output says nothing
    np.testing.assert_allclose(host(x.grad), kept / 0.75)


def test_dropout_gradcheck_under_a_fixed_seed() -> None:
    def fn(x: ge.Tensor) -> ge.Tensor:
        with ge.execution(seed=5):
            return F.dropout(x, 0.4) * x  # the same mask at every evaluation

    x = f64(np.linspace(-1, 1, 12).reshape(3, 4).tolist())
    assert gradcheck(fn, [x]) and gradgradcheck(fn, [x])


def test_dropout_in_eval_and_p0_is_the_input_itself() -> None:
    x = f64([1.0, 2.0])
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


# ----- erf -----------------------------------------------------------------------------------
def test_erf_is_accurate_in_float64() -> None:
    xs = np.concatenate([np.linspace(-7, 7, 20001), [0.0, 1e-300, -1e-12, 2.4999999, 2.5, 2.5000001]])
    got = host(F.erf(ge.tensor(xs, dtype="float64")))
    want = np.array([math.erf(v) for v in xs])
    assert np.all(np.abs(got - want) <= 4e-15 * np.maximum(np.abs(want), 1e-300))
    special = host(F.erf(ge.tensor([math.inf, -math.inf, math.nan], dtype="float64")))
    assert special[0] == 1.0 and special[1] == -1.0 and math.isnan(special[2])


# ----- keyword-only tensor arguments (the checker builds positional arguments only) -----------
_W = [[1.0, 2.0, 0.5], [0.0, 1.0, 3.0]]
_T = [[0.1, 0.9, 0.3], [1.0, 0.4, 0.8]]


@pytest.mark.parametrize(("name", "call"), [
    ("mse_loss weight", lambda x, t: F.mse_loss(x, t, weight=ge.tensor(_W, dtype="float64"))),
    ("l1_loss weight sum", lambda x, t: F.l1_loss(x, t, weight=ge.tensor(_W, dtype="float64"),
                                                  reduction="sum")),
    ("bce_with_logits pos_weight", lambda x, t: F.binary_cross_entropy_with_logits(
        x, t, pos_weight=ge.tensor([3.0, 0.5, 1.0], dtype="float64"))),
    ("bce_with_logits both weights", lambda x, t: F.binary_cross_entropy_with_logits(
        x, t, ge.tensor([[2.0], [0.5]], dtype="float64"), reduction="none",
        pos_weight=ge.tensor([3.0, 0.5, 1.0], dtype="float64"))),
])
def test_keyword_weights_gradcheck(name: str, call: Any) -> None:
    x = f64([[0.3, -1.2, 0.8], [1.5, -0.4, 0.2]])
    t = f64(_T)
    assert gradcheck(call, [x, t]) and gradgradcheck(call, [x, t])


# ----- batch_norm's running statistics -------------------------------------------------------
def test_batch_norm_updates_running_stats_like_torch() -> None:
    x = ge.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]], dtype="float64")
    rm = ge.tensor([0.1, -0.2], dtype="float64")
    rv = ge.tensor([1.0, 2.0], dtype="float64")
    F.batch_norm(x, rm, rv, training=True, momentum=0.3)
    # torch 2.13: the batch mean, and the unbiased batch variance, mixed in with momentum 0.3
    np.testing.assert_allclose(rm.tolist(), [0.52, -0.04], rtol=1e-12)
    np.testing.assert_allclose(rv.tolist(), [1.225, 2.1], rtol=1e-12)
    F.batch_norm(x, rm, rv, training=False)
    np.testing.assert_allclose(rm.tolist(), [0.52, -0.04], rtol=1e-12)


# ----- torch's errors ------------------------------------------------------------------------
def _t(*shape: int, dtype: str = "float32") -> ge.Tensor:
    return ge.zeros(list(shape), dtype=dtype)


ERRORS = [
    (lambda: F.gelu(_t(2), approximate="foo"), ge.ArgumentError,
     "approximate argument must be either none or tanh."),
    (lambda: F.gelu(_t(2, dtype="int64")), ge.DTypeError, "\"GeluKernelImpl\" not implemented for 'Long'"),
    (lambda: F.hardtanh(_t(2), 1.0, -1.0), ge.ArgumentError, "min_val cannot be greater than max_val"),
    (lambda: F.softmax(_t(2, 3), 2), ge.ShapeError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda: F.mse_loss(_t(2, 3), _t(4)), ge.ShapeError,
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"),
    (lambda: F.mse_loss(_t(2), _t(2), reduction="avg"), ge.ArgumentError,
     "avg is not a valid value for reduction"),
    (lambda: F.smooth_l1_loss(_t(2), _t(2), beta=-1.0), ge.ArgumentError,
     "smooth_l1_loss does not support negative values for beta."),
    (lambda: F.huber_loss(_t(2), _t(2), delta=0.0), ge.ArgumentError,
     "huber_loss does not support non-positive values for delta."),
    (lambda: F.nll_loss(_t(2, 3), ge.tensor([0, 3])), ge.ShapeError, "Target 3 is out of bounds."),
    (lambda: F.nll_loss(_t(2, 3), ge.tensor([0, 1, 1])), ge.ShapeError,
     "Expected input batch_size (2) to match target batch_size (3)."),
    (lambda: F.nll_loss(_t(2, 3), ge.tensor([0.0, 1.0])), ge.DTypeError,
     "expected target dtype to be Long or Byte, but got Float"),
    (lambda: F.nll_loss(_t(2, 3, 4), ge.tensor([[0] * 5] * 2)), ge.ShapeError,
     "Expected target size [2, 4], got [2, 5]"),
    (lambda: F.nll_loss(_t(2, 3), ge.tensor([0, 1]), _t(4)), ge.ShapeError,
     "weight tensor should be defined either for all 3 classes or no classes but got weight "
     "tensor of shape: [4]"),
    (lambda: F.cross_entropy(_t(2, 3), ge.tensor([0, 1]), label_smoothing=1.5), ge.ArgumentError,
     "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
    (lambda: F.cross_entropy(_t(2, 3), ge.zeros([2, 3], dtype="int64")), ge.DTypeError,
     "Expected floating point type for target with class probabilities, got Long"),
    (lambda: F.binary_cross_entropy(ge.full([2], 2.0), _t(2)), ge.ArgumentError,
     "all elements of input should be between 0 and 1"),
    (lambda: F.binary_cross_entropy_with_logits(_t(2, 3), _t(3)), ge.ShapeError,
     "Target size (torch.Size([3])) must be the same as input size (torch.Size([2, 3]))"),
    (lambda: F.binary_cross_entropy_with_logits(_t(2), _t(2), ge.ones([2], requires_grad=True)),
     ge.AutogradError, "The function 'binary_cross_entropy_with_logits' is not differentiable with "
     "respect to argument 'weight'. This input cannot have requires_grad True."),
    (lambda: F.linear(_t(2, 3), _t(4, 5)), ge.ShapeError,
     "mat1 and mat2 shapes cannot be multiplied (2x3 and 5x4)"),
    (lambda: F.linear(_t(2, 3), _t(3), _t(1)), ge.ShapeError, "mat2 must be a matrix, got 1-D tensor"),
    (lambda: F.conv2d(_t(5, 5), _t(4, 2, 3, 3)), ge.ShapeError,
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [5, 5]"),
    (lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 2, 3, 3)), ge.ShapeError,
     "Given groups=1, weight of size [4, 2, 3, 3], expected input[1, 3, 5, 5] to have 2 channels, "
     "but got 3 channels instead"),
    (lambda: F.conv2d(_t(1, 4, 5, 5), _t(6, 2, 3, 3), groups=3), ge.ShapeError,
     "Given groups=3, weight of size [6, 2, 3, 3], expected input[1, 4, 5, 5] to have 6 channels, "
     "but got 4 channels instead"),
    (lambda: F.conv2d(_t(1, 2, 2, 2), _t(4, 2, 3, 3)), ge.ShapeError,
     "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be "
     "greater than actual input size"),
    (lambda: F.conv2d(_t(1, 2, 5, 5), _t(4, 2, 3, 3), _t(3)), ge.ShapeError,
     "Given weight of size [4, 2, 3, 3], expected bias to be 1-dimensional with 4 elements, but got "
     "bias of size [3] instead"),
    (lambda: F.conv2d(_t(1, 2, 5, 5), _t(4, 2, 3, 3), stride=2, padding="same"), ge.ArgumentError,
     "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(_t(1, 2, 5, 5), _t(4, 2, 3, 3), padding="foo"), ge.ArgumentError,
     "Invalid padding string: 'foo'"),
    (lambda: F.conv2d(_t(1, 2, 5, 5), _t(4, 2, 3, 3), padding=(1, 1, 1)), ge.ArgumentError,
     "expected padding to be a single integer value or a list of 2 values to match the convolution "
     "dimensions, but got padding=[1, 1, 1]"),
    (lambda: F.conv2d(_t(1, 2, 5, 5, dtype="float64"), _t(4, 2, 3, 3)), ge.DTypeError,
     "expected scalar type Double but found Float"),
    (lambda: F.conv2d(_t(1, 2, 5, 5), _t(4, 2, 3, 3), _t(4, dtype="float64")), ge.DTypeError,
     "Input type (float) and bias type (double) should be the same"),
    (lambda: F.conv1d(_t(1, 2, 5), _t(4, 2, 3, 3)), ge.ShapeError,
     "Expected 4-dimensional input for 4-dimensional weight [4, 2, 3, 3], but got 3-dimensional "
     "input of size [1, 2, 5] instead"),
    (lambda: F.max_pool2d(_t(1, 2, 5, 5), 2, padding=2), ge.ArgumentError,
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and "
     "dilation=1"),
    (lambda: F.max_pool2d(_t(1, 1, 1, 1), 2), ge.ShapeError,
     "Given input size: (1x1x1). Calculated output size: (1x0x0). Output size is too small"),
    (lambda: F.max_pool2d(_t(5, 5), 2), ge.ShapeError,
     "non-empty 3D or 4D (batch mode) tensor expected for input"),
    (lambda: F.max_pool2d(_t(1, 2, 5, 5), (2, 2, 2)), ge.ArgumentError,
     "max_pool2d: kernel_size must either be a single int, or a tuple of two ints"),
    (lambda: F.max_pool2d(_t(1, 2, 5, 5), 2, stride=0), ge.ArgumentError, "stride should not be zero"),
    (lambda: F.avg_pool2d(_t(1, 2, 5, 5), 2, divisor_override=0), ge.ArgumentError,
     "divisor must be not zero"),
    (lambda: F.layer_norm(_t(1, 2, 5, 5), [4]), ge.ShapeError,
     "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[1, 2, 5, 5]"),
    (lambda: F.layer_norm(_t(2, 5), [5], _t(4)), ge.ShapeError,
     "Expected weight to be of same shape as normalized_shape, but got weight of shape [4] and "
     "normalized_shape = [5]"),
    (lambda: F.batch_norm(_t(1, 2), None, None, training=True), ge.ArgumentError,
     "Expected more than 1 value per channel when training, got input size torch.Size([1, 2])"),
    (lambda: F.batch_norm(_t(2, 2), None, None), ge.ArgumentError,
     "running_mean must be defined in evaluation mode"),
    (lambda: F.batch_norm(_t(2, 2), _t(3), _t(3)), ge.ShapeError,
     "running_mean should contain 2 elements not 3"),
    (lambda: F.dropout(_t(2), 1.5), ge.ArgumentError,
     "dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F.embedding(ge.tensor([5]), _t(5, 3)), ge.ShapeError, "index out of range in self"),
    (lambda: F.embedding(ge.tensor([1]), _t(5)), ge.ShapeError, "'weight' must be 2-D"),
    (lambda: F.embedding(ge.tensor([1]), _t(5, 3), padding_idx=7), ge.ArgumentError,
     "Padding_idx must be within num_embeddings"),
    (lambda: F.embedding(ge.tensor([1.0]), _t(5, 3)), ge.DTypeError,
     "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
     "but got torch.FloatTensor instead (while checking arguments for embedding)"),
]


@pytest.mark.parametrize(("call", "error", "message"), ERRORS, ids=[e[2][:50] for e in ERRORS])
def test_torch_error_messages(call: Any, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert info.value.message == message


def test_size_limits_are_checked_before_unfolding() -> None:
    with ge.execution(limits=ge.Limits(max_tensor_elements=10_000)), \
            pytest.raises(ge.LimitExceeded):
        F.conv2d(ge.zeros([1, 4, 40, 40]), ge.zeros([2, 4, 5, 5]))
