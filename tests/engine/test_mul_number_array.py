"""A float tensor times a Python float: on the host, mul computes with the number as a 0-d array of
the tensor's dtype, made once and kept for the backward (``backend.ON_HOST``; numpy converts a
Python number on every call). These tests run each program both ways (the 0-d array, the number
itself) and compare every value bit for bit, every dtype and every graph."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine.ops import elementwise
from tests.engine.fast_paths import Program, leaf, run_seen

# numbers whose float32 conversion rounds, overflows, underflows or is special
NUMBERS = [1.01, -0.3, 1e-300, 1e300, -1e300, 3.4028236e38, float("nan"), math.inf, -0.0, 0.0,
           2.0]


def _leaf(dtype: str, seed: int = 0) -> ge.Tensor:
    return leaf(dtype, 6, seed)


def _times(dtype: str, number: float) -> Program:
    def program() -> dict[str, Any]:
        x = _leaf(dtype)
        y = x * number
        z = (y.tanh() * number).sum()
        z.backward()
        return {"y": y, "z": z, "grad": x.grad}
    return program


def _chain(dtype: str) -> Program:
    def program() -> dict[str, Any]:
        x = _leaf(dtype)
        y = x
        for _ in range(40):
            y = y.tanh() * 1.01
        y.sum().backward()
        return {"y": y, "grad": x.grad}
    return program


def _zero_dim(dtype: str) -> Program:
    def program() -> dict[str, Any]:
        x = ge.tensor(0.7, dtype=dtype, requires_grad=True)
        y = x * 1.01
        y.backward()
        return {"y": y, "grad": x.grad}
    return program


def _second_order(dtype: str) -> Program:
    def program() -> dict[str, Any]:
        x = _leaf(dtype)
        y = (x * 1.01).tanh() * -0.3
        (gx,) = ge.grad([y.sum()], [x], create_graph=True)
        (ggx,) = ge.grad([(gx * 1.7).sum()], [x])
        return {"y": y, "gx": gx, "ggx": ggx}
    return program


def _seeded(dtype: str) -> Program:
    """A gradient of another dtype given for the product: cast to the product's dtype first."""
    def program() -> dict[str, Any]:
        x = _leaf(dtype)
        y = x * 1.01
        other = "float64" if dtype == "float32" else "float32"
        y.backward(ge.tensor(np.linspace(-2, 2, 6), dtype=other))
        return {"y": y, "grad": x.grad}
    return program


PROGRAMS: dict[str, Program] = {
    **{f"times_{dt}_{n!r}": _times(dt, n) for dt in ("float32", "float64") for n in NUMBERS},
    **{f"{make.__name__[1:]}_{dt}": make(dt) for make in (_chain, _zero_dim, _second_order, _seeded)
       for dt in ("float32", "float64")},
}


@pytest.mark.parametrize("in_context", [False, True], ids=["bare", "in_context"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_number_as_array_answers_as_the_number(name: str, in_context: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(elementwise, "ON_HOST", True)
    as_array = run_seen(PROGRAMS[name], in_context)
    monkeypatch.setattr(elementwise, "ON_HOST", False)
    assert run_seen(PROGRAMS[name], in_context) == as_array


def test_the_array_is_kept_for_the_backward_only_on_the_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    x = _leaf("float32")
    monkeypatch.setattr(elementwise, "ON_HOST", True)
    assert (x * 1.01).grad_fn.attrs is not None
    monkeypatch.setattr(elementwise, "ON_HOST", False)
    assert (x * 1.01).grad_fn.attrs is None
