"""norm's 2-norm (the default) sums with the array's own ``sum`` method instead of the backend
module's ``sum`` function (a wrapper around the same reduction): the same bits, checked here over
shapes, dims, keepdim and dtypes against the function's answer (the goldens compare with torch)."""

from __future__ import annotations

import numpy as np
import pytest

import engine as ge
from engine.backend import to_host, xp

CASES = [((7,), None, False), ((3, 5), None, False), ((3, 5), 1, True), ((3, 5), 0, False),
         ((2, 3, 4), (0, 2), False), ((2, 3, 4), (-1,), True), ((), None, False), ((0, 3), 1, False)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("shape", "dim", "keepdim"), CASES)
def test_two_norm_is_the_module_sum(shape: tuple[int, ...], dim: object, keepdim: bool,
                                    dtype: str) -> None:
    values = np.sin(np.arange(int(np.prod(shape))) * 2.7 + 0.3).reshape(shape) * 1e3
    t = ge.tensor(values, dtype=dtype)
    x = t._data
    dims = tuple(range(x.ndim)) if dim is None else \
        tuple(sorted(d % x.ndim for d in ((dim,) if isinstance(dim, int) else dim)))
    expected = xp.asarray(xp.sqrt(xp.sum(x * x, axis=dims, keepdims=keepdim)), dtype=x.dtype)
    got = t.norm(dim=dim, keepdim=keepdim) if dim is not None else t.norm()
    a, b = to_host(got._data), to_host(expected)
    assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 2), (2, 3, 4), (0, 3)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_default_norm_shortcut_answers_as_p_2_does(shape: tuple[int, ...], keepdim: bool,
                                                   dtype: str, requires_grad: bool) -> None:
    # t.norm() (p "fro", no dim: reductions.norm's shortcut) against t.norm(2.0), which takes the
    # general path: the same value bits, node, saved values and gradient
    values = np.cos(np.arange(int(np.prod(shape))) * 1.3 + 0.2).reshape(shape) * 1e2
    results = []
    for p in ("fro", 2.0):
        t = ge.tensor(values, dtype=dtype, requires_grad=requires_grad)
        out = t.norm(p, keepdim=keepdim) if p != "fro" else t.norm(keepdim=keepdim)
        a = to_host(out._data)
        node = out.grad_fn
        seen = (a.dtype, a.shape, a.tobytes(), out.requires_grad)
        if node is not None:
            seen += (node.name(), node.attrs, len(node._saved))
            out.sum().backward()
            g = to_host(t.grad._data)
            seen += (g.dtype, g.tobytes())
        results.append(seen)
    assert results[0] == results[1]


def test_default_norm_shortcut_leaves_other_inputs_to_the_general_path() -> None:
    # (an integer tensor: the general path's error; an int64 p-less norm is refused as there)
    with pytest.raises(ge.errors.DTypeError, match="linalg.vector_norm"):
        ge.tensor([1, 2]).norm()
    with pytest.raises(ge.errors.DTypeError, match="must be Tensor"):
        ge.ops.norm([1.0, 2.0])
