"""service/printing.py: print statements show values as Python's print of torch objects does."""

from __future__ import annotations

import engine as ge
from service.printing import print_line, to_repr
from service.values import ReturnTypes, Size


def test_scalars_and_none_print_as_python() -> None:
    assert print_line([True, False, None, 3, 0.1, float("nan"), float("-inf")]) == \
        "True False None 3 0.1 nan -inf"


def test_tensor_node_size_dtype() -> None:
    x = ge.ones([2], requires_grad=True)
    y = x + 2
    assert print_line([y]) == "tensor([3., 3.], grad_fn=<AddBackward0>)"
    assert print_line([y.grad_fn]) == "<AddBackward0 object>"
    assert print_line([Size((2, 2))]) == "torch.Size([2, 2])"
    assert print_line([Size(())]) == "torch.Size([])"
    assert print_line([x.dtype]) == "torch.float32"


def test_tuples_and_return_types() -> None:
    x = ge.ones([2], requires_grad=True)
    y = x * 2
    assert to_repr(y.grad_fn.next_functions) == "((<AccumulateGrad object>, 0), (None, 0))"
    assert to_repr((1,)) == "(1,)"
    t = ge.tensor([[1.0, 5.0], [3.0, 2.0]])
    r = ReturnTypes("max", ("values", "indices"), ge.OPS["max"].fn(t, dim=0))
    assert to_repr(r) == ("torch.return_types.max(\nvalues=tensor([3., 5.]),\n"
                          "indices=tensor([1, 0]))")
    assert print_line(["text", ("text",)]) == "text ('text',)"
