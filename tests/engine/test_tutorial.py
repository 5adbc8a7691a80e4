"""The seed tutorial (shared/seeds/000_eff2ce969a33bef5.txt), cell by cell, on the engine."""

from __future__ import annotations

import math

import engine as ge
from engine import backend

# torch names a non-default device in the repr (on the CuPy backend: ", device='cuda:0'")
ON = "" if backend.DEVICE == "cpu" else ", device='cuda:0'"


def test_cells_x_y_z_out_and_backward() -> None:
    x = ge.ones([2, 2], requires_grad=True)
    assert repr(x) == f"tensor([[1., 1.],\n        [1., 1.]]{ON}, requires_grad=True)"
    y = x + 2
    assert repr(y) == f"tensor([[3., 3.],\n        [3., 3.]]{ON}, grad_fn=<AddBackward0>)"
    assert y.grad_fn.name() == "AddBackward0"
    z = y * y * 3
    out = z.mean()
    assert repr(z) == f"tensor([[27., 27.],\n        [27., 27.]]{ON}, grad_fn=<MulBackward0>)"
    assert repr(out) == f"tensor(27.{ON}, grad_fn=<MeanBackward0>)"
    out.backward()
    assert repr(x.grad) == f"tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]]{ON})"


def test_cell_requires_grad_() -> None:
    with ge.execution(seed=0):
        a = ge.randn([2, 2])
    a = (a * 3) / (a - 1)
    assert a.requires_grad is False
    a.requires_grad_(True)
    assert a.requires_grad is True
    b = (a * a).sum()
    assert b.grad_fn.name() == "SumBackward0"


def test_cell_vector_jacobian_product() -> None:
    with ge.execution(seed=3):
        x = ge.randn([3], requires_grad=True)
    y = x * 2
    k = 1
    while y.data.norm() < 1000:
        y = y * 2
        k += 1
    assert y.grad_fn.name() == "MulBackward0"
    v = ge.tensor([0.1, 1.0, 0.0001], dtype="float32")
    y.backward(v)
    expected = [2.0 ** k * vi for vi in (0.1, 1.0, 0.0001)]
    assert all(math.isclose(g, e, rel_tol=1e-6) for g, e in zip(x.grad.tolist(), expected, strict=True))


def test_cell_no_grad() -> None:
    x = ge.randn([3], requires_grad=True)
    assert x.requires_grad
    assert (x ** 2).requires_grad
    with ge.no_grad():
        assert not (x ** 2).requires_grad


def test_detach_stops_tracking() -> None:
    x = ge.ones([2], requires_grad=True)
    d = (x * 2).detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
