"""torch's autograd misuse messages, verbatim (shared/reference/torch-2.13/errors.out)."""

from __future__ import annotations

import re

import pytest

import engine as ge
from engine.errors import AutogradError

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after "
         "they have already been freed). Saved intermediate values of the graph are freed when you "
         "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
         "through the graph a second time or if you need to access saved tensors after calling "
         "backward.")


def leaf(values=(1.0, 2.0, 3.0)):
    return ge.tensor(list(values), requires_grad=True)


def raises(message: str):
    return pytest.raises(AutogradError, match="^" + re.escape(message) + "$")


def test_backward_non_scalar_without_gradient() -> None:
    with raises("grad can be implicitly created only for scalar outputs"):
        (leaf() * 2).backward()


def test_grad_non_scalar_without_grad_outputs() -> None:
    x = leaf()
    with raises("grad can be implicitly created only for scalar outputs"):
        ge.grad(x * 2, x)


def test_second_backward_through_saved_tensors() -> None:
    x = leaf()
    y = (x * x).sum()
    y.backward()
    with raises(FREED):
        y.backward()


def test_second_backward_exp_saves_result() -> None:
    x = leaf()
    y = x.exp().sum()
    y.backward()
    with raises(FREED):
        y.backward()


def test_second_backward_mul_by_scalar_saves_the_scalar() -> None:
    x = leaf()
    y = (x * 2).sum()
    y.backward()
    with raises(FREED):
        y.backward()


def test_second_backward_without_saved_tensors_accumulates() -> None:
    x = leaf()
    y = (x + 1).sum()
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_retain_graph_allows_a_second_backward() -> None:
    x = leaf()
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]


@pytest.mark.parametrize("how", ["plain", "no_grad", "detach"])
def test_backward_on_tensor_without_grad_fn(how: str) -> None:
    x = leaf()
    if how == "plain":
        y = ge.tensor([1.0, 2.0]).sum()
    elif how == "no_grad":
        with ge.no_grad():
            y = (x * 2).sum()
    else:
        y = (x * 2).detach().sum()
    with raises("element 0 of tensors does not require grad and does not have a grad_fn"):
        y.backward()


def test_requires_grad_false_on_non_leaf() -> None:
    y = leaf() * 2
    msg = ("you can only change requires_grad flags of leaf variables. If you want to use a computed "
           "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().")
    with raises(msg):
        y.requires_grad_(False)
    with raises(msg):
        y.requires_grad = False
    assert y.requires_grad_(True) is y and not y.is_leaf


def test_integer_tensors_cannot_require_grad() -> None:
    with raises("only Tensors of floating point dtype can require gradients"):
        ge.tensor([1, 2]).requires_grad_()
    with raises("Only Tensors of floating point and complex dtype can require gradients"):
        ge.tensor([1, 2], requires_grad=True)


def test_gradient_shape_mismatch() -> None:
    y = leaf() * 2
    with raises("Mismatch in shape: grad_output[0] has a shape of torch.Size([4]) and output[0] has a "
                "shape of torch.Size([3])."):
        y.backward(ge.ones([4]))
    with raises("Mismatch in shape: grad_output[0] has a shape of torch.Size([1, 3]) and output[0] has "
                "a shape of torch.Size([3])."):
        y.backward(ge.ones([1, 3]))


def test_gradient_of_another_dtype_is_accepted() -> None:
    x = leaf()
    (x * 2).backward(ge.ones([3], dtype="float64"))
    assert x.grad.dtype.name == "float32"


def test_numpy_of_tensor_requiring_grad() -> None:
    with raises("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."):
        leaf().numpy()
    assert leaf().detach().numpy().tolist() == [1.0, 2.0, 3.0]


def test_grad_unused_input() -> None:
    x, z = leaf(), leaf()
    with raises("The differentiated Tensor at index 1 appears to not have been used in the graph. "
                "Set allow_unused=True if this is the desired behavior."):
        ge.grad((x * 2).sum(), [x, z])
    gx, gz = ge.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gx.tolist() == [2.0, 2.0, 2.0] and gz is None


def test_grad_wrt_tensor_not_requiring_grad() -> None:
    x = leaf()
    with raises("One of the differentiated Tensors does not require grad"):
        ge.grad((x * 2).sum(), [ge.tensor([1.0])])


def test_grad_twice_without_retain_graph() -> None:
    x = leaf()
    y = (x * x).sum()
    ge.grad(y, x)
    with raises(FREED):
        ge.grad(y, x)


def test_double_backward_needs_create_graph() -> None:
    x = leaf()
    (g,) = ge.grad((x * x).sum(), x)
    with raises("element 0 of tensors does not require grad and does not have a grad_fn"):
        g.sum().backward()


def test_backward_with_empty_inputs() -> None:
    with raises("`inputs` argument to `backward()` cannot be empty."):
        (leaf() * 2).sum().backward(inputs=[])


def test_pow_of_bools_follows_torch() -> None:
    # found by the contract fuzz: numpy's bool ** bool is int8, a dtype the engine has no name for
    t = ge.tensor([True, False])
    assert ge.pow(t, False).tolist() == [True, True]
    assert ge.pow(t, True).dtype is ge.bool_
    assert t.clone().pow_(False).tolist() == [True, True]
    for call in (lambda: ge.pow(t, t), lambda: ge.pow(False, t)):
        with pytest.raises(ge.DTypeError, match="\"pow\" not implemented for 'Bool'"):
            call()
