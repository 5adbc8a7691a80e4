"""Every registry op: first- and second-order gradients against finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import engine as ge
from engine.gradcheck import GradcheckError, gradcheck, gradgradcheck
from engine.registry import canonical_ops
from tests.engine.op_cases import CASES, NONDIFF, Case, build

FIRST = [(name, case) for name, cases in CASES.items() for case in cases]


def _call(name: str, case: Case, seed: int = 0) -> tuple[list, dict]:
    rng = np.random.default_rng(seed)
    return [build(a, rng) for a in case.args], case.kwargs


def _fn(name: str, kwargs: dict):
    op = ge.OPS[name]
    if op.inplace:  # on a clone: torch refuses to change a leaf that requires grad in place
        return lambda x, *xs: op.fn(x.clone(), *xs, **kwargs)
    return lambda *xs: op.fn(*xs, **kwargs)


def test_every_op_has_a_case() -> None:
    missing = [op.name for op in canonical_ops() if op.name not in CASES and op.name not in NONDIFF]
    assert not missing, f"ops without a gradient-check case: {missing}"


def test_cases_name_real_ops() -> None:
    unknown = [n for n in list(CASES) + list(NONDIFF) if n not in ge.OPS]
    assert not unknown


@pytest.mark.parametrize(("name", "case"), FIRST, ids=[f"{n}[{c.id}]" for n, c in FIRST])
def test_first_order(name: str, case: Case) -> None:
    args, kwargs = _call(name, case)
    assert gradcheck(_fn(name, kwargs), args)


SECOND = [(n, c) for n, c in FIRST if c.second_order]


@pytest.mark.parametrize(("name", "case"), SECOND, ids=[f"{n}[{c.id}]" for n, c in SECOND])
def test_second_order(name: str, case: Case) -> None:
    args, kwargs = _call(name, case)
    assert gradgradcheck(_fn(name, kwargs), args)


NON = [(name, case) for name, cases in NONDIFF.items() for case in cases]


@pytest.mark.parametrize(("name", "case"), NON, ids=[f"{n}[{c.id}]" for n, c in NON])
def test_not_differentiable(name: str, case: Case) -> None:
    args, kwargs = _call(name, case)
    out = ge.OPS[name].fn(*args, **kwargs)
    for o in out if isinstance(out, tuple) else (out,):
        assert o.grad_fn is None and not o.requires_grad


def test_checker_catches_a_wrong_gradient() -> None:
    """The checker itself must fail on a wrong VJP (torch's gradcheck_probe: a 'BadSquare')."""
    x = ge.tensor([0.5, -1.0, 2.0], dtype="float64", requires_grad=True)

    def bad_square(t):
        return ge.ops.mul(t, t.detach())  # gradient misses the second factor's contribution

    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(bad_square, [x])


def test_to_float32_keeps_grad_dtype() -> None:
    x = ge.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = x.to("float32")
    assert y.grad_fn.name() == "ToCopyBackward0" and y.dtype.name == "float32"
    (y * 3).sum().backward()
    assert x.grad.dtype.name == "float64" and x.grad.tolist() == [3.0, 3.0]
