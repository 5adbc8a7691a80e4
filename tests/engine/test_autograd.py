"""Backward-pass semantics: accumulation, retain_grad, graphs, dtypes, create_graph, depth."""

from __future__ import annotations

import pytest

import engine as ge


def test_grad_accumulates_across_graphs() -> None:
    x = ge.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_broadcast_gradient_is_reduced_to_the_input_shape() -> None:
    a = ge.ones([2, 3], requires_grad=True)
    b = ge.ones([3], requires_grad=True)
    (a + b).sum().backward()
    assert b.grad.shape == (3,) and b.grad.tolist() == [2.0, 2.0, 2.0]


def test_leaf_grad_keeps_the_leaf_dtype() -> None:
    f32 = ge.tensor([1.0, 2.0, 3.0], requires_grad=True)
    f64 = ge.tensor([1.0, 1.0, 1.0], dtype="float64")
    r = f32 + f64
    assert r.dtype.name == "float64"
    r.sum().backward()
    assert f32.grad.dtype.name == "float32"


def test_dtype_promotion() -> None:
    i = ge.tensor([1, 2, 3])
    assert (i * ge.ones([3])).dtype.name == "float32"
    assert (i * 2.5).dtype.name == "float32"
    assert (i * 2).dtype.name == "int64"
    assert (ge.tensor([True]) + 1).dtype.name == "int64"
    assert (ge.ones([2]) + ge.tensor(1.0, dtype="float64")).dtype.name == "float32"
    assert (i / 2).dtype.name == "float32"


def test_retain_grad_populates_non_leaf_grad() -> None:
    x = ge.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0] and y.retains_grad
    z = x * 3
    (z * z).sum().backward()
    assert z.grad is None


def test_next_functions_and_accumulate_grad() -> None:
    x = ge.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    (acc, idx), (none, zero) = y.grad_fn.next_functions
    assert acc.name() == "AccumulateGrad" and acc.variable is x and idx == 0
    assert none is None and zero == 0
    assert (x + x).grad_fn.next_functions[0][0] is (x + x).grad_fn.next_functions[1][0]


def test_backward_inputs_populates_only_those() -> None:
    x = ge.tensor([1.0, 2.0], requires_grad=True)
    w = ge.tensor([3.0, 4.0], requires_grad=True)
    h = x * w
    (h * 2).sum().backward(inputs=[h])
    assert h.grad.tolist() == [2.0, 2.0] and x.grad is None and w.grad is None


def test_create_graph_second_derivative() -> None:
    # shared/reference misc_probe: y = x**3 at 2: dy/dx = 12 (with a grad_fn), d2y/dx2 = 12
    x = ge.tensor([2.0], requires_grad=True)
    (g,) = ge.grad(x ** 3, x, ge.ones([1]), create_graph=True)
    assert g.tolist() == [12.0] and g.grad_fn.name() == "MulBackward0"
    (g2,) = ge.grad(g, x, ge.ones([1]))
    assert g2.tolist() == [12.0]


def test_gradient_penalty() -> None:
    w = ge.tensor([1.0, -2.0], requires_grad=True)
    x = ge.tensor([0.5, 0.25], requires_grad=True)
    out = (w * x * x).sum()
    (gx,) = ge.grad(out, x, create_graph=True)
    penalty = (gx * gx).sum()  # sum (2 w x)^2
    penalty.backward()
    # d/dw (2 w x)^2 = 8 w x^2
    assert w.grad.tolist() == [8 * 1.0 * 0.25, 8 * -2.0 * 0.0625]


def test_hessian_vector_product_by_double_backward() -> None:
    x = ge.tensor([1.0, 2.0], requires_grad=True)
    (g,) = ge.grad((x ** 3).sum(), x, create_graph=True)
    (hv,) = ge.grad((g * ge.ones([2])).sum(), x)
    assert hv.tolist() == [6.0, 12.0]


def test_deep_chain_backward_is_iterative() -> None:
    x = ge.tensor([0.5, -0.25], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]  # and no RecursionError on the way


def test_subgradient_conventions() -> None:
    """shared/reference/torch-2.13/misc_probe.out."""
    def grad_of(values, f):
        x = ge.tensor(values, requires_grad=True)
        f(x).backward()
        return x.grad.tolist()

    assert grad_of([1.0, 3.0, 3.0], lambda x: x.max()) == [0.0, 0.5, 0.5]
    assert grad_of([1.0, 3.0, 3.0], lambda x: x.max(dim=0)[0]) == [0.0, 1.0, 0.0]
    assert grad_of([1.0, 3.0, 3.0], lambda x: x.amax()) == [0.0, 0.5, 0.5]
    assert grad_of([-1.0, 0.0, 2.0], lambda x: x.abs().sum()) == [-1.0, 0.0, 1.0]
    assert grad_of([-1.0, 0.0, 2.0], lambda x: x.relu().sum()) == [0.0, 0.0, 1.0]
    assert grad_of([-1.0, 0.0, 2.0], lambda x: x.clamp(0, 2).sum()) == [0.0, 1.0, 1.0]
    assert grad_of([0.0, 1.0], lambda x: x.norm()) == [0.0, 1.0]
    assert grad_of([0.0, 0.0], lambda x: x.norm()) == [0.0, 0.0]
    assert grad_of([0.0, 2.0], lambda x: (x ** 0.0).sum()) == [0.0, 0.0]
    assert grad_of([1.0, 1.0], lambda x: x.std()) == [0.0, 0.0]
    a = ge.tensor([1.0, 2.0], requires_grad=True)
    b = ge.tensor([1.0, 3.0], requires_grad=True)
    ge.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0] and b.grad.tolist() == [0.5, 1.0]


def test_where_sqrt_gives_nan_gradient_like_torch() -> None:
    x = ge.tensor([-1.0, 4.0], requires_grad=True)
    ge.where(x > 0, x.sqrt(), ge.zeros([2])).sum().backward()
    g = x.grad.tolist()
    assert g[0] != g[0] and g[1] == 0.25


def test_item_and_tolist() -> None:
    t = ge.tensor([[1.5]])
    assert t.item() == 1.5 and t.tolist() == [[1.5]]
    with pytest.raises(ge.ShapeError):
        ge.tensor([1.0, 2.0]).item()


def test_scatter_add_accumulates_integers_and_bools() -> None:
    idx = ge.tensor([[0, 0], [1, 1]])
    out = ge.scatter_add(ge.tensor([[1, 2], [3, 4]]), 1, idx, ge.tensor([[5, 6], [7, 8]]))
    assert out.tolist() == [[12, 2], [3, 19]] and out.dtype.name == "int64"
    flags = ge.scatter_add(ge.tensor([[False, False]]), 1, ge.tensor([[1, 1]]), ge.tensor([[True, False]]))
    assert flags.tolist() == [[False, True]] and flags.dtype.name == "bool"


# ----- first-order passes on bare arrays (graph.on_arrays) ------------------------------------
def _grads_of(program, inputs: dict[str, tuple[list, str]], in_context: bool) -> dict[str, tuple]:
    """Run ``program`` on fresh leaves and backward through it: outside an execution context
    (array-capable VJPs run on bare arrays) or inside one (every VJP runs on tensors)."""
    def run() -> dict[str, tuple]:
        leaves = {k: ge.tensor(v, dtype=dt, requires_grad=dt.startswith("float"))
                  for k, (v, dt) in inputs.items()}
        mid, out = program(**leaves)
        mid.retain_grad()
        out.sum().backward()
        got = {k: (t.grad.dtype.name, t.grad.numpy().tobytes()) for k, t in leaves.items()
               if t.grad is not None}
        got["mid"] = (mid.grad.dtype.name, mid.grad.numpy().tobytes())
        return got

    if not in_context:
        return run()
    with ge.execution():
        return run()


BARE_CASES = {
    "mul, div, add, sub with mixed dtypes": (
        lambda a, b, i, z: (m := a * b + i, (m / (z + 1.5) - a * 0.3).tanh() * i),
        {"a": ([0.3, -1.2, 2.0], "float32"), "b": ([1.1, 0.7, -0.4], "float32"),
         "i": ([1, 2, 3], "int64"), "z": (0.25, "float64")}),
    "unary chain": (
        lambda x: (m := x.sigmoid().exp().log1p(), (m.sqrt().rsqrt().reciprocal().tan()
                                                     + m.expm1().exp2().relu() - (-m).log())),
        {"x": ([0.2, 0.9, 1.7, -0.5], "float32")}),
    "float64 and a 0-d float32": (
        lambda x, s: (m := (x * s).tanh(), ge.rsub(m, 2.0, alpha=3) * s - ge.sub(x, m, alpha=0.5)),
        {"x": ([0.5, -0.25], "float64"), "s": (1.5, "float32")}),
}


@pytest.mark.parametrize("case", list(BARE_CASES))
def test_first_order_pass_on_arrays_matches_the_one_on_tensors(case: str) -> None:
    program, inputs = BARE_CASES[case]
    assert _grads_of(program, inputs, in_context=False) == _grads_of(program, inputs, in_context=True)


def test_grad_of_an_intermediate_on_arrays_is_a_tensor() -> None:
    x = ge.tensor([0.5, -1.0], requires_grad=True)
    y = (x * 2).tanh()
    (gy,) = ge.grad((y * 3).sum(), [y])
    assert isinstance(gy, ge.Tensor) and gy.tolist() == [3.0, 3.0]
    (gx,) = ge.grad((y * y).sum(), [x])
    assert isinstance(gx, ge.Tensor) and gx.dtype.name == "float32" and gx.grad_fn is None
