"""Golden cases for the in-place family: ``make_goldens.py inplace`` writes
tests/golden/ops_inplace.json.

make_goldens calls ``torch.<op>``; the in-place ops are Tensor methods in torch (``x.add_(y)``), so
importing this module gives torch a function of each name that calls the method on its first
argument (and ``setitem``: ``input[index] = value``, the index in getitem's JSON spelling). The
changed tensor is always a plain one (grad=False: torch refuses to change a leaf that requires grad
in place); the other arguments require grad where they take one, so the grads of those and the
history the write gives the plain tensor are recorded. Non-leaf inputs, views, versions and the
error cases are the scenarios of scripts/goldens_inplace_scenarios.py.
"""

from __future__ import annotations

from typing import Any

import torch
from goldens_indexing import _python_index
from make_goldens import C, bools, f32, f64, ints, nz, pos, vals

INPLACE = ("add_", "sub_", "mul_", "div_", "pow_", "neg_", "abs_", "exp_", "log_", "sqrt_", "sin_",
           "cos_", "tanh_", "sigmoid_", "relu_", "clamp_", "clamp_min_", "clamp_max_", "zero_",
           "fill_", "copy_", "masked_fill_", "index_fill_", "scatter_", "scatter_add_",
           "index_add_", "t_", "squeeze_", "unsqueeze_")


def _method(name: str) -> Any:
    return lambda input, *args, **kwargs: getattr(input, name)(*args, **kwargs)


def _setitem(input: torch.Tensor, index: Any, value: Any) -> torch.Tensor:
    input[_python_index(index)] = value
    return input


for _name in INPLACE:
    setattr(torch, _name, _method(_name))
torch.setitem = _setitem


def plain(*shape: int, lo: float = -2.0, hi: float = 2.0) -> Any:
    return f32(*shape, grad=False, lo=lo, hi=hi)


CASES = [
    # --- arithmetic: the other operand's gradient flows through the write ---------------------
    C("inplace_add_tensor", "add_", plain(2, 3), f32(2, 3)),
    C("inplace_add_broadcast_alpha", "add_", plain(2, 3), f32(3), alpha=2.5),
    C("inplace_add_number", "add_", plain(3), 1.5),
    C("inplace_add_f64_into_f32", "add_", plain(3), f64(3)),
    C("inplace_add_int_into_int", "add_", ints(4), ints(4)),
    C("inplace_sub_tensor_alpha", "sub_", plain(2, 2), f32(2, 2), alpha=0.5),
    C("inplace_sub_number", "sub_", plain(3), 0.25),
    C("inplace_mul_tensor", "mul_", plain(2, 3), f32(2, 3)),
    C("inplace_mul_number", "mul_", plain(3), -3.0),
    C("inplace_div_tensor", "div_", plain(2, 3), nz(2, 3)),
    C("inplace_div_number", "div_", plain(3), 4.0),
    C("inplace_div_floor", "div_", plain(4), nz(4, grad=False), rounding_mode="floor"),
    C("inplace_pow_number", "pow_", plain(3), 2),
    C("inplace_pow_tensor", "pow_", f32(3, grad=False, lo=0.2, hi=3.0), pos(3)),
    # --- unary ----------------------------------------------------------------------------------
    C("inplace_neg_", "neg_", plain(2, 3)),
    C("inplace_abs_", "abs_", plain(5)),
    C("inplace_exp_", "exp_", plain(4)),
    C("inplace_log_", "log_", plain(4, lo=0.2, hi=3.0)),
    C("inplace_sqrt_", "sqrt_", plain(4, lo=0.2, hi=3.0)),
    C("inplace_sin_", "sin_", plain(4)),
    C("inplace_cos_", "cos_", plain(4)),
    C("inplace_tanh_", "tanh_", plain(4)),
    C("inplace_sigmoid_", "sigmoid_", plain(4)),
    C("inplace_relu_", "relu_", plain(6)),
    C("inplace_relu_f64", "relu_", f64(6, grad=False)),
    # --- clamp ---------------------------------------------------------------------------------
    C("inplace_clamp_numbers", "clamp_", plain(6), -0.5, 0.5),
    C("inplace_clamp_min_only", "clamp_", plain(6), min=0.0),
    C("inplace_clamp_tensor_bounds", "clamp_", plain(4), f32(4, lo=-2.0, hi=-0.5), f32(4, lo=0.5, hi=2.0)),
    C("inplace_clamp_min_", "clamp_min_", plain(6), 0.25),
    C("inplace_clamp_max_", "clamp_max_", plain(6), -0.25),
    # --- zero_, fill_, copy_ ------------------------------------------------------------------
    C("inplace_zero_", "zero_", plain(2, 3)),
    C("inplace_zero_int", "zero_", ints(3)),
    C("inplace_fill_number", "fill_", plain(2, 2), 1.25),
    C("inplace_fill_0d_tensor", "fill_", plain(3), vals(2.5)),
    C("inplace_copy_same_shape", "copy_", plain(2, 3), f32(2, 3)),
    C("inplace_copy_broadcast", "copy_", plain(2, 3), f32(3)),
    C("inplace_copy_int_into_float", "copy_", plain(3), ints(3)),
    C("inplace_copy_f64_into_f32", "copy_", plain(2), f64(2)),
    # --- masked / indexed writes ----------------------------------------------------------------
    C("inplace_masked_fill_number", "masked_fill_", plain(2, 3), bools(2, 3), -1.0),
    C("inplace_masked_fill_broadcast_mask", "masked_fill_", plain(2, 3), bools(3), 0.0),
    C("inplace_masked_fill_0d_tensor", "masked_fill_", plain(2, 3), bools(2, 3), vals(3.0)),
    C("inplace_index_fill_number", "index_fill_", plain(3, 4), 1, vals([0, 3], "int64"), -2.0),
    C("inplace_index_fill_0d_tensor", "index_fill_", plain(3, 4), 0, vals([2], "int64"), vals(1.5)),
    C("inplace_scatter_src", "scatter_", plain(3, 4), 0, vals([[0, 1, 2, 0]], "int64"), f32(1, 4)),
    C("inplace_scatter__value", "scatter_", plain(3, 4), 1, vals([[1], [0], [3]], "int64"), 7.0),
    C("inplace_scatter_add_", "scatter_add_", plain(3, 4), 0, vals([[0, 1, 2, 0], [2, 2, 1, 0]], "int64"),
      f32(2, 4)),
    C("inplace_index_add_", "index_add_", plain(4, 3), 0, vals([3, 0, 3], "int64"), f32(3, 3)),
    C("inplace_index_add__alpha", "index_add_", plain(2, 4), 1, vals([1, 2], "int64"), f32(2, 2), alpha=-2.0),
    # --- a new shape on the same storage --------------------------------------------------------
    C("inplace_t_", "t_", plain(2, 3)),
    C("inplace_t_1d", "t_", plain(3)),
    C("inplace_squeeze_all", "squeeze_", plain(2, 1, 3, 1)),
    C("inplace_squeeze_dim", "squeeze_", plain(2, 1, 3), 1),
    C("inplace_unsqueeze_", "unsqueeze_", plain(2, 3), 1),
    # --- setitem: basic indexing writes through a view (CopySlices), advanced is index_put_ ----
    C("inplace_setitem_int_number", "setitem", plain(3, 2), 1, 5.0),
    C("inplace_setitem_slice_tensor", "setitem", plain(4, 2), {"start": 1, "stop": 3}, f32(2, 2)),
    C("inplace_setitem_broadcast_value", "setitem", plain(3, 4), [{"start": 0, "stop": 2}, 1], f32(1)),
    C("inplace_setitem_ellipsis", "setitem", plain(2, 3), "...", f32(3)),
    C("inplace_setitem_step", "setitem", plain(6), {"start": 0, "step": 2}, f32(3)),
    C("inplace_setitem_int_list", "setitem", plain(4, 2), [[0, 3]], f32(2, 2)),
    C("inplace_setitem_int_tensor_number", "setitem", plain(5), vals([4, 1], "int64"), -1.0),
    C("inplace_setitem_mask", "setitem", plain(2, 3), bools(2, 3), 0.5),
    C("inplace_setitem_mixed", "setitem", plain(3, 4), [[0, 2], {"start": 1, "stop": 3}], f32(2)),
    C("inplace_setitem_f64", "setitem", f64(3, 3, grad=False), [1, 1], f64(1)),
    # --- views: narrow and select (the other view ops have their cases in their families) ------
    C("inplace_narrow", "narrow", f32(3, 4), 1, 1, 2),
    C("inplace_narrow_negative_start", "narrow", f32(4, 2), 0, -3, 2),
    C("inplace_select", "select", f32(3, 4), 1, 2),
    C("inplace_select_negative", "select", f64(3, 4), 0, -1),
    # --- the out-of-place forms of the index writes ---------------------------------------------
    C("inplace_index_fill", "index_fill", f32(3, 4), 1, vals([0, 3], "int64"), -2.0),
    C("inplace_index_fill_tensor_value", "index_fill", f32(3, 4), 0, vals([2, 0], "int64"), vals(1.5)),
    C("inplace_scatter", "scatter", f32(3, 4), 0, vals([[0, 1, 2, 0]], "int64"), f32(1, 4)),
    C("inplace_scatter_value", "scatter", f32(3, 4), 1, vals([[1], [0], [3]], "int64"), 7.0),
    C("inplace_index_add", "index_add", f32(4, 3), 0, vals([3, 0, 3], "int64"), f32(3, 3)),
    C("inplace_index_add_alpha", "index_add", f64(2, 4), 1, vals([1, 2], "int64"), f64(2, 2), alpha=0.5),
]
