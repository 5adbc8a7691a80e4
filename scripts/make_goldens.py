#!/usr/bin/env python3
"""Write ``tests/golden/ops.json``: what real PyTorch 2.13 gives for every case in :data:`CASES`.

torch is never a dependency of gradserve; only this script imports it.  Run it from the repository
root with a separate virtual environment::

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchvenv/bin/python scripts/make_goldens.py          # core ops -> tests/golden/ops.json
    /tmp/torchvenv/bin/python scripts/make_goldens.py nn       # scripts/goldens_nn.py -> ops_nn.json

Each case is ``C(id, op, *args, **kwargs)``: the op is called as ``torch.<op>(*args, **kwargs)``
(``view``, ``expand``, ``contiguous`` and ``to`` as Tensor methods).  Tensor arguments are
declared with the small helpers below (``f32(2, 3)``, ``vals([...])``, ...) and filled with
deterministic values from a numpy generator seeded by the case id, rounded to a few decimals.

For each case the file records the arguments as JSON (tensors as ``{"tensor": {...}}``), every
output (shape, dtype, flat data, requires_grad, is_leaf, the grad_fn graph down to AccumulateGrad
nodes, and whether the output *is* one of the inputs), and, when output 0 is floating and requires
grad, the seed gradient passed to ``backward`` and the ``.grad`` of every input that requires grad.
Non-finite floats are written as the strings "NaN", "Infinity" and "-Infinity".
"""

from __future__ import annotations

import json
import math
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover - only ever run by hand
    sys.exit("make_goldens.py needs torch==2.13.0 (see the module docstring)")

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "ops.json"
INF = math.inf
NAN = math.nan

# ----------------------------------------------------------------------------------------------
# Declaring tensor arguments


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str = "float32"
    grad: bool = True
    values: tuple[Any, ...] | None = None  # flat row-major values; None -> random
    lo: float = -2.0
    hi: float = 2.0
    signed: bool = False  # flip the sign of each random value with probability 1/2


def f32(*shape: int, grad: bool = True, lo: float = -2.0, hi: float = 2.0) -> TensorSpec:
    """Random float32 tensor (uniform in [lo, hi), 3 decimals)."""
    return TensorSpec(shape, "float32", grad, None, lo, hi)


def f64(*shape: int, grad: bool = True, lo: float = -2.0, hi: float = 2.0) -> TensorSpec:
    return TensorSpec(shape, "float64", grad, None, lo, hi)


def pos(*shape: int, dtype: str = "float32", grad: bool = True) -> TensorSpec:
    """Strictly positive values (domain of log, sqrt, rsqrt, pow with a tensor exponent)."""
    return TensorSpec(shape, dtype, grad, None, 0.2, 3.0)


def nz(*shape: int, dtype: str = "float32", grad: bool = True) -> TensorSpec:
    """Values bounded away from zero, either sign (divisors, reciprocal)."""
    return TensorSpec(shape, dtype, grad, None, 0.5, 2.0, signed=True)


def above_minus1(*shape: int, dtype: str = "float32", grad: bool = True) -> TensorSpec:
    """Values in (-1, 3): the domain of log1p."""
    return TensorSpec(shape, dtype, grad, None, -0.9, 3.0)


def ints(*shape: int, lo: int = -4, hi: int = 5) -> TensorSpec:
    """Random int64 tensor in [lo, hi)."""
    return TensorSpec(shape, "int64", False, None, lo, hi)


def bools(*shape: int) -> TensorSpec:
    return TensorSpec(shape, "bool", False)


def vals(data: Any, dtype: str = "float32", grad: bool | None = None) -> TensorSpec:
    """A tensor with hand-picked values (nested lists or a scalar for 0-d)."""
    arr = np.array(data, dtype=object)
    if grad is None:
        grad = dtype in ("float32", "float64")
    return TensorSpec(tuple(arr.shape), dtype, grad, tuple(arr.reshape(-1).tolist()))


def fill(spec: TensorSpec, rng: np.random.Generator) -> list[Any]:
    if spec.values is not None:
        return list(spec.values)
    n = int(np.prod(spec.shape, dtype=np.int64))
    if spec.dtype == "bool":
        return [bool(b) for b in rng.random(n) < 0.5]
    if spec.dtype == "int64":
        return [int(i) for i in rng.integers(int(spec.lo), int(spec.hi), n)]
    x = np.round(rng.uniform(spec.lo, spec.hi, n), 3)
    if spec.signed:
        x = x * rng.choice([-1.0, 1.0], n)
    return [float(v) for v in x]


# ----------------------------------------------------------------------------------------------
# The cases


@dataclass(frozen=True)
class Case:
    id: str
    op: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def C(cid: str, op: str, *args: Any, **kwargs: Any) -> Case:
    return Case(cid, op, args, kwargs)


UNARY_DOMAIN = {"log": pos, "sqrt": pos, "rsqrt": pos, "reciprocal": nz, "log1p": above_minus1}
UNARY_OPS = ("neg", "exp", "exp2", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal", "square",
             "abs", "sign", "sin", "cos", "tan", "tanh", "sigmoid", "relu")


def unary_cases() -> list[Case]:
    out = []
    for op in UNARY_OPS:
        make = UNARY_DOMAIN.get(op)
        if make is None:
            out += [C(f"{op}_f32", op, f32(2, 3)), C(f"{op}_f64_0d", op, f64())]
        else:
            out += [C(f"{op}_f32", op, make(2, 3)), C(f"{op}_f64_0d", op, make(dtype="float64"))]
    return out


COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")


def comparison_cases() -> list[Case]:
    out = []
    for op in COMPARISONS:
        out += [
            C(f"{op}_tensor_ties", op, vals([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]),
              vals([[1.0, 0.0, 4.0], [0.5, -2.0, 2.5]])),
            C(f"{op}_broadcast", op, f32(2, 3), f32(3, grad=False)),
            C(f"{op}_int_scalar", op, ints(2, 3), 0),
            C(f"{op}_int_vs_float", op, vals([1, 2, 3], "int64"), vals([1.5, 2.0, 2.5], "float64")),
        ]
    return out


CASES: list[Case] = [
    # --- creation ---------------------------------------------------------------------------
    C("zeros_2x3", "zeros", [2, 3]),
    C("zeros_0d", "zeros", []),
    C("zeros_empty", "zeros", [0, 3]),
    C("zeros_f64", "zeros", [2], dtype="float64"),
    C("zeros_int64", "zeros", [2, 2], dtype="int64"),
    C("zeros_requires_grad", "zeros", [3], requires_grad=True),
    C("ones_2x3", "ones", [2, 3]),
    C("ones_bool", "ones", [4], dtype="bool"),
    C("ones_f64_requires_grad", "ones", [1, 2], dtype="float64", requires_grad=True),
    C("full_float", "full", [2, 2], 1.5),
    C("full_int_infers_int64", "full", [3], 7),
    C("full_bool", "full", [2], True),
    C("full_f64", "full", [2, 1], -2.5, dtype="float64"),
    C("full_0d", "full", [], 3.25),
    C("eye_3", "eye", 3),
    C("eye_2x3", "eye", 2, 3),
    C("eye_int", "eye", 3, dtype="int64"),
    C("eye_0", "eye", 0),
    C("arange_end", "arange", 5),
    C("arange_start_end", "arange", 1, 4),
    C("arange_float_step", "arange", 0, 1, 0.25),
    C("arange_float_end", "arange", 5.0),
    C("arange_step3", "arange", 0, 10, 3),
    C("arange_negative_step", "arange", 5, 0, -2),
    C("arange_f64", "arange", 4, dtype="float64"),
    C("arange_empty", "arange", 3, 3),
    C("linspace_5", "linspace", 0, 1, 5),
    C("linspace_f64", "linspace", -1, 1, 4, dtype="float64"),
    C("linspace_1", "linspace", 2, 3, 1),
    C("linspace_0", "linspace", 2, 3, 0),
    C("linspace_7_float32_rounding", "linspace", -3.0, 2.5, 7),
    C("zeros_like_from_grad_input", "zeros_like", f32(2, 3)),
    C("zeros_like_int", "zeros_like", ints(3)),
    C("zeros_like_dtype", "zeros_like", f32(2), dtype="float64"),
    C("ones_like_f64", "ones_like", f64(2, 2)),
    C("ones_like_bool", "ones_like", bools(3)),
    C("ones_like_requires_grad", "ones_like", f32(2, grad=False), requires_grad=True),
    C("full_like_float", "full_like", f32(2, 3), 2.5),
    C("full_like_int", "full_like", ints(4), 3),
    C("full_like_int_truncates", "full_like", ints(2), 2.7),
    C("full_like_0d", "full_like", f64(), -1.0),
    C("rand_2x3", "rand", [2, 3]),
    C("rand_f64_requires_grad", "rand", [4], dtype="float64", requires_grad=True),
    C("randn_3x2", "randn", [3, 2]),
    C("randn_0d", "randn", []),
    C("randint_2x3", "randint", 0, 10, [2, 3]),
    C("randint_f32", "randint", -5, 5, [4], dtype="float32"),
    C("rand_like_f64", "rand_like", f64(2, 3)),
    C("randn_like_requires_grad", "randn_like", f32(3, grad=False), requires_grad=True),
    C("randint_like_high_kw", "randint_like", ints(2, 2), high=10),
    C("randint_like_low_high_float", "randint_like", f32(3), low=-3, high=3),
    # --- add / sub / rsub -------------------------------------------------------------------
    C("add_same_shape", "add", f32(2, 3), f32(2, 3)),
    C("add_broadcast_row", "add", f32(2, 3), f32(3)),
    C("add_broadcast_outer", "add", f32(4, 1), f32(1, 3)),
    C("add_broadcast_3d", "add", f32(2, 1, 3), f32(4, 1)),
    C("add_0d_and_2d", "add", f32(), f32(2, 3)),
    C("add_0d_0d_f64", "add", f64(), f64()),
    C("add_scalar_float", "add", f32(2, 3), 2.5),
    C("add_scalar_int", "add", f32(3), 2),
    C("add_scalar_first", "add", 2.0, f32(3)),
    C("add_alpha", "add", f32(2, 3), f32(2, 3), alpha=2),
    C("add_alpha_float_broadcast", "add", f32(3), f32(2, 3), alpha=-0.5),
    C("add_f32_f64", "add", f32(2, 3), f64(2, 3)),
    C("add_f32_and_0d_f64_stays_f32", "add", f32(2, 3), f64()),
    C("add_int_and_0d_f32", "add", ints(3), f32()),
    C("add_int_float_scalar", "add", ints(2, 3), 1.5),
    C("add_int_int", "add", ints(2, 3), ints(3)),
    C("add_int_f32", "add", ints(2, 3), f32(2, 3)),
    C("add_bool_bool", "add", bools(4), bools(4)),
    C("add_bool_int", "add", bools(3), ints(3)),
    C("add_empty", "add", f32(0, 3), f32(3)),
    C("add_one_input_without_grad", "add", f32(2, 3), f32(2, 3, grad=False)),
    C("add_no_grad_inputs", "add", f32(3, grad=False), f32(3, grad=False)),
    C("sub_same_shape", "sub", f32(2, 3), f32(2, 3)),
    C("sub_broadcast", "sub", f32(3, 1), f32(1, 4)),
    C("sub_scalar_f64", "sub", f64(4), 1.25),
    C("sub_scalar_first", "sub", 2.0, f32(3)),
    C("sub_alpha", "sub", f32(2, 3), f32(3), alpha=3),
    C("sub_f64_f32", "sub", f64(2), f32(2)),
    C("sub_int_int", "sub", ints(4), ints(4)),
    C("sub_0d", "sub", f32(), f32()),
    C("rsub_scalar", "rsub", f32(2, 3), 2.0),
    C("rsub_tensor", "rsub", f32(2, 3), f32(2, 3)),
    C("rsub_broadcast_alpha", "rsub", f32(2, 3), f32(3), alpha=2),
    C("rsub_scalar_alpha_f64", "rsub", f64(3), 1.5, alpha=0.5),
    C("rsub_int", "rsub", ints(3), 10),
    # --- mul / div --------------------------------------------------------------------------
    C("mul_same_shape", "mul", f32(2, 3), f32(2, 3)),
    C("mul_broadcast_3d", "mul", f32(2, 1, 3), f32(4, 3)),
    C("mul_scalar", "mul", f32(2, 3), 3.0),
    C("mul_scalar_first", "mul", 3, f32(2)),
    C("mul_zero_scalar", "mul", f32(3), 0.0),
    C("mul_int_float_scalar", "mul", ints(2, 3), 0.5),
    C("mul_int_int_scalar", "mul", ints(3), 2),
    C("mul_int_f32_tensor", "mul", ints(3), f32(3)),
    C("mul_f32_f64", "mul", f32(3), f64(3)),
    C("mul_bool_bool", "mul", bools(4), bools(4)),
    C("mul_0d_broadcast_f64", "mul", f64(), f64(2, 2)),
    C("mul_size1_dims", "mul", f32(1, 3), f32(2, 1)),
    C("mul_empty", "mul", f32(2, 0), f32(1)),
    C("div_same_shape", "div", f32(2, 3), nz(2, 3)),
    C("div_broadcast", "div", f32(2, 3), nz(3)),
    C("div_scalar", "div", f32(3), 4.0),
    C("div_scalar_first", "div", 1.0, nz(3)),
    C("div_int_int_true_division", "div", ints(4), vals([3, -2, 1, 4], "int64")),
    C("div_f64", "div", f64(2, 2), nz(2, 2, dtype="float64")),
    C("div_f32_f64", "div", f32(3), nz(3, dtype="float64")),
    C("div_floor", "div", f32(4), nz(4), rounding_mode="floor"),
    C("div_trunc", "div", f32(4), nz(4), rounding_mode="trunc"),
    C("div_floor_scalar", "div", f32(4), 0.75, rounding_mode="floor"),
    C("div_int_floor", "div", vals([7, -7, 6, -1, 0], "int64"), vals([2, 2, -4, 3, 5], "int64"),
      rounding_mode="floor"),
    C("div_by_zero", "div", vals([1.0, -1.0, 0.0]), vals([0.0, 0.0, 0.0])),
    # --- pow --------------------------------------------------------------------------------
    C("pow_square", "pow", f32(2, 3), 2),
    C("pow_sqrt_exponent", "pow", pos(4), 0.5),
    C("pow_zero_exponent_at_zero", "pow", vals([0.0, 2.0]), 0),
    C("pow_negative_exponent", "pow", nz(3), -1),
    C("pow_cube_negative_base", "pow", vals([-2.0, -0.5, 0.0, 1.5]), 3),
    C("pow_square_at_zero", "pow", vals([0.0, 2.0]), 2.0),
    C("pow_fractional_negative_base", "pow", vals([-1.0, 4.0]), 0.5),
    C("pow_tensor_tensor", "pow", pos(2, 3), f32(2, 3)),
    C("pow_tensor_broadcast", "pow", pos(3), f32(2, 1)),
    C("pow_tensor_zero_base", "pow", vals([0.0, 0.0, 1.0]), vals([2.0, 0.0, 3.0])),
    C("pow_scalar_base", "pow", 2.0, f32(2, 3)),
    C("pow_scalar_int_base", "pow", 3, f32(4)),
    C("pow_int_int_scalar", "pow", ints(4, lo=0), 2),
    C("pow_int_float_scalar", "pow", ints(3, lo=1), 0.5),
    C("pow_f32_f64", "pow", pos(3), f64(3)),
    C("pow_0d_f64", "pow", f64(), 3.0),
    # --- maximum / minimum / where ------------------------------------------------------------
    C("maximum_basic", "maximum", f32(2, 3), f32(2, 3)),
    C("maximum_ties", "maximum", vals([1.0, 2.0, 3.0]), vals([1.0, 0.0, 3.0])),
    C("maximum_broadcast", "maximum", f32(2, 3), f32(3)),
    C("maximum_broadcast_ties", "maximum", vals([[1.0, 2.0], [0.5, 2.0]]), vals([1.0, 2.0])),
    C("maximum_f32_f64", "maximum", f32(3), f64(3)),
    C("maximum_int", "maximum", ints(4), ints(4)),
    C("maximum_nan", "maximum", vals([NAN, 1.0, 2.0]), vals([0.0, NAN, 1.0])),
    C("minimum_basic", "minimum", f32(2, 3), f32(2, 3)),
    C("minimum_ties", "minimum", vals([1.0, 2.0, -3.0]), vals([1.0, 0.0, -3.0])),
    C("minimum_broadcast_0d", "minimum", f64(2, 2), f64()),
    C("minimum_f64_int", "minimum", f64(3), ints(3)),
    C("minimum_int", "minimum", ints(2, 2), ints(2)),
    C("minimum_nan", "minimum", vals([NAN, 1.0]), vals([0.0, NAN])),
    C("where_basic", "where", bools(2, 3), f32(2, 3), f32(2, 3)),
    C("where_broadcast_condition", "where", bools(3), f32(2, 3), f32(2, 1)),
    C("where_scalar_other", "where", bools(4), f32(4), 0.0),
    C("where_scalar_input_f64", "where", bools(4), 1.5, f64(4)),
    C("where_promote_f32_f64", "where", bools(3), f32(3), f64(3)),
    C("where_int", "where", bools(2, 2), ints(2, 2), ints(2, 2)),
    C("where_int_float", "where", bools(3), ints(3), f32(3)),
    C("where_0d_condition", "where", vals(True, "bool"), f32(3), f32(3)),
    C("where_other_without_grad", "where", bools(3), f32(3), f32(3, grad=False)),
    # --- comparisons and logical ops ----------------------------------------------------------
    *comparison_cases(),
    C("eq_nan", "eq", vals([NAN, 1.0]), vals([NAN, 1.0])),
    C("ne_nan", "ne", vals([NAN, 1.0]), vals([NAN, 1.0])),
    C("lt_nan_scalar", "lt", vals([NAN, 1.0]), 2.0),
    C("gt_bool", "gt", bools(4), bools(4)),
    C("isnan", "isnan", vals([0.0, NAN, INF, -1.0])),
    C("logical_not_bool", "logical_not", bools(4)),
    C("logical_not_float", "logical_not", vals([0.0, 1.5, -2.0, NAN])),
    C("logical_not_int", "logical_not", vals([0, 3, -1], "int64")),
    C("logical_not_0d", "logical_not", vals(False, "bool")),
    C("logical_and_bool", "logical_and", bools(2, 3), bools(2, 3)),
    C("logical_and_broadcast", "logical_and", bools(2, 3), bools(3)),
    C("logical_and_float_int", "logical_and", vals([0.0, 1.0, 2.5, 0.0]), vals([1, 0, 3, 0], "int64")),
    C("logical_or_bool", "logical_or", bools(2, 3), bools(2, 3)),
    C("logical_or_broadcast", "logical_or", bools(3, 1), bools(2)),
    C("logical_or_float", "logical_or", vals([0.0, 0.0, -1.0]), vals([0.0, 2.0, 0.0])),
    # --- unary elementwise ------------------------------------------------------------------
    *unary_cases(),
    C("neg_int", "neg", ints(2, 3)),
    C("neg_empty", "neg", f32(0, 2)),
    C("exp_int_to_float", "exp", ints(4)),
    C("exp_overflow_f32", "exp", vals([-100.0, 0.0, 88.0, 89.0])),
    C("exp2_int", "exp2", ints(3)),
    C("log_zero_and_negative", "log", vals([0.0, -1.0, 1.0])),
    C("log_int", "log", vals([1, 2, 10], "int64")),
    C("log1p_edges", "log1p", vals([-1.0, -2.0, 0.0])),
    C("expm1_small", "expm1", vals([0.00001, -0.00001, 0.0], "float64")),
    C("sqrt_at_zero", "sqrt", vals([0.0, 4.0, -1.0])),
    C("sqrt_int", "sqrt", vals([0, 1, 4, 9], "int64")),
    C("rsqrt_at_zero", "rsqrt", vals([0.0, 0.25, -1.0])),
    C("reciprocal_at_zero", "reciprocal", vals([0.0, -0.0, 2.0])),
    C("reciprocal_int", "reciprocal", vals([1, 2, -4], "int64")),
    C("square_int", "square", ints(4)),
    C("abs_at_zero", "abs", vals([-1.0, 0.0, 2.0])),
    C("abs_int", "abs", ints(5)),
    C("sign_at_zero", "sign", vals([-3.0, 0.0, 0.5])),
    C("sign_int", "sign", ints(5)),
    C("sin_int", "sin", ints(3)),
    C("tanh_saturation", "tanh", vals([-20.0, 0.0, 20.0])),
    C("sigmoid_saturation", "sigmoid", vals([-100.0, 0.0, 100.0])),
    C("sigmoid_int", "sigmoid", ints(3)),
    C("relu_at_zero", "relu", vals([-1.0, 0.0, 1.0])),
    C("relu_int", "relu", ints(5)),
    C("relu_empty", "relu", f32(0)),
    # --- clamp ------------------------------------------------------------------------------
    C("clamp_both_at_bounds", "clamp", vals([-1.0, -0.5, 0.0, 0.5, 1.0]), min=-0.5, max=0.5),
    C("clamp_min", "clamp", f32(2, 3), min=0.0),
    C("clamp_max", "clamp", f32(2, 3), max=0.25),
    C("clamp_min_at_bound", "clamp", vals([0.0, 2.0, -1.0]), min=0.0),
    C("clamp_positional_f64", "clamp", f64(4), -1.0, 1.0),
    C("clamp_min_greater_than_max", "clamp", f32(3), min=1.0, max=-1.0),
    C("clamp_int", "clamp", ints(5), min=-2, max=2),
    C("clamp_int_float_bound", "clamp", ints(4), min=0.5),
    C("clamp_0d", "clamp", f32(), min=-0.1, max=0.1),
    C("clamp_nan", "clamp", vals([NAN, 1.0]), min=0.0, max=0.5),
    C("clamp_tensor_bounds", "clamp", f32(2, 3), min=f32(3, grad=False), max=f32(2, 1, grad=False)),
    # --- sum / mean / prod ------------------------------------------------------------------
    C("sum_all", "sum", f32(2, 3)),
    C("sum_dim1", "sum", f32(2, 3), dim=1),
    C("sum_positional_dim", "sum", f32(3, 2), 0),
    C("sum_negative_dim_keepdim", "sum", f32(2, 3, 4), dim=-1, keepdim=True),
    C("sum_dim_tuple", "sum", f32(2, 3, 4), dim=[0, 2]),
    C("sum_dim_tuple_keepdim_f64", "sum", f64(2, 3, 4), dim=[-1, 0], keepdim=True),
    C("sum_dim_none", "sum", f32(2, 2), dim=None),
    C("sum_dim_empty_list", "sum", f32(2, 2), dim=[]),
    C("sum_int", "sum", ints(2, 3)),
    C("sum_int_dim", "sum", ints(2, 3), dim=0),
    C("sum_bool", "sum", bools(5)),
    C("sum_0d", "sum", f32()),
    C("sum_0d_dim0", "sum", f32(), dim=0),
    C("sum_empty", "sum", f32(0, 3)),
    C("sum_empty_dim0", "sum", f32(0, 3), dim=0),
    C("sum_size1_dim", "sum", f32(1, 3), dim=0),
    C("mean_all", "mean", f32(2, 3)),
    C("mean_dim0", "mean", f32(2, 3), dim=0),
    C("mean_dim_tuple", "mean", f32(2, 3, 2), dim=[0, 1]),
    C("mean_negative_dim_keepdim_f64", "mean", f64(3, 4), dim=-2, keepdim=True),
    C("mean_0d", "mean", f64()),
    C("mean_empty_is_nan", "mean", f32(0)),
    C("mean_size1_dims", "mean", f32(1, 3, 1), dim=[0, 2]),
    C("prod_all", "prod", f32(2, 3)),
    C("prod_dim1", "prod", f32(2, 3), dim=1),
    C("prod_negative_dim_keepdim", "prod", f32(2, 3), dim=-1, keepdim=True),
    C("prod_one_zero", "prod", vals([2.0, 0.0, 3.0])),
    C("prod_two_zeros", "prod", vals([0.0, 2.0, 0.0])),
    C("prod_dim_with_zeros", "prod", vals([[1.0, 0.0, 2.0], [3.0, 4.0, 0.5], [0.0, 0.0, 1.0]]), dim=1),
    C("prod_int", "prod", ints(4)),
    C("prod_f64_dim0", "prod", f64(3, 2), dim=0),
    C("prod_0d", "prod", f32()),
    C("prod_empty", "prod", f32(0)),
    # --- max / min / amax / amin / argmax / argmin ------------------------------------------
    C("max_all", "max", f32(2, 3)),
    C("max_all_ties", "max", vals([1.0, 3.0, 3.0])),
    C("max_dim", "max", f32(2, 3), 1),
    C("max_dim_keepdim", "max", f32(2, 3, 4), dim=-1, keepdim=True),
    C("max_dim_ties", "max", vals([[1.0, 2.0, 2.0], [5.0, 5.0, 0.0]]), dim=1),
    C("max_dim0_f64", "max", f64(3, 2), dim=0),
    C("max_int", "max", ints(6)),
    C("max_int_dim", "max", ints(2, 3), 0),
    C("max_bool", "max", bools(4)),
    C("max_0d", "max", f32()),
    C("max_0d_dim", "max", f32(), 0),
    C("max_nan", "max", vals([1.0, NAN, 2.0])),
    C("min_all", "min", f32(2, 3)),
    C("min_all_ties", "min", vals([-1.0, 3.0, -1.0, -1.0])),
    C("min_dim", "min", f32(2, 3), 0),
    C("min_dim_keepdim", "min", f64(2, 3), dim=1, keepdim=True),
    C("min_dim_ties", "min", vals([[1.0, 0.0, 0.0], [2.0, 3.0, 2.0]]), dim=-1),
    C("min_int_dim", "min", ints(3, 2), dim=1),
    C("min_0d", "min", f64()),
    C("amax_default_all", "amax", f32(2, 3)),
    C("amax_dim1", "amax", f32(2, 3), dim=1),
    C("amax_ties_all", "amax", vals([[1.0, 3.0], [3.0, 0.0]])),
    C("amax_ties_dim", "amax", vals([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), dim=1),
    C("amax_dim_tuple_keepdim", "amax", f32(2, 3, 4), dim=[0, 2], keepdim=True),
    C("amax_negative_dim_f64", "amax", f64(3, 4), dim=-2),
    C("amax_int", "amax", ints(2, 3), dim=0),
    C("amax_0d", "amax", f32()),
    C("amax_empty_dim_list", "amax", f32(2, 2), dim=[]),
    C("amin_default_all", "amin", f32(2, 3)),
    C("amin_ties_all", "amin", vals([0.0, -2.0, -2.0, 1.0])),
    C("amin_ties_dim_keepdim", "amin", vals([[1.0, 1.0], [0.0, 2.0]]), dim=0, keepdim=True),
    C("amin_dim_tuple_f64", "amin", f64(2, 2, 3), dim=[1, 2]),
    C("amin_int", "amin", ints(4)),
    C("argmax_all", "argmax", f32(2, 3)),
    C("argmax_dim", "argmax", f32(2, 3), dim=1),
    C("argmax_keepdim", "argmax", f32(2, 3), dim=0, keepdim=True),
    C("argmax_ties_first", "argmax", vals([1.0, 3.0, 3.0, 0.0])),
    C("argmax_int_negative_dim", "argmax", ints(3, 2), dim=-1),
    C("argmax_0d", "argmax", f32()),
    C("argmax_nan", "argmax", vals([1.0, NAN, 5.0])),
    C("argmin_all", "argmin", f64(3, 2)),
    C("argmin_dim_ties", "argmin", vals([[2.0, 0.0, 0.0], [1.0, 1.0, 3.0]]), dim=1),
    C("argmin_keepdim", "argmin", f32(2, 3), dim=1, keepdim=True),
    C("argmin_int", "argmin", ints(5)),
    # --- var / std --------------------------------------------------------------------------
    C("var_all", "var", f32(2, 3)),
    C("var_dim", "var", f32(2, 3), dim=1),
    C("var_positional_dim", "var", f32(3, 2), 0),
    C("var_correction0", "var", f32(5), correction=0),
    C("var_correction2_negative_dim", "var", f32(3, 4), dim=-1, correction=2),
    C("var_dim_tuple_keepdim_f64", "var", f64(2, 3, 4), dim=[0, 2], keepdim=True),
    C("var_constant", "var", vals([2.0, 2.0, 2.0])),
    C("var_single_element_nan", "var", vals([1.5])),
    C("std_all", "std", f32(2, 3)),
    C("std_dim_keepdim", "std", f32(2, 3), dim=0, keepdim=True),
    C("std_correction0_f64", "std", f64(4), correction=0),
    C("std_dim_tuple", "std", f32(2, 2, 3), dim=[1, 2]),
    C("std_constant", "std", vals([2.0, 2.0, 2.0])),
    C("std_single_element_nan", "std", vals([1.5])),
    # --- norm / logsumexp -------------------------------------------------------------------
    C("norm_default_fro", "norm", f32(2, 3)),
    C("norm_p2", "norm", f32(4), p=2),
    C("norm_p1", "norm", f32(2, 3), p=1),
    C("norm_pinf", "norm", f32(2, 3), p=INF),
    C("norm_pinf_ties", "norm", vals([1.0, -3.0, 3.0]), p=INF),
    C("norm_p3", "norm", f32(4), p=3),
    C("norm_fro_dims", "norm", f32(2, 3, 2), p="fro", dim=[0, 1]),
    C("norm_p2_dim", "norm", f32(2, 3), p=2, dim=1),
    C("norm_p2_dim_keepdim_f64", "norm", f64(2, 3), p=2, dim=-1, keepdim=True),
    C("norm_p1_dim", "norm", f32(3, 2), p=1, dim=0),
    C("norm_at_zero", "norm", vals([0.0, 0.0, 0.0])),
    C("norm_at_zero_p1", "norm", vals([0.0, 0.0]), p=1),
    C("norm_at_zero_pinf", "norm", vals([0.0, 0.0]), p=INF),
    C("norm_dim_row_of_zeros", "norm", vals([[0.0, 0.0], [3.0, 4.0]]), dim=1),
    C("norm_f64", "norm", f64(5)),
    C("norm_0d", "norm", f32()),
    C("logsumexp_dim1", "logsumexp", f32(2, 3), 1),
    C("logsumexp_keepdim", "logsumexp", f32(2, 3), dim=0, keepdim=True),
    C("logsumexp_dim_tuple_f64", "logsumexp", f64(2, 3, 2), dim=[0, 2]),
    C("logsumexp_negative_inf", "logsumexp", vals([[-INF, 0.0], [-INF, -INF]]), dim=1),
    C("logsumexp_large_values", "logsumexp", vals([1000.0, 1000.0, 999.0]), dim=0),
    C("logsumexp_int", "logsumexp", ints(2, 3), dim=1),
    C("logsumexp_0d", "logsumexp", f32(), 0),
    # --- linear algebra ---------------------------------------------------------------------
    C("matmul_1d_1d", "matmul", f32(3), f32(3)),
    C("matmul_2d_1d", "matmul", f32(2, 3), f32(3)),
    C("matmul_1d_2d", "matmul", f32(3), f32(3, 4)),
    C("matmul_2d_2d", "matmul", f32(2, 3), f32(3, 4)),
    C("matmul_3d_2d", "matmul", f32(5, 2, 3), f32(3, 4)),
    C("matmul_3d_1d", "matmul", f32(2, 2, 3), f32(3)),
    C("matmul_1d_3d", "matmul", f32(3), f32(2, 3, 4)),
    C("matmul_2d_3d", "matmul", f32(2, 3), f32(4, 3, 2)),
    C("matmul_3d_3d", "matmul", f32(2, 2, 3), f32(2, 3, 4)),
    C("matmul_batch_broadcast", "matmul", f32(2, 1, 2, 3), f32(3, 3, 2)),
    C("matmul_4d_4d_broadcast", "matmul", f32(2, 1, 2, 3), f32(1, 2, 3, 2)),
    C("matmul_3d_size1_batch", "matmul", f32(1, 2, 3), f32(4, 3, 2)),
    C("matmul_f64", "matmul", f64(2, 3), f64(3, 2)),
    C("matmul_int", "matmul", ints(2, 3), ints(3, 2)),
    C("matmul_empty_inner", "matmul", f32(2, 0), f32(0, 3)),
    C("matmul_rhs_without_grad", "matmul", f32(2, 3), f32(3, 2, grad=False)),
    C("matmul_3d_2d_lhs_without_grad", "matmul", f64(2, 2, 3, grad=False), f64(3, 2)),
    C("mv_basic", "mv", f32(2, 3), f32(3)),
    C("mv_f64_vec_without_grad", "mv", f64(3, 2), f64(2, grad=False)),
    C("mm_basic", "mm", f32(2, 3), f32(3, 4)),
    C("mm_f64", "mm", f64(3, 3), f64(3, 1)),
    C("mm_int", "mm", ints(2, 2), ints(2, 3)),
    C("mm_1x1", "mm", f32(1, 1), f32(1, 1)),
    C("mm_lhs_without_grad", "mm", f32(2, 3, grad=False), f32(3, 2)),
    C("bmm_basic", "bmm", f32(2, 2, 3), f32(2, 3, 4)),
    C("bmm_f64_batch1", "bmm", f64(1, 3, 2), f64(1, 2, 2)),
    C("bmm_int", "bmm", ints(2, 2, 2), ints(2, 2, 1)),
    C("dot_f32", "dot", f32(4), f32(4)),
    C("dot_f64", "dot", f64(3), f64(3)),
    C("dot_int", "dot", ints(3), ints(3)),
    C("dot_empty", "dot", f32(0), f32(0)),
    C("dot_one_without_grad", "dot", f32(3), f32(3, grad=False)),
    C("outer_f32", "outer", f32(3), f32(4)),
    C("outer_f64", "outer", f64(2), f64(2)),
    C("outer_int", "outer", ints(2), ints(3)),
    C("outer_rhs_without_grad", "outer", f32(2), f32(3, grad=False)),
    C("t_2d", "t", f32(2, 3)),
    C("t_1d", "t", f32(3)),
    C("t_0d", "t", f32()),
    C("t_int", "t", ints(2, 2)),
    C("transpose_2d", "transpose", f32(2, 3), 0, 1),
    C("transpose_3d", "transpose", f32(2, 3, 4), 0, 2),
    C("transpose_negative_dims", "transpose", f64(2, 3, 4), -1, -2),
    C("transpose_same_dim", "transpose", f32(2, 3), 1, 1),
    C("transpose_int", "transpose", ints(2, 3), 1, 0),
    C("permute_3d", "permute", f32(2, 3, 4), [2, 0, 1]),
    C("permute_negative", "permute", f32(2, 3, 4), [-1, 0, 1]),
    C("permute_identity", "permute", f32(2, 3), [0, 1]),
    C("permute_0d", "permute", f32(), []),
    C("permute_int", "permute", ints(2, 3), [1, 0]),
    C("gather_dim1", "gather", f32(2, 3), 1, vals([[0, 0], [2, 1]], "int64")),
    C("gather_dim0_repeats_f64", "gather", f64(3, 2), 0, vals([[2, 2], [0, 1], [2, 0]], "int64")),
    C("scatter_add_dim0", "scatter_add", f32(2, 3), 0, vals([[1, 0, 1], [1, 1, 0]], "int64"),
      f32(2, 3)),
    C("scatter_add_dim1_src_without_grad", "scatter_add", f64(2, 4), 1, vals([[3, 3], [0, 1]], "int64"),
      f64(2, 2, grad=False)),
    # --- shape ------------------------------------------------------------------------------
    C("reshape_basic", "reshape", f32(2, 3), [3, 2]),
    C("reshape_minus1", "reshape", f32(2, 3), [-1]),
    C("reshape_add_dims", "reshape", f64(2, 3), [2, -1, 1]),
    C("reshape_to_0d", "reshape", f32(1), []),
    C("reshape_0d_to_2d", "reshape", f32(), [1, 1]),
    C("reshape_empty", "reshape", f32(0, 3), [3, 0]),
    C("reshape_int", "reshape", ints(6), [2, 3]),
    C("view_flat", "view", f32(2, 3), [6]),
    C("view_minus1", "view", f32(2, 3), [3, -1]),
    C("view_3d_f64", "view", f64(6), [1, 2, 3]),
    C("view_0d_to_1", "view", f32(), [1]),
    C("view_int", "view", ints(4), [2, 2]),
    C("flatten_default", "flatten", f32(2, 3, 4)),
    C("flatten_start1", "flatten", f32(2, 3, 4), 1),
    C("flatten_end_negative", "flatten", f32(2, 3, 4), start_dim=0, end_dim=-2),
    C("flatten_1d_is_input", "flatten", f32(3)),
    C("flatten_0d", "flatten", f32()),
    C("flatten_start_equals_end", "flatten", f32(2, 3), start_dim=1, end_dim=1),
    C("flatten_int", "flatten", ints(2, 2)),
    C("squeeze_all", "squeeze", f32(1, 3, 1)),
    C("squeeze_dim0", "squeeze", f32(1, 3, 1), 0),
    C("squeeze_negative_dim", "squeeze", f32(1, 3, 1), dim=-1),
    C("squeeze_dim_not_size1", "squeeze", f32(2, 3), 1),
    C("squeeze_dim_tuple", "squeeze", f64(1, 3, 1), dim=[0, 2]),
    C("squeeze_nothing", "squeeze", f32(2, 3)),
    C("squeeze_0d", "squeeze", f32()),
    C("squeeze_int", "squeeze", ints(1, 2)),
    C("unsqueeze_0", "unsqueeze", f32(2, 3), 0),
    C("unsqueeze_negative", "unsqueeze", f32(2, 3), -1),
    C("unsqueeze_middle_f64", "unsqueeze", f64(2, 3), 1),
    C("unsqueeze_0d", "unsqueeze", f32(), 0),
    C("unsqueeze_int", "unsqueeze", ints(3), dim=0),
    C("expand_row", "expand", f32(1, 3), [4, 3]),
    C("expand_new_dims_minus1", "expand", f32(3, 1), [2, -1, 4]),
    C("expand_0d", "expand", f32(), [2, 2]),
    C("expand_same_shape", "expand", f64(2, 3), [2, 3]),
    C("expand_int", "expand", ints(1), [3]),
    C("broadcast_to_row", "broadcast_to", f32(3), [2, 3]),
    C("broadcast_to_column_f64", "broadcast_to", f64(2, 1), [2, 4]),
    C("broadcast_to_0d", "broadcast_to", f32(), [3]),
    C("clone_f32", "clone", f32(2, 3)),
    C("clone_f64_0d", "clone", f64()),
    C("clone_int", "clone", ints(3)),
    C("clone_without_grad", "clone", f32(2, grad=False)),
    C("contiguous_is_input", "contiguous", f32(2, 3)),
    C("contiguous_int", "contiguous", ints(2)),
    C("to_float64", "to", f32(2, 3), "float64"),
    C("to_float32_from_f64", "to", f64(3), "float32"),
    C("to_same_dtype_is_input", "to", f32(3), "float32"),
    C("to_int64_truncates", "to", vals([1.7, -1.7, 0.5]), "int64"),
    C("to_bool", "to", vals([0.0, 2.0, -0.5]), "bool"),
    C("to_float_from_int", "to", ints(3), "float32"),
    C("to_float_from_bool", "to", bools(3), "float64"),
    C("to_0d", "to", f32(), "float64"),
]

RANDOM_OPS = {"rand", "randn", "randint", "rand_like", "randn_like", "randint_like"}
METHOD_OPS = {"view", "expand", "contiguous", "to"}  # called as Tensor methods in torch

# ----------------------------------------------------------------------------------------------
# JSON encoding / decoding

DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
NONFINITE = {"NaN": NAN, "Infinity": INF, "-Infinity": -INF}


def jnum(x: Any) -> Any:
    """A JSON-safe scalar: non-finite floats become strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x


def encode_arg(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, TensorSpec):
        data = fill(value, rng)
        return {"tensor": {"shape": list(value.shape), "dtype": value.dtype,
                           "data": [jnum(x) for x in data], "requires_grad": value.grad}}
    if isinstance(value, (list, tuple)):
        return [encode_arg(v, rng) for v in value]
    return jnum(value)


def decode_arg(value: Any, path: Any, inputs: dict[int, Any]) -> Any:
    """JSON argument -> torch value; records every tensor built in ``inputs`` (id -> path)."""
    if isinstance(value, dict) and "tensor" in value:
        t = value["tensor"]
        data = [NONFINITE.get(x, x) if isinstance(x, str) else x for x in t["data"]]
        # (a tensor of its own, not a view of the flat one: an in-place op on a view records
        # CopySlices on the base)
        x = torch.tensor(data, dtype=DTYPES[t["dtype"]]).reshape(t["shape"]).clone()
        x.requires_grad_(t["requires_grad"])
        inputs[id(x)] = (path, x)
        return x
    if isinstance(value, list):
        sub = path if isinstance(path, list) else [path]
        return [decode_arg(v, [*sub, i], inputs) for i, v in enumerate(value)]
    if isinstance(value, str) and value in NONFINITE:
        return NONFINITE[value]
    return value


def tensor_record(x: torch.Tensor, with_data: bool = True) -> dict[str, Any]:
    data = [jnum(v) for v in x.detach().reshape(-1).tolist()] if with_data else None
    return {"shape": list(x.shape), "dtype": DTYPE_NAMES[x.dtype], "data": data}


def graph_record(node: Any, inputs: dict[int, Any]) -> Any:
    if node is None:
        return None
    name = type(node).__name__
    if name == "AccumulateGrad":
        return {"name": name, "variable": inputs[id(node.variable)][0]}
    return {"name": name, "next": [[graph_record(n, inputs), i] for n, i in node.next_functions]}


def call_torch(op: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if "dtype" in kwargs:
        kwargs = {**kwargs, "dtype": DTYPES[kwargs["dtype"]]}
    if op == "to":
        args = [args[0], DTYPES[args[1]], *args[2:]]
    if op in METHOD_OPS:
        return getattr(args[0], op)(*args[1:], **kwargs)
    return getattr(torch, op)(*args, **kwargs)


def run_case(case: Case) -> dict[str, Any]:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    args = [encode_arg(a, rng) for a in case.args]
    kwargs = {k: encode_arg(v, rng) for k, v in case.kwargs.items()}
    inputs: dict[int, Any] = {}
    targs = [decode_arg(a, i, inputs) for i, a in enumerate(args)]
    tkwargs = {k: decode_arg(v, k, inputs) for k, v in kwargs.items()}

    result = call_torch(case.op, targs, tkwargs)
    outs = list(result) if isinstance(result, tuple) else [result]
    random = case.op in RANDOM_OPS
    record: dict[str, Any] = {"id": case.id, "op": case.op, "args": args, "kwargs": kwargs,
                              "outputs": []}
    for out in outs:
        rec = tensor_record(out, with_data=not random)
        rec["requires_grad"] = out.requires_grad
        rec["is_leaf"] = out.is_leaf
        rec["grad_fn"] = graph_record(out.grad_fn, inputs)
        rec["same_object_as"] = inputs[id(out)][0] if id(out) in inputs else None
        record["outputs"].append(rec)

    first = outs[0]
    if first.dtype.is_floating_point and first.requires_grad:
        seed_data = np.round(rng.uniform(-1.0, 1.0, first.numel()), 2).tolist()
        seed = torch.tensor(seed_data, dtype=first.dtype).reshape(first.shape)
        first.backward(seed)
        record["seed"] = tensor_record(seed)
        record["grads"] = [
            {"variable": path, "grad": None if x.grad is None else tensor_record(x.grad)}
            for path, x in inputs.values() if x.requires_grad
        ]
    return record


def family_cases(family: str) -> tuple[list[Case], Path]:
    """The core cases live here; each later op family in ``scripts/goldens_<family>.py`` (a module
    with its own ``CASES`` list built from this file's helpers), written to its own JSON file."""
    if family == "core":
        return CASES, OUT
    import importlib

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    # run as a script, this file is __main__: let `from make_goldens import C, f32` in a family module
    # get these very helpers (a second import would make TensorSpec a different class)
    sys.modules.setdefault("make_goldens", sys.modules[__name__])
    module = importlib.import_module(f"goldens_{family}")
    return module.CASES, OUT.with_name(f"ops_{family}.json")


def main() -> None:
    family = sys.argv[1] if len(sys.argv) > 1 else "core"
    cases, out = family_cases(family)
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        sys.exit(f"duplicate case ids: {dupes}")
    warnings.simplefilter("ignore")  # e.g. std() with too few degrees of freedom
    torch.manual_seed(0)
    records = [run_case(c) for c in cases]
    header = {"torch_version": torch.__version__, "numpy_version": np.__version__,
              "generator": "scripts/make_goldens.py", "num_cases": len(records)}
    head = json.dumps(header, allow_nan=False)[:-1]
    body = ",\n".join(json.dumps(r, allow_nan=False, separators=(",", ":")) for r in records)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f'{head}, "cases": [\n{body}\n]}}\n')
    print(f"wrote {len(records)} cases to {out}")


if __name__ == "__main__":
    main()
