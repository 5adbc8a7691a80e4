"""Gradient-check cases for the in-place ops and the index writes (same spelling as op_cases.py,
merged into it). test_gradcheck runs an in-place op on a clone of its first input (torch refuses a
leaf that requires grad), so the checks differentiate through the write: the clone's history
rebased onto the op's node, or CopySlices for setitem through a view.
"""

from __future__ import annotations

from tests.engine.op_cases import B, C, Case, I, S

_IDX = I([[0, 2], [1, 1]])

CASES: dict[str, list[Case]] = {
    # views
    "narrow": [C(S(3, 4), 1, 1, 2), C(S(4, 2), 0, -3, 2)],
    "select": [C(S(3, 4), 1, 2), C(S(3, 4), 0, -1)],
    # the out-of-place index writes
    "index_fill": [C(S(3, 4), 1, I([0, 3]), -2.0), C(S(3, 4), 0, I([2, 0]), S())],
    "scatter": [C(S(2, 3), 1, I([[0, 2], [1, 0]]), S(2, 2)), C(S(2, 3), 0, I([[1, 0, 1]]), 5.0)],
    "index_add": [C(S(4, 3), 0, I([3, 0, 3]), S(3, 3)), C(S(2, 4), 1, I([1, 2]), S(2, 2), alpha=0.5)],
    # in place, on a clone
    "add_": [C(S(2, 3), S(2, 3)), C(S(2, 3), S(3), alpha=2.0), C(S(3), 1.5)],
    "sub_": [C(S(2, 3), S(2, 3), alpha=0.5), C(S(3), 2.0)],
    "mul_": [C(S(2, 3), S(2, 3)), C(S(2, 3), S(3)), C(S(3), -3.0)],
    "div_": [C(S(2, 3), S(2, 3, domain="positive")), C(S(3), 4.0)],
    "pow_": [C(S(3, domain="positive"), S(3)), C(S(3), 2), C(S(3, domain="positive"), 1.5)],
    "neg_": [C(S(2, 3))], "abs_": [C(S(5, domain="distinct"))], "exp_": [C(S(4))],
    "log_": [C(S(4, domain="positive"))], "sqrt_": [C(S(4, domain="positive"))],
    "sin_": [C(S(4))], "cos_": [C(S(4))], "tanh_": [C(S(4))], "sigmoid_": [C(S(4))],
    "relu_": [C(S(6, domain="distinct"))],
    "clamp_": [C(S(6, domain="distinct"), -0.5, 0.5), C(S(4, domain="distinct"), min=0.1)],
    "clamp_min_": [C(S(6, domain="distinct"), 0.25)],
    "clamp_max_": [C(S(6, domain="distinct"), -0.25)],
    "zero_": [C(S(2, 3))],
    "fill_": [C(S(2, 2), 1.25), C(S(3), S())],
    "copy_": [C(S(2, 3), S(2, 3)), C(S(2, 3), S(3))],
    "masked_fill_": [C(S(2, 3), B([True, False, True]), 2.0), C(S(3), B([False, True, True]), S())],
    "index_fill_": [C(S(3, 4), 1, I([0, 3]), -2.0), C(S(3, 4), 0, I([2]), S())],
    "scatter_": [C(S(2, 3), 1, I([[0, 2], [1, 0]]), S(2, 2)), C(S(2, 3), 1, _IDX, 7.0)],
    "scatter_add_": [C(S(2, 3), 1, _IDX, S(2, 2))],
    "index_add_": [C(S(4, 3), 0, I([3, 0, 3]), S(3, 3)), C(S(2, 4), 1, I([1, 2]), S(2, 2), alpha=-2.0)],
    "t_": [C(S(2, 3))], "squeeze_": [C(S(2, 1, 3)), C(S(2, 1, 3), 1)], "unsqueeze_": [C(S(2, 3), 1)],
    # setitem: basic (a write through a view: CopySlices) and advanced (index_put_)
    "setitem": [
        C(S(3, 2), 1, 5.0), C(S(4, 2), slice(1, 3), S(2, 2)),
        C(S(3, 4), [slice(0, 2), 1], S(1)), C(S(2, 3), ..., S(3)),
        C(S(6), slice(0, None, 2), S(3)), C(S(3, 3), [1, 1], S()),
        C(S(4, 2), [[0, 3]], S(2, 2)), C(S(5), I([4, 1]), -1.0),
        C(S(2, 3), B([[True, False, True], [False, False, True]]), S()),
        C(S(3, 4), [[0, 2], slice(1, 3)], S(2)),
    ],
}

NONDIFF: dict[str, list[Case]] = {}
