"""Indexing and joining beyond the shared gradient checks and goldens: Python's x[...] spelling,
the JSON index spec, torch's node chains and messages, multi-output nodes, cumprod at zeros,
size limits and the cost of the indexing backward."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

import engine as ge
from engine.errors import ArgumentError, DTypeError, ShapeError
from engine.gradcheck import gradcheck, gradgradcheck
from service.spellings import index_value

GETITEM = ge.OPS["getitem"].fn  # the registry's spelling: a list is the tuple of items


def leaf(*shape: int, dtype: str = "float64") -> ge.Tensor:
    data = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) * 0.5 - 1.25
    return ge.tensor(data, dtype=dtype, requires_grad=True)


def chain(t: ge.Tensor) -> list[str]:
    """grad_fn names from t down its first edges (to the leaf)."""
    names, node = [], t.grad_fn
    while node is not None and node.name() != "AccumulateGrad":
        names.append(node.name())
        node = node.next_functions[0][0]
    return names


# ----- getitem: Python spelling, torch's chains ---------------------------------------------------
@pytest.mark.parametrize(("index", "shape", "names"), [
    ((0, slice(1, None)), (3, 5), ["SliceBackward0", "SelectBackward0"]),
    ((slice(1, None), 0), (2, 5), ["SelectBackward0", "SliceBackward0"]),
    ((slice(1, None), None), (2, 1, 4, 5), ["UnsqueezeBackward0", "SliceBackward0"]),
    ((None, 0), (1, 4, 5), ["SelectBackward0", "UnsqueezeBackward0"]),
    (slice(None), (3, 4, 5), ["SliceBackward0"]),
    ((slice(None), slice(None)), (3, 4, 5), ["AliasBackward0"]),
    (Ellipsis, (3, 4, 5), ["AliasBackward0"]),
    ((Ellipsis, 1), (3, 4), ["SelectBackward0"]),
    ((0, 1, 2), (), ["SelectBackward0"] * 3),
    ((slice(1, None), [0, 3]), (2, 2, 5), ["IndexBackward0", "SliceBackward0"]),
    (([0, 2], slice(None), [1, 4]), (2, 4), ["IndexBackward0"]),
    (([0, 1], None, [1, 2]), (2, 1, 5), ["IndexBackward0", "UnsqueezeBackward0"]),
    ((0, None, [0, 2]), (1, 2, 5), ["IndexBackward0", "UnsqueezeBackward0", "SelectBackward0"]),
    (True, (1, 3, 4, 5), ["IndexBackward0", "UnsqueezeBackward0"]),
])
def test_python_indexing_records_torchs_chain(index, shape, names) -> None:
    y = leaf(3, 4, 5)[index]
    assert y.shape == shape and chain(y) == names


def test_a_bare_list_is_an_advanced_index_unless_torch_reads_it_as_a_tuple() -> None:
    x = leaf(3, 4)
    assert x[[0, 2]].shape == (2, 4)  # ints only: one index tensor
    assert x[[[0, 1], [1, 2]]].shape == (2,)  # holds sequences: torch's legacy tuple reading
    assert x[[0, slice(1, None)]].shape == (3,)
    assert x[(0, 2)].shape == ()


def test_index_tensors_and_masks() -> None:
    x = leaf(3, 4)
    assert x[ge.tensor(1)].grad_fn.name() == "SelectBackward0"  # a 0-d index is an int
    assert x[x > 0].shape == (int((x.detach().numpy() > 0).sum()),)
    assert x[ge.tensor([[True, False, True, True]] * 3)].shape == (9,)
    assert x[False].shape == (0, 3, 4)


def test_json_spec_matches_python_spelling() -> None:
    """The wire's index (a list for the tuple, its JSON spellings of slices and Ellipsis read by
    the service) indexes as Python's does."""
    x = leaf(3, 4, 5)
    cases = [
        ([0, 2], (0, 2)),
        ([[0, 2]], ([0, 2],)),
        ([{"start": 1, "step": 2}, "...", None], (slice(1, None, 2), Ellipsis, None)),
        ({"stop": 2}, slice(None, 2)),
        ([[True, False, True], {"start": -2}], ([True, False, True], slice(-2, None))),
        ([SimpleNamespace(start=1, stop=None, step=None), 0], (slice(1, None), 0)),
    ]
    for spec, python in cases:
        a, b = GETITEM(x, index_value(spec)), x[python]
        assert a.shape == b.shape and chain(a) == chain(b), spec
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_repeated_indices_accumulate_in_backward() -> None:
    x = leaf(4)
    x[[0, 0, 3, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 0.0, 1.0]


def test_indexing_backward_is_vectorised() -> None:
    """A large gather-like index backward runs as one scatter (no Python loop over elements)."""
    x = ge.tensor(np.zeros(1000), requires_grad=True)
    idx = np.random.default_rng(0).integers(0, 1000, 200_000)
    x[ge.tensor(idx)].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.bincount(idx, minlength=1000))


@pytest.mark.parametrize(("index", "error", "message"), [
    ((0, 1, 2), ShapeError, "too many indices for tensor of dimension 2"),
    (3, ShapeError, "index 3 is out of bounds for dimension 0 with size 3"),
    ((slice(None), -5), ShapeError, "index -5 is out of bounds for dimension 1 with size 4"),
    ((slice(None), [1, 4]), ShapeError, "index 4 is out of bounds for dimension 0 with size 4"),
    (([0, 1], [1, 2, 3]), ShapeError, "shape mismatch: indexing tensors could not be broadcast "
                                      "together with shapes [2], [3]"),
    ((slice(None), [True, False]), ShapeError, "The shape of the mask [2] at index 0 does not match "
                                               "the shape of the indexed tensor [3, 4] at index 1"),
    (slice(None, None, -1), ArgumentError, "step must be greater than zero"),
    (slice(None, None, 0), ArgumentError, "slice step cannot be zero"),
    (0.5, ArgumentError, "only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                         "Variables are valid indices (got float)"),
])
def test_getitem_errors_carry_torchs_message(index, error, message) -> None:
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        leaf(3, 4)[index]


def test_getitem_refuses_float_index_tensors() -> None:
    with pytest.raises(DTypeError, match="tensors used as indices must be long, int, byte or bool"):
        leaf(3)[ge.tensor([0.0])]


def test_slices_are_views_and_advanced_results_are_contiguous() -> None:
    x = leaf(3, 4)
    assert x[:, 1:].reshape([-1]).grad_fn.name() == "UnsafeViewBackward0"  # as torch: a copy
    assert x[1:].reshape([-1]).grad_fn.name() == "ViewBackward0"
    assert x[:, [0, 2]].reshape([-1]).grad_fn.name() == "ViewBackward0"


# ----- joining ----------------------------------------------------------------------------------
def test_cat_and_stack_gradients() -> None:
    """The shared checker cannot reach tensors inside a list argument (see cases_indexing.py)."""
    a, b, c = leaf(2, 3), leaf(2, 1), leaf(2, 2)
    for fn, args in [(lambda p, q, r: ge.cat([p, q, r], 1), [a, b, c]),
                     (lambda p, q: ge.cat([p, q * 2]), [a, leaf(1, 3)]),
                     (lambda p, q: ge.stack([p, q], 1), [a, leaf(2, 3)]),
                     (lambda p, q: ge.stack([p, q], -1), [b, leaf(2, 1)])]:
        assert gradcheck(fn, args) and gradgradcheck(fn, args)


def test_cat_promotes_and_sends_each_input_its_own_dtype() -> None:
    a = ge.tensor([1.0, 2.0], requires_grad=True)
    b = ge.tensor([3.0], dtype="float64", requires_grad=True)
    y = ge.cat([a, ge.tensor([], dtype="float32"), b])
    assert y.dtype.name == "float64" and [n for n, _ in y.grad_fn.next_functions][1] is None
    (y * ge.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    assert a.grad.dtype.name == "float32" and a.grad.tolist() == [1.0, 2.0]
    assert b.grad.tolist() == [3.0]


def test_split_outputs_share_one_node() -> None:
    x = leaf(5, 2)
    parts = x.split(2)
    assert [p.shape for p in parts] == [(2, 2), (2, 2), (1, 2)]
    assert all(p.grad_fn is parts[0].grad_fn for p in parts)
    assert [p.output_nr for p in parts] == [0, 1, 2]
    parts[1].sum().backward()  # the other pieces' gradients are zeros
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]


def test_unbind_and_chunk() -> None:
    x = leaf(2, 3)
    cols = x.unbind(1)
    assert len(cols) == 3 and cols[2].grad_fn.name() == "UnbindBackward0"
    (cols[0] * 2 + cols[2]).sum().backward()
    assert x.grad.tolist() == [[2.0, 0.0, 1.0], [2.0, 0.0, 1.0]]
    assert [c.shape for c in leaf(5, 2).chunk(3)] == [(2, 2), (2, 2), (1, 2)]
    assert [c.grad_fn.name() for c in leaf(0, 2).chunk(2)] == ["SplitWithSizesBackward0"] * 2


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda x: ge.cat([]), ArgumentError, "torch.cat(): expected a non-empty list of Tensors"),
    (lambda x: ge.cat([x, x[0]]), ShapeError, "Tensors must have same number of dimensions: got 2 and 1"),
    (lambda x: ge.cat([x, x[:, :1]]), ShapeError, "Sizes of tensors must match except in dimension 0. "
                                                  "Expected size 4 but got size 1 for tensor number 1 in "
                                                  "the list."),
    (lambda x: ge.stack([x, x[0]]), ShapeError, "stack expects each tensor to be equal size, but got "
                                                "[3, 4] at entry 0 and [4] at entry 1"),
    (lambda x: x.split([1, 1]), ShapeError, "split_with_sizes expects split_sizes to sum exactly to 3 "
                                            "(input tensor's size at dimension 0), but got "
                                            "split_sizes=[1, 1]"),
    (lambda x: x.split(0), ArgumentError, "split_size can only be 0 if dimension size is 0, but got "
                                          "dimension size of 3"),
    (lambda x: x.chunk(0), ArgumentError, "chunk expects `chunks` to be greater than 0, got: 0"),
    (lambda x: x.flip([0, 0]), ShapeError, "dim 0 appears multiple times in the list of dims"),
    (lambda x: x.roll([1, 2], 0), ShapeError, "shifts and dimensions must align. shifts: 2, dims:1"),
    (lambda x: x.repeat(2), ShapeError, "Number of dimensions of repeat dims can not be smaller than "
                                        "number of dimensions of tensor"),
    (lambda x: ge.ops.pad(x, [1]), ArgumentError, "Padding length must be divisible by 2"),
    (lambda x: ge.ops.pad(x, [4, 1], mode="reflect"), ShapeError,
     "Argument #4: Padding size should be less than the corresponding input dimension, but got: "
     "padding (4, 1) at dimension 1 of input [3, 4]"),
    (lambda x: ge.ops.pad(x, [-4, -1], mode="replicate"), ShapeError,
     "input (W: 4) is too small. Calculated output W: -1"),
    (lambda x: ge.ops.pad(x, [1, 1], mode="reflect", value=1.0), ArgumentError,
     'Padding mode "reflect" doesn\'t take in value argument'),
    (lambda x: x.tril()[0].tril(), ShapeError, "tril: input tensor must have at least 2 dimensions"),
    (lambda x: x.diagonal(0, 1, -1), ShapeError, "diagonal dimensions cannot be identical 1, -1"),
    (lambda x: x.topk(5), ArgumentError, "selected index k out of range"),
    (lambda x: x.index_select(0, ge.tensor([3])), ShapeError, "index out of range in self"),
    (lambda x: x.masked_fill(ge.tensor([1, 0, 1, 0]), 1.0), DTypeError,
     "masked_fill_ only supports boolean masks, but got mask with dtype long int"),
])
def test_errors_carry_torchs_message(call, error, message) -> None:
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        call(leaf(3, 4))


def test_reflect_pad_needs_a_batch_or_channel_dim() -> None:
    with pytest.raises(ShapeError, match="^Padding size 2 is not supported for 1D input tensor."):
        ge.ops.pad(leaf(4), [1, 1], mode="reflect")


# ----- scans, sort, topk --------------------------------------------------------------------------
def test_cumprod_gradient_at_zeros_is_the_same_either_way() -> None:
    """The O(n) gradient (plain backward) and the polynomial one (create_graph) agree at zeros."""
    data = [[2.0, 0.0, 3.0, 0.5, 0.0], [0.0, 1.5, 0.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 0.0]]
    seed = ge.tensor(np.linspace(-1.0, 1.0, 15).reshape(3, 5))
    x = ge.tensor(data, dtype="float64", requires_grad=True)
    (fast,) = ge.grad(x.cumprod(1), x, seed)
    (exact,) = ge.grad(x.cumprod(1), x, seed, create_graph=True)
    np.testing.assert_allclose(fast.numpy(), exact.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert gradgradcheck(lambda t: t.cumprod(0), [ge.tensor(data, dtype="float64", requires_grad=True)])


def test_sort_indices_are_not_differentiable_and_ties_keep_order() -> None:
    x = ge.tensor([1.0, 3.0, 1.0, 2.0, 3.0, 1.0], requires_grad=True)
    values, indices = x.sort(descending=True)
    assert values.grad_fn.name() == "SortBackward0" and indices.grad_fn is None
    assert not indices.requires_grad and indices.tolist() == [1, 4, 3, 0, 2, 5]
    assert x.sort(stable=True)[0].grad_fn.name() == "SortBackward1"
    values.backward(ge.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    assert x.grad.tolist() == [4.0, 1.0, 5.0, 3.0, 2.0, 6.0]


def test_nan_sorts_as_the_largest() -> None:
    x = ge.tensor([2.0, float("nan"), 1.0])
    assert x.sort()[1].tolist() == [2, 0, 1]
    assert x.sort(descending=True)[1].tolist() == [1, 0, 2]
    assert x.topk(1)[1].tolist() == [1]


# ----- limits -----------------------------------------------------------------------------------
@pytest.mark.parametrize("grow", [
    lambda x: x[[0] * 200],
    lambda x: x.index_select(0, ge.tensor([1] * 200)),
    lambda x: x.repeat(100, 1),
    lambda x: ge.cat([x] * 100),
    lambda x: ge.stack([x] * 100),
    lambda x: ge.ops.pad(x, [100, 100]),
    lambda x: ge.ops.pad(x, [300, 0], mode="replicate"),
    lambda x: x.masked_fill(ge.ones([100, 3, 4], dtype="bool"), 0.0),
])
def test_growing_ops_check_the_size_limit_first(grow) -> None:
    x = leaf(3, 4)
    with ge.execution(limits=ge.Limits(max_tensor_elements=500)), pytest.raises(ge.LimitExceeded):
        grow(x)
