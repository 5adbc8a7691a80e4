#!/usr/bin/env python3
"""Golden cases for the nn family, and the MLP training trace.

``make_goldens.py nn`` writes tests/golden/ops_nn.json from :data:`CASES`.  Two conventions of this
module (installed into make_goldens when it is imported, and only for ops of this family):

* The ops are torch.nn.functional's: a case's op is called as ``torch.nn.functional.<op>`` (erf,
  which F lacks, as ``torch.erf``).  make_goldens itself calls ``torch.<op>``, whose spellings
  differ here (``torch.dropout(input, p, train)``, ``torch.embedding(weight, input)``).
* Cases whose values depend on a random draw (dropout in training with 0 < p < 1) are listed in
  :data:`RANDOM_CASES`: their record keeps shapes, dtypes and the grad_fn graph, but no values of
  outputs or gradients, as make_goldens does for its random ops (whose gradients are never random).

Run directly, ``/tmp/torchvenv/bin/python scripts/goldens_nn.py`` writes tests/golden/nn_mlp.json:
a two-layer MLP on fixed data and weights trained by SGD with cross_entropy for a few steps, with
torch's loss and parameter gradients at every step (tests/engine/test_nn.py replays it).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import make_goldens
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - torch's own spelling
from make_goldens import C, f32, f64, ints, pos, vals

RANDOM_CASES = {"dropout_train_half", "dropout_train_f64"}


def _call_torch(op: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if op == "erf":
        return torch.erf(*args, **kwargs)
    if "dtype" in kwargs:
        kwargs = {**kwargs, "dtype": make_goldens.DTYPES[kwargs["dtype"]]}
    return getattr(F, op)(*args, **kwargs)


def _run_case(case: Any) -> dict[str, Any]:
    record = _plain_run_case(case)
    if case.id in RANDOM_CASES:
        for out in record["outputs"]:
            out["data"] = None
        for entry in record.get("grads", []):
            if entry["grad"] is not None:
                entry["grad"]["data"] = None
    return record


_plain_run_case = make_goldens.run_case
make_goldens.call_torch = _call_torch
make_goldens.run_case = _run_case

# ----------------------------------------------------------------------------------------------
PROBS = [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]
UNIT = dict(lo=0.05, hi=0.95)  # binary_cross_entropy's input lies in [0, 1]


def unit32(*shape: int, grad: bool = True) -> Any:
    return f32(*shape, grad=grad, **UNIT)


ACTIVATIONS = [
    C("gelu_f32", "gelu", f32(2, 3)),
    C("gelu_f64", "gelu", f64(3, 4, lo=-5, hi=5)),
    C("gelu_tanh", "gelu", f32(2, 3), approximate="tanh"),
    C("gelu_tanh_f64", "gelu", f64(5), approximate="tanh"),
    C("gelu_0d", "gelu", f64()),
    C("gelu_large_values", "gelu", vals([-12.0, -6.0, 0.0, 6.0, 12.0], "float64")),
    C("silu_f32", "silu", f32(2, 3)),
    C("silu_f64", "silu", f64(4, lo=-8, hi=8)),
    C("softplus_default", "softplus", f32(2, 3)),
    C("softplus_beta_threshold", "softplus", vals([-3.0, 0.5, 1.9, 2.1, 5.0]), beta=2, threshold=4),
    C("softplus_over_threshold", "softplus", vals([19.0, 20.0, 21.0, -30.0], "float64")),
    C("softplus_f64", "softplus", f64(3, 2), beta=0.5),
    C("leaky_relu_default", "leaky_relu", f32(2, 3)),
    C("leaky_relu_slope", "leaky_relu", f64(4), 0.2),
    C("leaky_relu_at_zero", "leaky_relu", vals([0.0, -1.0, 1.0])),
    C("elu_default", "elu", f32(2, 3)),
    C("elu_alpha", "elu", f64(4), alpha=0.5),
    C("elu_at_zero", "elu", vals([0.0, -0.0, 1.0]), alpha=2.0),
    C("selu_f32", "selu", f32(2, 3)),
    C("selu_f64", "selu", f64(5)),
    C("hardtanh_default", "hardtanh", vals([-2.0, -1.0, -0.5, 0.3, 1.0, 1.7])),
    C("hardtanh_bounds", "hardtanh", f64(2, 3), -0.5, 0.25),
    C("hardtanh_int", "hardtanh", vals([-3, 0, 2], "int64")),
    C("erf_f32", "erf", f32(2, 3)),
    C("erf_f64_wide", "erf", f64(3, 4, lo=-6, hi=6)),
    C("erf_f64_values", "erf", vals([-30.0, -2.5, -1e-8, 0.0, 0.3, 2.4999, 2.5, 3.7, 6.0], "float64")),
    C("erf_int", "erf", ints(4)),
    C("erf_nonfinite", "erf", vals([make_goldens.INF, -make_goldens.INF, make_goldens.NAN])),
    C("logsigmoid_f32", "logsigmoid", f32(2, 3)),
    C("logsigmoid_extremes", "logsigmoid", vals([-100.0, -20.0, 0.0, 20.0, 100.0], "float64")),
    C("softmax_dim1", "softmax", f32(2, 3), 1),
    C("softmax_dim0_f64", "softmax", f64(3, 2), 0),
    C("softmax_negative_dim", "softmax", f32(2, 3, 2), -1),
    C("softmax_large_values", "softmax", vals([[1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]]), dim=1),
    C("softmax_dtype", "softmax", f32(2, 3), 1, dtype="float64"),
    C("softmax_0d", "softmax", f64(), 0),
    C("softmax_implicit_dim", "softmax", f32(2, 3)),
    C("softmax_with_inf", "softmax", vals([[0.0, -make_goldens.INF, 1.0]]), dim=1),
    C("log_softmax_dim1", "log_softmax", f32(2, 3), 1),
    C("log_softmax_dim0_f64", "log_softmax", f64(4, 2), 0),
    C("log_softmax_3d", "log_softmax", f32(2, 3, 2), dim=1),
    C("log_softmax_large_values", "log_softmax", vals([[1000.0, 1001.0, 999.0]]), dim=-1),
    C("log_softmax_dtype", "log_softmax", f32(3), 0, dtype="float64"),
]

LOSSES = [
    # --- cross_entropy ----------------------------------------------------------------------------
    C("cross_entropy_indices", "cross_entropy", f32(3, 4), ints(3, lo=0, hi=4)),
    C("cross_entropy_indices_f64", "cross_entropy", f64(4, 3), ints(4, lo=0, hi=3)),
    C("cross_entropy_sum", "cross_entropy", f32(3, 4), ints(3, lo=0, hi=4), reduction="sum"),
    C("cross_entropy_none", "cross_entropy", f32(3, 4), ints(3, lo=0, hi=4), reduction="none"),
    C("cross_entropy_weight", "cross_entropy", f32(3, 4), ints(3, lo=0, hi=4),
      vals([1.0, 2.0, 0.5, 0.25], grad=False)),
    C("cross_entropy_ignore_index", "cross_entropy", f32(3, 4), vals([1, -100, 3], "int64")),
    C("cross_entropy_weight_ignore", "cross_entropy", f32(4, 3), vals([2, -100, 0, 2], "int64"),
      vals([0.5, 1.0, 3.0], grad=False)),
    C("cross_entropy_custom_ignore", "cross_entropy", f32(3, 4), vals([1, 2, 2], "int64"),
      ignore_index=2),
    C("cross_entropy_all_ignored", "cross_entropy", f32(2, 3), vals([-100, -100], "int64")),
    C("cross_entropy_1d", "cross_entropy", f32(4), vals(2, "int64")),
    C("cross_entropy_3d", "cross_entropy", f32(2, 3, 4), ints(2, 4, lo=0, hi=3)),
    C("cross_entropy_3d_none", "cross_entropy", f32(2, 3, 4), ints(2, 4, lo=0, hi=3),
      reduction="none"),
    C("cross_entropy_4d", "cross_entropy", f64(2, 3, 2, 2), ints(2, 2, 2, lo=0, hi=3)),
    C("cross_entropy_smoothing", "cross_entropy", f32(3, 4), ints(3, lo=0, hi=4),
      label_smoothing=0.1),
    C("cross_entropy_smoothing_none", "cross_entropy", f32(3, 4), ints(3, lo=0, hi=4),
      label_smoothing=0.2, reduction="none"),
    C("cross_entropy_smoothing_sum", "cross_entropy", f64(3, 4), ints(3, lo=0, hi=4),
      label_smoothing=0.3, reduction="sum"),
    C("cross_entropy_smoothing_weight", "cross_entropy", f32(3, 4), ints(3, lo=0, hi=4),
      vals([1.0, 2.0, 0.5, 0.25], grad=False), label_smoothing=0.1),
    C("cross_entropy_smoothing_weight_none", "cross_entropy", f32(3, 4), ints(3, lo=0, hi=4),
      vals([1.0, 2.0, 0.5, 0.25], grad=False), label_smoothing=0.1, reduction="none"),
    C("cross_entropy_smoothing_ignore", "cross_entropy", f32(3, 4), vals([1, -100, 3], "int64"),
      label_smoothing=0.25),
    C("cross_entropy_smoothing_3d", "cross_entropy", f32(2, 3, 4), ints(2, 4, lo=0, hi=3),
      label_smoothing=0.2),
    C("cross_entropy_negative_smoothing", "cross_entropy", f32(2, 3), ints(2, lo=0, hi=3),
      label_smoothing=-0.1),
    C("cross_entropy_probs", "cross_entropy", f32(2, 3), vals(PROBS, grad=False)),
    C("cross_entropy_probs_none", "cross_entropy", f32(2, 3), vals(PROBS, grad=False),
      reduction="none"),
    C("cross_entropy_probs_sum_f64", "cross_entropy", f64(2, 3), vals(PROBS, "float64", grad=False),
      reduction="sum"),
    C("cross_entropy_probs_weight", "cross_entropy", f32(2, 3), vals(PROBS, grad=False),
      vals([1.0, 2.0, 0.5], grad=False)),
    C("cross_entropy_probs_smoothing", "cross_entropy", f32(2, 3), vals(PROBS, grad=False),
      label_smoothing=0.2),
    C("cross_entropy_probs_target_grad", "cross_entropy", f32(2, 3), vals(PROBS)),
    C("cross_entropy_probs_target_grad_smoothing", "cross_entropy", f32(2, 3), vals(PROBS),
      label_smoothing=0.1),
    C("cross_entropy_probs_3d", "cross_entropy", f32(2, 3, 2), f32(2, 3, 2, grad=False, lo=0, hi=1)),
    C("cross_entropy_probs_1d", "cross_entropy", f32(3), vals([0.2, 0.3, 0.5], grad=False)),
    C("cross_entropy_probs_f64_target", "cross_entropy", f32(2, 3), vals(PROBS, "float64", grad=False)),
    # --- nll_loss -----------------------------------------------------------------------------------
    C("nll_loss_2d", "nll_loss", f32(3, 4), ints(3, lo=0, hi=4)),
    C("nll_loss_none", "nll_loss", f32(3, 4), ints(3, lo=0, hi=4), reduction="none"),
    C("nll_loss_sum_weight", "nll_loss", f64(3, 4), ints(3, lo=0, hi=4),
      vals([1.0, 2.0, 0.5, 0.25], "float64", grad=False), reduction="sum"),
    C("nll_loss_mean_weight", "nll_loss", f32(3, 4), vals([0, 1, 1], "int64"),
      vals([1.0, 2.0, 0.5, 0.25], grad=False)),
    C("nll_loss_ignore", "nll_loss", f32(3, 4), vals([0, -100, 2], "int64")),
    C("nll_loss_all_ignored_sum", "nll_loss", f32(2, 3), vals([-100, -100], "int64"),
      reduction="sum"),
    C("nll_loss_1d", "nll_loss", f32(3), vals(1, "int64")),
    C("nll_loss_3d", "nll_loss", f32(2, 3, 4), ints(2, 4, lo=0, hi=3)),
    C("nll_loss_3d_none", "nll_loss", f32(2, 3, 4), ints(2, 4, lo=0, hi=3), reduction="none"),
    C("nll_loss_4d", "nll_loss", f32(2, 3, 2, 2), ints(2, 2, 2, lo=0, hi=3)),
    C("nll_loss_4d_none", "nll_loss", f64(2, 3, 2, 2), ints(2, 2, 2, lo=0, hi=3), reduction="none"),
    C("nll_loss_5d_none", "nll_loss", f32(2, 3, 2, 1, 2), ints(2, 2, 1, 2, lo=0, hi=3),
      reduction="none"),
    C("nll_loss_3d_weight_ignore", "nll_loss", f64(2, 3, 3), vals([[0, 1, 2], [2, -100, 1]], "int64"),
      vals([0.5, 1.0, 3.0], "float64", grad=False)),
    C("nll_loss_no_grad", "nll_loss", f32(2, 3, grad=False), ints(2, lo=0, hi=3)),
    # --- mse / l1 / smooth_l1 / huber ---------------------------------------------------------------
    C("mse_loss_mean", "mse_loss", f32(2, 3), f32(2, 3, grad=False)),
    C("mse_loss_sum", "mse_loss", f32(2, 3), f32(2, 3, grad=False), reduction="sum"),
    C("mse_loss_none_f64", "mse_loss", f64(2, 3), f64(2, 3, grad=False), reduction="none"),
    C("mse_loss_both_grad", "mse_loss", f32(2, 3), f32(2, 3)),
    C("mse_loss_broadcast_target", "mse_loss", f32(2, 3), f32(3, grad=False)),
    C("mse_loss_broadcast_input", "mse_loss", f32(3), f32(2, 3, grad=False)),
    C("mse_loss_weight", "mse_loss", f32(2, 3), f32(2, 3, grad=False),
      weight=f32(2, 3, grad=False, lo=0, hi=2)),
    C("mse_loss_weight_none", "mse_loss", f32(2, 3), f32(2, 3, grad=False),
      weight=f32(2, 3, grad=False, lo=0, hi=2), reduction="none"),
    C("mse_loss_weight_sum", "mse_loss", f64(2, 3), f64(2, 3, grad=False),
      weight=f64(2, 3, grad=False, lo=0, hi=2), reduction="sum"),
    C("mse_loss_f32_f64", "mse_loss", f32(3), f64(3, grad=False)),
    C("mse_loss_empty", "mse_loss", f32(0), f32(0, grad=False)),
    C("l1_loss_mean", "l1_loss", f32(2, 3), f32(2, 3, grad=False)),
    C("l1_loss_sum_both", "l1_loss", f32(2, 3), f32(2, 3), reduction="sum"),
    C("l1_loss_none", "l1_loss", f64(2, 3), f64(2, 3, grad=False), reduction="none"),
    C("l1_loss_broadcast", "l1_loss", f32(2, 3), f32(3, grad=False)),
    C("l1_loss_weight", "l1_loss", f32(2, 3), f32(2, 3, grad=False),
      weight=f32(2, 3, grad=False, lo=0, hi=2)),
    C("l1_loss_zero_difference", "l1_loss", vals([1.0, 2.0]), vals([1.0, 0.0], grad=False)),
    C("smooth_l1_loss_mean", "smooth_l1_loss", f32(2, 3), f32(2, 3, grad=False)),
    C("smooth_l1_loss_beta", "smooth_l1_loss", f64(2, 3), f64(2, 3), beta=0.5, reduction="sum"),
    C("smooth_l1_loss_none", "smooth_l1_loss", f32(2, 3), f32(2, 3, grad=False), reduction="none",
      beta=2.0),
    C("smooth_l1_loss_beta0_is_l1", "smooth_l1_loss", f32(2, 3), f32(2, 3, grad=False), beta=0.0),
    C("smooth_l1_loss_broadcast", "smooth_l1_loss", f32(2, 3), f32(3, grad=False)),
    C("huber_loss_mean", "huber_loss", f32(2, 3), f32(2, 3, grad=False)),
    C("huber_loss_delta", "huber_loss", f64(2, 3), f64(2, 3), "sum", 0.5),
    C("huber_loss_none", "huber_loss", f32(2, 3), f32(2, 3, grad=False), reduction="none", delta=2.0),
    C("huber_loss_weight", "huber_loss", f32(2, 3), f32(2, 3, grad=False),
      weight=f32(2, 3, grad=False, lo=0, hi=2)),
    C("huber_loss_weight_sum", "huber_loss", f32(2, 3), f32(2, 3, grad=False), "sum",
      weight=f32(2, 3, grad=False, lo=0, hi=2)),
    # --- binary cross entropy -------------------------------------------------------------------
    C("bce_mean", "binary_cross_entropy", unit32(2, 3), f32(2, 3, grad=False, lo=0, hi=1)),
    C("bce_none_f64", "binary_cross_entropy", f64(2, 3, **UNIT), f64(2, 3, grad=False, lo=0, hi=1),
      reduction="none"),
    C("bce_sum_weight", "binary_cross_entropy", unit32(2, 3), f32(2, 3, grad=False, lo=0, hi=1),
      f32(3, grad=False, lo=0, hi=2), reduction="sum"),
    C("bce_weight_broadcast_column", "binary_cross_entropy", unit32(2, 3),
      f32(2, 3, grad=False, lo=0, hi=1), f32(2, 1, grad=False, lo=0, hi=2)),
    C("bce_target_grad", "binary_cross_entropy", unit32(2, 3), f32(2, 3, lo=0, hi=1)),
    C("bce_at_0_and_1", "binary_cross_entropy", vals([0.0, 1.0, 0.5, 1.0]),
      vals([0.0, 1.0, 0.3, 0.0], grad=False), reduction="none"),
    C("bce_logits_mean", "binary_cross_entropy_with_logits", f32(2, 3),
      f32(2, 3, grad=False, lo=0, hi=1)),
    C("bce_logits_none_f64", "binary_cross_entropy_with_logits", f64(2, 3, lo=-30, hi=30),
      f64(2, 3, grad=False, lo=0, hi=1), reduction="none"),
    C("bce_logits_pos_weight", "binary_cross_entropy_with_logits", f32(2, 3),
      f32(2, 3, grad=False, lo=0, hi=1), pos_weight=f32(3, grad=False, lo=0.5, hi=3)),
    C("bce_logits_weight_pos_weight_sum", "binary_cross_entropy_with_logits", f32(2, 3),
      f32(2, 3, lo=0, hi=1), f32(2, 1, grad=False, lo=0, hi=2), reduction="sum",
      pos_weight=f32(3, grad=False, lo=0.5, hi=3)),
    C("bce_logits_target_grad", "binary_cross_entropy_with_logits", f64(2, 3), f64(2, 3, lo=0, hi=1)),
    C("bce_logits_f64_f32", "binary_cross_entropy_with_logits", f64(3), f32(3, grad=False, lo=0, hi=1)),
]

LAYERS = [
    # --- linear -----------------------------------------------------------------------------------
    C("linear_bias", "linear", f32(2, 3), f32(4, 3), f32(4)),
    C("linear_no_bias", "linear", f32(2, 3), f32(4, 3)),
    C("linear_3d", "linear", f32(2, 2, 3), f32(4, 3), f32(4)),
    C("linear_4d_f64", "linear", f64(2, 1, 2, 3), f64(4, 3), f64(4)),
    C("linear_3d_no_bias", "linear", f32(2, 2, 3), f32(4, 3)),
    C("linear_1d", "linear", f32(3), f32(4, 3), f32(4)),
    C("linear_1d_no_bias", "linear", f32(3), f32(4, 3)),
    C("linear_1d_weight", "linear", f32(2, 3), f32(3)),
    C("linear_1d_weight_0d_bias", "linear", f32(3), f32(3), f32()),
    C("linear_bias_2d", "linear", f32(2, 3), f32(4, 3), f32(2, 4)),
    C("linear_3d_bias_2d", "linear", f32(2, 2, 3), f32(4, 3), f32(2, 4)),
    C("linear_weight_no_grad", "linear", f32(2, 3), f32(4, 3, grad=False), f32(4)),
    C("linear_only_weight_grad", "linear", f32(2, 2, 3, grad=False), f32(4, 3), f32(4, grad=False)),
    C("linear_empty_batch", "linear", f32(0, 3), f32(4, 3), f32(4)),
    C("linear_int", "linear", ints(2, 3), ints(4, 3), ints(4)),
    # --- conv1d / conv2d --------------------------------------------------------------------------
    C("conv2d_basic", "conv2d", f32(1, 2, 5, 5), f32(3, 2, 3, 3), f32(3)),
    C("conv2d_no_bias_f64", "conv2d", f64(2, 2, 4, 5), f64(3, 2, 2, 3)),
    C("conv2d_stride_padding", "conv2d", f32(2, 3, 6, 5), f32(4, 3, 3, 3), f32(4), stride=2, padding=1),
    C("conv2d_tuple_args", "conv2d", f32(1, 2, 7, 6), f32(2, 2, 3, 2), None, (2, 1), (1, 0), (2, 1)),
    C("conv2d_dilation", "conv2d", f64(1, 1, 7, 7), f64(2, 1, 3, 3), f64(2), dilation=2),
    C("conv2d_groups", "conv2d", f32(1, 4, 5, 5), f32(6, 2, 3, 3), f32(6), groups=2),
    C("conv2d_depthwise", "conv2d", f32(2, 3, 4, 4), f32(3, 1, 2, 2), groups=3),
    C("conv2d_same", "conv2d", f32(1, 2, 5, 5), f32(3, 2, 3, 3), f32(3), padding="same"),
    C("conv2d_same_even_kernel", "conv2d", f32(1, 2, 5, 4), f32(2, 2, 2, 2), padding="same"),
    C("conv2d_same_dilated_even", "conv2d", f64(1, 1, 6, 6), f64(2, 1, 2, 3), padding="same",
      dilation=(1, 2)),
    C("conv2d_valid", "conv2d", f32(1, 2, 5, 5), f32(3, 2, 3, 3), padding="valid"),
    C("conv2d_unbatched", "conv2d", f32(2, 5, 5), f32(3, 2, 3, 3), f32(3)),
    C("conv2d_input_only_grad", "conv2d", f32(1, 2, 4, 4), f32(3, 2, 3, 3, grad=False)),
    C("conv2d_weight_only_grad", "conv2d", f32(1, 2, 4, 4, grad=False), f32(3, 2, 3, 3),
      f32(3, grad=False)),
    C("conv2d_padding_list", "conv2d", f32(1, 1, 4, 4), f32(2, 1, 3, 3), None, 1, [1, 2]),
    C("conv2d_int", "conv2d", ints(1, 1, 3, 3), ints(2, 1, 2, 2), ints(2)),
    C("conv2d_1x1", "conv2d", f32(2, 3, 3, 3), f32(4, 3, 1, 1), f32(4)),
    C("conv2d_empty_batch", "conv2d", f32(0, 2, 5, 5), f32(3, 2, 3, 3), f32(3)),
    C("conv1d_basic", "conv1d", f32(2, 2, 6), f32(3, 2, 3), f32(3)),
    C("conv1d_stride_padding_dilation", "conv1d", f64(1, 2, 9), f64(2, 2, 3), None, 2, 2, 2),
    C("conv1d_groups", "conv1d", f32(1, 4, 7), f32(4, 2, 2), f32(4), groups=2),
    C("conv1d_same_even", "conv1d", f32(1, 1, 6), f32(2, 1, 4), padding="same"),
    C("conv1d_unbatched", "conv1d", f32(2, 5), f32(3, 2, 2)),
    # --- pooling -------------------------------------------------------------------------------------
    C("max_pool2d_2", "max_pool2d", f32(1, 2, 4, 4), 2),
    C("max_pool2d_stride_padding", "max_pool2d", f32(2, 2, 5, 5), 3, 2, 1),
    C("max_pool2d_overlapping_f64", "max_pool2d", f64(1, 1, 5, 5), 3, 1),
    C("max_pool2d_ceil", "max_pool2d", f32(1, 1, 5, 5), 2, ceil_mode=True),
    C("max_pool2d_ceil_padding", "max_pool2d", f32(1, 1, 6, 6), 3, 2, 1, ceil_mode=True),
    C("max_pool2d_dilation", "max_pool2d", f32(1, 1, 7, 6), (2, 3), dilation=(2, 1)),
    C("max_pool2d_tuple_kernel_stride", "max_pool2d", f32(1, 2, 6, 5), (3, 2), (2, 1)),
    C("max_pool2d_3d_input", "max_pool2d", f32(2, 4, 4), 2),
    C("max_pool2d_indices", "max_pool2d", f32(1, 2, 5, 5), 3, 2, 1, return_indices=True),
    C("max_pool2d_ties", "max_pool2d", vals([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [2.0, 0.0, 2.0]]]]),
      2, 1),
    C("max_pool2d_stride_list_empty", "max_pool2d", f32(1, 1, 4, 4), 2, []),
    C("avg_pool2d_2", "avg_pool2d", f32(1, 2, 4, 4), 2),
    C("avg_pool2d_stride_padding", "avg_pool2d", f32(2, 2, 5, 5), 3, 2, 1),
    C("avg_pool2d_exclude_pad", "avg_pool2d", f64(1, 1, 5, 5), 3, 2, 1, count_include_pad=False),
    C("avg_pool2d_ceil", "avg_pool2d", f32(1, 1, 5, 5), 2, ceil_mode=True),
    C("avg_pool2d_ceil_padding", "avg_pool2d", f32(1, 1, 6, 6), 3, 2, 1, ceil_mode=True),
    C("avg_pool2d_ceil_padding_exclude", "avg_pool2d", f32(1, 1, 6, 6), 3, 2, 1, ceil_mode=True,
      count_include_pad=False),
    C("avg_pool2d_divisor", "avg_pool2d", f32(1, 1, 4, 5), (2, 3), divisor_override=4),
    C("avg_pool2d_3d_input", "avg_pool2d", f32(2, 4, 4), 2, 1),
    # --- layer_norm / batch_norm ------------------------------------------------------------------
    C("layer_norm_last", "layer_norm", f32(2, 3, 4), [4]),
    C("layer_norm_last_two_affine", "layer_norm", f32(2, 3, 4), [3, 4], f32(3, 4), f32(3, 4)),
    C("layer_norm_weight_only_f64", "layer_norm", f64(3, 5), [5], f64(5)),
    C("layer_norm_bias_only", "layer_norm", f32(3, 5), [5], None, f32(5)),
    C("layer_norm_eps", "layer_norm", f64(2, 4), [4], eps=0.1),
    C("layer_norm_whole_input", "layer_norm", f32(2, 3), [2, 3], f32(2, 3), f32(2, 3)),
    C("layer_norm_constant_rows", "layer_norm", vals([[1.0, 1.0, 1.0], [0.0, 1.0, 2.0]]), [3]),
    C("layer_norm_params_no_grad", "layer_norm", f32(2, 4), [4], f32(4, grad=False),
      f32(4, grad=False)),
    C("batch_norm_train_2d", "batch_norm", f32(4, 3), None, None, training=True),
    C("batch_norm_train_affine", "batch_norm", f32(3, 2, 2, 2), None, None, f32(2), f32(2),
      training=True),
    C("batch_norm_train_running", "batch_norm", f64(4, 3, 2), f64(3, grad=False),
      pos(3, dtype="float64", grad=False), f64(3), f64(3), True, 0.2),
    C("batch_norm_eval", "batch_norm", f32(2, 3, 2), f32(3, grad=False), pos(3, grad=False),
      training=False),
    C("batch_norm_eval_affine_f64", "batch_norm", f64(2, 3, 2, 2), f64(3, grad=False),
      pos(3, dtype="float64", grad=False), f64(3), f64(3)),
    C("batch_norm_eval_eps", "batch_norm", f32(4, 2), f32(2, grad=False), pos(2, grad=False), f32(2),
      None, False, 0.1, 0.5),
    C("batch_norm_train_eps", "batch_norm", f32(3, 2), None, None, None, f32(2), True, eps=0.01),
    # --- dropout -------------------------------------------------------------------------------
    C("dropout_eval_is_input", "dropout", f32(2, 3), 0.5, False),
    C("dropout_p0_is_input", "dropout", f32(2, 3), 0.0),
    C("dropout_p1_zeros", "dropout", f32(2, 3), 1.0),
    C("dropout_train_half", "dropout", f32(3, 4), 0.5),
    C("dropout_train_f64", "dropout", f64(5), p=0.2, training=True),
    C("dropout_eval_int", "dropout", ints(3), 0.5, training=False),
    C("dropout_empty", "dropout", f32(0, 2), 0.5),
    # --- embedding -----------------------------------------------------------------------------
    C("embedding_2d_indices", "embedding", vals([[0, 2], [4, 2]], "int64"), f32(5, 3)),
    C("embedding_repeats_accumulate", "embedding", vals([1, 1, 3, 1], "int64"), f64(4, 2)),
    C("embedding_padding_idx", "embedding", vals([[0, 2], [4, 2]], "int64"), f32(5, 3), 2),
    C("embedding_negative_padding_idx", "embedding", vals([1, 4, 0], "int64"), f32(5, 3),
      padding_idx=-1),
    C("embedding_0d_index", "embedding", vals(2, "int64"), f32(3, 2)),
    C("embedding_weight_no_grad", "embedding", vals([0, 1], "int64"), f32(2, 2, grad=False)),
]


CASES = [*ACTIVATIONS, *LOSSES, *LAYERS]


# ----------------------------------------------------------------------------------------------
# The MLP training trace (run this file directly)

MLP_FILE = Path(__file__).resolve().parent.parent / "tests" / "golden" / "nn_mlp.json"
MLP_STEPS = 5
MLP_LR = 0.5


def mlp_data() -> dict[str, Any]:
    """Fixed inputs, labels and initial weights (rounded, so both sides start from equal values):
    8 samples of 4 features, 3 classes, a hidden layer of 6 units."""
    rng = np.random.default_rng(20240613)
    r = lambda *s, scale=1.0: np.round(rng.uniform(-scale, scale, s), 3).tolist()  # noqa: E731
    return {"x": r(8, 4, scale=2.0), "y": rng.integers(0, 3, 8).tolist(),
            "w1": r(6, 4, scale=0.5), "b1": r(6, scale=0.1), "w2": r(3, 6, scale=0.5),
            "b2": r(3, scale=0.1)}


def mlp_trace() -> dict[str, Any]:
    """Train linear -> gelu -> linear with cross_entropy by plain SGD in float64 and float32."""
    data = mlp_data()
    trace: dict[str, Any] = {"torch_version": torch.__version__, "steps": MLP_STEPS, "lr": MLP_LR,
                             "data": data, "runs": {}}
    for dtype in (torch.float32, torch.float64):
        params = {k: torch.tensor(data[k], dtype=dtype, requires_grad=True)
                  for k in ("w1", "b1", "w2", "b2")}
        x = torch.tensor(data["x"], dtype=dtype)
        y = torch.tensor(data["y"])
        steps = []
        for _ in range(MLP_STEPS):
            hidden = F.gelu(F.linear(x, params["w1"], params["b1"]))
            loss = F.cross_entropy(F.linear(hidden, params["w2"], params["b2"]), y)
            loss.backward()
            steps.append({"loss": loss.item(),
                          "grads": {k: p.grad.reshape(-1).tolist() for k, p in params.items()}})
            with torch.no_grad():
                for p in params.values():
                    p -= MLP_LR * p.grad
                    p.grad = None
        trace["runs"][str(dtype).removeprefix("torch.")] = steps
    return trace


if __name__ == "__main__":
    trace = mlp_trace()
    losses = [s["loss"] for s in trace["runs"]["float64"]]
    decreasing = all(b < a for a, b in zip(losses, losses[1:], strict=False))
    if not decreasing or not all(map(math.isfinite, losses)):
        sys.exit(f"the MLP's loss does not decrease: {losses}")
    MLP_FILE.write_text(json.dumps(trace) + "\n")
    print(f"wrote {MLP_FILE} (losses {losses})")
