"""Golden cases for the indexing family: ``make_goldens.py indexing`` writes
tests/golden/ops_indexing.json.

make_goldens calls ``torch.<op>``. Three of this family's ops have no such function, so importing
this module gives torch those names (as goldens_linalg.py does for ``solve``):

* ``getitem``: ``input[index]``, the index given in the registry op's JSON spelling (a list is the
  tuple of items; ``{"start", "stop", "step"}`` a slice; ``"..."`` Ellipsis; a list item an
  advanced index), turned into Python's index here;
* ``pad``: ``torch.nn.functional.pad``;
* ``repeat``: the method ``Tensor.repeat``.

Values are random with 3 decimals, so sort and topk see no ties, except in the sort cases that
make them on purpose: torch's CPU sort keeps tied entries in index order, as the engine does (its
topk order among ties varies, so no case pins it).
"""

from __future__ import annotations

from typing import Any

import torch
from make_goldens import INF, NAN, C, bools, f32, f64, ints, vals


def _python_index(spec: Any) -> Any:
    def item(v: Any) -> Any:
        if isinstance(v, dict):
            return slice(v.get("start"), v.get("stop"), v.get("step"))
        if isinstance(v, str) and v == "...":
            return Ellipsis
        return v  # ints, None, bools, tensors and lists (advanced indices) mean the same to torch

    return tuple(item(v) for v in spec) if isinstance(spec, list) else item(spec)


torch.getitem = lambda input, index: input[_python_index(index)]  # see the module docstring
torch.pad = torch.nn.functional.pad
torch.repeat = torch.Tensor.repeat

S = {}  # the full slice x[:] / ":" item
TIES = [1.0, 3.0, 1.0, 2.0, 3.0, 1.0]

CASES = [
    # --- getitem: basic items, each its own node, left to right -------------------------------
    C("getitem_int", "getitem", f32(3, 4), 1),
    C("getitem_negative_int", "getitem", f32(3, 4), -1),
    C("getitem_int_int", "getitem", f32(3, 4, 2), [0, 2]),
    C("getitem_to_0d_f64", "getitem", f64(3, 4), [1, 2]),
    C("getitem_1d_to_0d", "getitem", f32(4), 3),
    C("getitem_slice_start", "getitem", f32(5, 3), {"start": 1}),
    C("getitem_slice_step", "getitem", f32(6, 2), {"start": 0, "stop": 5, "step": 2}),
    C("getitem_slice_negative_bounds", "getitem", f32(5, 3), {"start": -3, "stop": -1}),
    C("getitem_slice_empty", "getitem", f32(3, 4), {"start": 2, "stop": 1}),
    C("getitem_lone_full_slice_records", "getitem", f32(3, 2), S),
    C("getitem_full_slice_in_tuple_is_alias", "getitem", f32(3, 2), [S]),
    C("getitem_full_slices_skipped", "getitem", f32(3, 4), [S, {"start": 1}]),
    C("getitem_slice_past_end_skipped", "getitem", f32(3, 4), [{"start": 0, "stop": 10}, {"start": 1}]),
    C("getitem_negative_start_not_skipped", "getitem", f32(3, 4), [S, {"start": -4}]),
    C("getitem_select_then_slice", "getitem", f32(3, 4, 5), [0, {"start": 1}]),
    C("getitem_slice_then_select", "getitem", f32(3, 4, 5), [{"start": 1}, 0]),
    C("getitem_none", "getitem", f32(3), None),
    C("getitem_slice_then_none", "getitem", f32(3, 4), [{"start": 1}, None]),
    C("getitem_none_then_int", "getitem", f32(3, 4), [None, 0]),
    C("getitem_none_none", "getitem", f32(2), [None, None]),
    C("getitem_ellipsis_is_alias", "getitem", f32(2, 3), "..."),
    C("getitem_ellipsis_int", "getitem", f32(2, 3, 4), ["...", 1]),
    C("getitem_int_ellipsis_none", "getitem", f32(2, 3, 4), [1, "...", None]),
    C("getitem_two_ellipses", "getitem", f32(2, 3, 4), ["...", 0, "..."]),
    C("getitem_empty_tuple_is_alias", "getitem", f32(2, 3), []),
    C("getitem_int_input", "getitem", ints(3, 4), [1, {"start": 1}]),
    C("getitem_without_grad", "getitem", f32(3, 2, grad=False), 1),
    # --- getitem: advanced items, one IndexBackward0 after the basic ones ---------------------
    C("getitem_int_tensor", "getitem", f32(4, 3), vals([2, 0, 2], "int64")),
    C("getitem_int_tensor_repeats_f64", "getitem", f64(3, 2), vals([0, 0, 2, 0], "int64")),
    C("getitem_int_tensor_2d", "getitem", f32(4, 3), vals([[0, 1], [3, 3]], "int64")),
    C("getitem_0d_int_tensor_selects", "getitem", f32(3, 2), vals(1, "int64")),
    C("getitem_int_list", "getitem", f32(4, 3), [[3, 1]]),
    C("getitem_negative_list", "getitem", f32(4, 3), [[-1, 0, -4]]),
    C("getitem_empty_list", "getitem", f32(4, 3), [[]]),
    C("getitem_bool_mask_rows", "getitem", f32(4, 3), vals([True, False, True, True], "bool")),
    C("getitem_bool_mask_full", "getitem", f32(3, 4), bools(3, 4)),
    C("getitem_bool_list", "getitem", f32(3, 2), [[True, False, True]]),
    C("getitem_adv_second_dim", "getitem", f32(3, 4, 2), [S, [0, 3, 0]]),
    C("getitem_adv_after_select", "getitem", f32(3, 4, 2), [1, [0, 3]]),
    C("getitem_adv_then_select", "getitem", f32(3, 4, 2), [[0, 2], 1]),
    C("getitem_adv_after_slice", "getitem", f32(3, 4, 2), [{"start": 1}, [0, 3]]),
    C("getitem_two_adv_adjacent", "getitem", f32(3, 4, 2), [[0, 2], [1, 3]]),
    C("getitem_two_adv_apart", "getitem", f32(3, 4, 2), [[0, 2], S, [1, 0]]),
    C("getitem_adv_broadcast", "getitem", f32(3, 4), [[[0], [2]], [1, 3, 0]]),
    C("getitem_adv_none_adv", "getitem", f32(3, 4, 2), [[0, 1], None, [1, 0]]),
    C("getitem_none_then_adv", "getitem", f32(3, 4), [None, vals([0, 2], "int64")]),
    C("getitem_mask_then_slice", "getitem", f32(3, 4),
      [vals([True, False, True], "bool"), {"start": 1}]),
    C("getitem_slice_then_mask", "getitem", f32(3, 4),
      [{"start": 1}, vals([True, False, True, True], "bool")]),
    C("getitem_true", "getitem", f32(2, 3), True),
    C("getitem_false", "getitem", f32(2, 3), False),
    C("getitem_adv_int_input", "getitem", ints(3, 2), [[2, 0]]),
    # --- index_select -------------------------------------------------------------------------
    C("index_select_dim0_repeats", "index_select", f32(4, 3), 0, vals([3, 0, 3], "int64")),
    C("index_select_dim1_f64", "index_select", f64(2, 5), 1, vals([4, 1], "int64")),
    C("index_select_negative_dim", "index_select", f32(2, 3, 2), -2, vals([2], "int64")),
    C("index_select_empty_index", "index_select", f32(3, 2), 1, vals([], "int64")),
    C("index_select_0d_index", "index_select", f32(3, 2), 0, vals(1, "int64")),
    C("index_select_0d_input", "index_select", f32(), 0, vals([0], "int64")),
    C("index_select_int_input", "index_select", ints(3, 2), 0, vals([1, 1], "int64")),
    # --- gather / scatter_add (beyond the core file's cases) ----------------------------------
    C("gather_3d_last_dim", "gather", f32(2, 2, 3), -1, vals([[[2, 0], [1, 1]], [[0, 0], [2, 1]]], "int64")),
    C("gather_smaller_index", "gather", f64(3, 3), 0, vals([[2, 1]], "int64")),
    C("scatter_add_smaller_index", "scatter_add", f32(3, 3), 1, vals([[2], [0]], "int64"),
      f32(2, 2, grad=False)),  # with grad, torch itself fails: its src gradient has index's shape
    C("gather_1d", "gather", f32(4), 0, vals([3, 3, 0], "int64")),
    C("scatter_add_repeats_1d", "scatter_add", f32(3), 0, vals([0, 0, 2, 0], "int64"), f32(4)),
    C("scatter_add_dim1_f64", "scatter_add", f64(2, 3), 1, vals([[2, 2], [0, 1]], "int64"),
      f64(2, 2)),
    C("scatter_add_input_without_grad", "scatter_add", f32(2, 2, grad=False), 0,
      vals([[1, 1], [0, 1]], "int64"), f32(2, 2)),
    # --- masked_fill --------------------------------------------------------------------------
    C("masked_fill_number", "masked_fill", f32(2, 3), bools(2, 3), 1.5),
    C("masked_fill_mask_broadcasts", "masked_fill", f32(2, 3), bools(3), -2.0),
    C("masked_fill_both_broadcast", "masked_fill", f32(3), bools(2, 1), 0.0),
    C("masked_fill_int_value", "masked_fill", f32(2, 3), bools(2, 3), 2),
    C("masked_fill_nan", "masked_fill", f32(4), vals([True, False, False, True], "bool"), NAN),
    C("masked_fill_tensor_value", "masked_fill", f32(2, 3), bools(2, 3), vals(2.5)),
    C("masked_fill_tensor_value_no_grad_f64", "masked_fill", f64(2, 2), bools(2, 2),
      vals(1.0, "float64", grad=False)),
    C("masked_fill_f64_value_into_f32", "masked_fill", f32(3), bools(3), vals(-0.5, "float64")),
    C("masked_fill_int_input", "masked_fill", ints(2, 3), bools(2, 3), 7),
    # --- cat / stack --------------------------------------------------------------------------
    C("cat_dim0", "cat", [f32(2, 3), f32(1, 3)]),
    C("cat_dim1_three", "cat", [f32(2, 3), f32(2, 1), f32(2, 2)], 1),
    C("cat_negative_dim_3d", "cat", [f32(2, 1, 2), f32(2, 1, 3)], -1),
    C("cat_one_without_grad", "cat", [f32(2, 3), f32(2, 3, grad=False)]),
    C("cat_promotes_f32_f64", "cat", [f32(2), f64(3)]),
    C("cat_float_and_int", "cat", [f32(2, 2), ints(1, 2)]),
    C("cat_ints", "cat", [ints(2), ints(3)]),
    C("cat_skips_legacy_empty", "cat", [f32(2, 3), vals([], "float32", grad=False), f32(1, 3)]),
    C("cat_single", "cat", [f32(3)]),
    C("cat_dim_kw", "cat", [f64(1, 2), f64(1, 2)], dim=1),
    C("stack_dim0", "stack", [f32(2, 3), f32(2, 3)]),
    C("stack_dim1", "stack", [f32(2, 3), f32(2, 3), f32(2, 3, grad=False)], 1),
    C("stack_last_dim", "stack", [f32(2, 3), f32(2, 3)], -1),
    C("stack_dim2", "stack", [f64(2, 2), f64(2, 2)], 2),
    C("stack_0d", "stack", [f32(), f32()]),
    C("stack_promotes", "stack", [f32(2), f64(2)]),
    C("stack_ints", "stack", [ints(2), ints(2)]),
    # --- split / chunk / unbind ---------------------------------------------------------------
    C("split_int", "split", f32(5, 2), 2),
    C("split_int_dim1", "split", f32(3, 4), 2, 1),
    C("split_int_larger_than_dim", "split", f32(3, 4), 5),
    C("split_sizes", "split", f32(4, 3), [1, 3]),
    C("split_sizes_with_zero_dim1", "split", f64(3, 4), [2, 0, 2], 1),
    C("split_empty_dim_size0", "split", f32(0, 2), 0),
    C("split_int_input", "split", ints(4), 3),
    C("chunk_even", "chunk", f32(6, 2), 3),
    C("chunk_uneven", "chunk", f32(5, 2), 3),
    C("chunk_dim1_fewer", "chunk", f32(3, 4), 3, 1),
    C("chunk_more_than_size", "chunk", f32(4, 2), 6),
    C("chunk_empty_dim", "chunk", f32(0, 2), 2),
    C("unbind_dim0", "unbind", f32(3, 2)),
    C("unbind_dim1", "unbind", f32(2, 3), 1),
    C("unbind_last_f64", "unbind", f64(2, 2, 2), -1),
    C("unbind_single", "unbind", f32(1, 3)),
    # --- flip / roll / repeat / tile ----------------------------------------------------------
    C("flip_dim0", "flip", f32(2, 3), [0]),
    C("flip_both", "flip", f32(2, 3), [0, 1]),
    C("flip_negative_dim_3d", "flip", f64(2, 3, 2), [-1, 0]),
    C("flip_no_dims", "flip", f32(2, 3), []),
    C("flip_0d", "flip", f32(), [0]),
    C("flip_int", "flip", ints(4), [0]),
    C("roll_dim0", "roll", f32(3, 2), 1, 0),
    C("roll_negative_dim1", "roll", f32(2, 3), -1, 1),
    C("roll_two_dims", "roll", f32(2, 3), [1, 2], [0, 1]),
    C("roll_flattened", "roll", f32(2, 3), 2),
    C("roll_more_than_size", "roll", f64(3), 5),
    C("roll_same_dim_twice", "roll", f32(2, 3), [1, 1], [1, 1]),
    C("roll_0d", "roll", f32(), 1),
    C("repeat_rows", "repeat", f32(2, 3), [2, 1]),
    C("repeat_ones", "repeat", f32(2, 3), [1, 1]),
    C("repeat_new_dim", "repeat", f32(2, 3), [2, 1, 3]),
    C("repeat_0d", "repeat", f32(), [3]),
    C("repeat_zero", "repeat", f32(2, 3), [0, 1]),
    C("repeat_f64", "repeat", f64(3), [2, 2]),
    C("repeat_int", "repeat", ints(2), [2]),
    C("tile_short_dims", "tile", f32(2, 3), [2]),
    C("tile_more_dims", "tile", f32(2, 3), [2, 1, 1]),
    C("tile_empty_dims", "tile", f32(2, 3), []),
    C("tile_0d", "tile", f64(), [2]),
    # --- pad ----------------------------------------------------------------------------------
    C("pad_constant_last_dim", "pad", f32(2, 3), [1, 2]),
    C("pad_constant_two_dims_value", "pad", f32(2, 3), [1, 1, 2, 0], value=1.5),
    C("pad_constant_crop", "pad", f32(2, 3), [-1, 1]),
    C("pad_constant_crop_both", "pad", f64(3, 4), [-1, -1, 1, 0], value=2.0),
    C("pad_constant_zero", "pad", f32(2, 3), [0, 0]),
    C("pad_constant_1d", "pad", f32(3), [2, 1], "constant", -1.0),
    C("pad_constant_int", "pad", ints(2, 2), [1, 1], value=3),
    C("pad_reflect_1d", "pad", f32(2, 3), [2, 1], mode="reflect"),
    C("pad_reflect_1d_batched", "pad", f32(2, 2, 4), [3, 1], mode="reflect"),
    C("pad_reflect_negative", "pad", f32(2, 4), [-1, 2], mode="reflect"),
    C("pad_reflect_2d", "pad", f32(1, 3, 4), [1, 2, 2, 1], mode="reflect"),
    C("pad_reflect_3d", "pad", f64(1, 2, 3, 3), [1, 1, 2, 1, 1, 0], mode="reflect"),
    C("pad_replicate_1d_wide", "pad", f32(2, 3), [4, 1], mode="replicate"),
    C("pad_replicate_2d_batched", "pad", f32(2, 2, 2, 3), [1, 1, 1, 2], mode="replicate"),
    C("pad_replicate_3d", "pad", f32(1, 1, 2, 2, 2), [1, 1, 1, 0, 0, 1], mode="replicate"),
    # --- tril / triu / diagonal ---------------------------------------------------------------
    C("tril_square", "tril", f32(3, 3)),
    C("tril_wide_above", "tril", f32(3, 4), 1),
    C("tril_below_batched", "tril", f64(2, 3, 3), -1),
    C("tril_far_below", "tril", f32(2, 3), -10),
    C("tril_int", "tril", ints(3, 3)),
    C("triu_square", "triu", f32(3, 3)),
    C("triu_tall_above", "triu", f32(4, 2), 1),
    C("triu_below_batched", "triu", f32(2, 2, 3), -1),
    C("diagonal_main", "diagonal", f32(3, 4)),
    C("diagonal_above", "diagonal", f32(3, 4), 1),
    C("diagonal_below", "diagonal", f64(4, 3), -2),
    C("diagonal_past_the_end", "diagonal", f32(3, 4), 5),
    C("diagonal_dims_0_2", "diagonal", f32(2, 3, 4), 0, 0, 2),
    C("diagonal_swapped_dims", "diagonal", f32(3, 4), -1, 1, 0),
    C("diagonal_kwargs_batched", "diagonal", f32(2, 3, 3), offset=1, dim1=-2, dim2=-1),
    # --- cumsum / cumprod ---------------------------------------------------------------------
    C("cumsum_dim0", "cumsum", f32(2, 3), 0),
    C("cumsum_dim1_f64", "cumsum", f64(2, 3), 1),
    C("cumsum_last_3d", "cumsum", f32(2, 2, 3), -1),
    C("cumsum_int_to_int64", "cumsum", ints(4), 0),
    C("cumsum_bool_to_int64", "cumsum", bools(4), 0),
    C("cumsum_dtype_f64", "cumsum", f32(2, 3), 1, dtype="float64"),
    C("cumsum_0d", "cumsum", f32(), 0),
    C("cumprod_dim1", "cumprod", f32(2, 3), 1),
    C("cumprod_dim0_f64", "cumprod", f64(3, 2), 0),
    C("cumprod_one_zero", "cumprod", vals([1.5, 2.0, 0.0, 3.0, -0.5]), 0),
    C("cumprod_zeros_per_row", "cumprod", vals([[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, 2.0],
                                                [1.0, 2.0, 3.0, 0.0]], "float64"), 1),
    C("cumprod_int", "cumprod", ints(4, lo=1), 0),
    C("cumprod_dtype_f64", "cumprod", f32(3), 0, dtype="float64"),
    # --- sort / topk --------------------------------------------------------------------------
    C("sort_last_dim", "sort", f32(2, 4)),
    C("sort_dim0", "sort", f32(3, 2), 0),
    C("sort_descending", "sort", f32(2, 4), descending=True),
    C("sort_stable_kw_f64", "sort", f64(5), stable=True),
    C("sort_stable_false_kw", "sort", f32(4), stable=False),
    C("sort_ties_ascending", "sort", vals(TIES)),
    C("sort_ties_descending", "sort", vals(TIES), descending=True),
    C("sort_ties_stable_descending", "sort", vals(TIES), dim=0, descending=True, stable=True),
    C("sort_nan_and_inf", "sort", vals([2.0, NAN, -INF, 1.0, INF])),
    C("sort_nan_descending", "sort", vals([2.0, NAN, 1.0]), descending=True),
    C("sort_0d", "sort", f32()),
    C("sort_int", "sort", ints(5)),
    C("topk_last_dim", "topk", f32(2, 5), 2),
    C("topk_dim0", "topk", f32(4, 3), 2, 0),
    C("topk_smallest", "topk", f64(2, 5), 3, largest=False),
    C("topk_k0", "topk", f32(2, 3), 0),
    C("topk_all", "topk", f32(4), 4),
    C("topk_0d", "topk", f32(), 1),
    C("topk_nan_is_largest", "topk", vals([2.0, NAN, 1.0, 3.0]), 2),
    C("topk_int", "topk", vals([3, -1, 7, 0, 5], "int64"), 2),
]
