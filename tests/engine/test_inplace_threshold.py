"""The fused backwards (tanh's, sigmoid's, a square's) work in place on their first temporary only
for arrays of at least ``elementwise.INPLACE_MIN_BYTES`` (below it the composite form, which
allocates, is cheaper), and the composite form takes its ``1 - y`` from a 0-d array of y's dtype
(``elementwise._ONE``) instead of the Python number. Each form must answer the same bits: these
tests force each side and compare gradients, second-order gradients and graphs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine as ge
from engine.ops import elementwise
from tests.engine.fast_paths import Program, run_seen
from tests.engine.fast_paths import leaf as _leaf


def _chain(dtype: str, op: str) -> Program:
    def program() -> dict[str, Any]:
        x = _leaf(dtype)
        y = x
        for _ in range(30):
            y = getattr(y, op)() * 1.01
        y.sum().backward()
        return {"grad": x.grad}
    return program


def _square(dtype: str) -> Program:
    def program() -> dict[str, Any]:
        x = _leaf(dtype)
        (x ** 2 * 0.5).sum().backward()
        return {"grad": x.grad}
    return program


def _second_order(dtype: str, op: str) -> Program:
    def program() -> dict[str, Any]:
        x = _leaf(dtype)
        g = _leaf(dtype, seed=3)
        y = getattr(x, op)()
        (gx,) = ge.grad([y], [x], [g], create_graph=True)
        gg = ge.grad([gx.sum()], [x, g])
        return {"gx": gx, "ggx": gg[0], "ggg": gg[1]}
    return program


def _scalar(dtype: str, op: str) -> Program:
    """0-d tensors: numpy answers scalars, not arrays, for their arithmetic."""
    def program() -> dict[str, Any]:
        x = ge.tensor(0.37, dtype=dtype, requires_grad=True)
        getattr(getattr(x, op)() * 1.01, op)().backward()
        return {"grad": x.grad}
    return program


def _mixed(op: str) -> Program:
    """A float32 output reached by a float64 gradient (no in-place form either way)."""
    def program() -> dict[str, Any]:
        x = _leaf("float32")
        y = getattr(x, op)()
        (gx,) = ge.grad([y], [x], [_leaf("float64", seed=5)])
        return {"gx": gx}
    return program


PROGRAMS: dict[str, Program] = {
    **{f"chain_{op}_{dt}": _chain(dt, op) for op in ("tanh", "sigmoid")
       for dt in ("float32", "float64")},
    **{f"square_{dt}": _square(dt) for dt in ("float32", "float64")},
    **{f"second_order_{op}_{dt}": _second_order(dt, op) for op in ("tanh", "sigmoid")
       for dt in ("float32", "float64")},
    **{f"scalar_{op}_{dt}": _scalar(dt, op) for op in ("tanh", "sigmoid")
       for dt in ("float32", "float64")},
    **{f"mixed_{op}": _mixed(op) for op in ("tanh", "sigmoid")},
}


@pytest.mark.parametrize("in_context", [False, True], ids=["bare", "in_context"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_in_place_and_composite_forms_answer_alike(name: str, in_context: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    program = PROGRAMS[name]

    def run(threshold: int) -> dict[str, Any]:
        monkeypatch.setattr(elementwise, "INPLACE_MIN_BYTES", threshold)
        return run_seen(program, in_context)

    in_place, composite = run(0), run(1 << 62)
    assert in_place == composite


@pytest.mark.parametrize("in_context", [False, True], ids=["bare", "in_context"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_one_as_an_array_answers_as_the_number(name: str, in_context: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with_arrays = run_seen(PROGRAMS[name], in_context)
    monkeypatch.setattr(elementwise, "_ONE", {})  # (every dtype falls back to the number 1)
    monkeypatch.setattr(elementwise, "_ONE_F32", 1)  # (float32's own shortcut too)
    assert run_seen(PROGRAMS[name], in_context) == with_arrays


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_backwards_bits_over_many_values(dtype: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every form of tanh's and sigmoid's backward on 4096 values spread over their whole range
    (saturated outputs included): the same bits."""
    y = ge.tensor(np.linspace(-1.0, 1.0, 4096), dtype=dtype)._data
    g = ge.tensor(np.geomspace(1e-30, 1e30, 4096), dtype=dtype)._data

    def forms() -> list[bytes]:
        return [ge.tensor(f(g, y)).numpy().tobytes()
                for f in (elementwise.tanh_backward, elementwise.sigmoid_backward)]

    default = forms()
    monkeypatch.setattr(elementwise, "INPLACE_MIN_BYTES", 0)
    assert forms() == default
    monkeypatch.setattr(elementwise, "INPLACE_MIN_BYTES", 1 << 62)
    monkeypatch.setattr(elementwise, "_ONE", {})
    monkeypatch.setattr(elementwise, "_ONE_F32", 1)
    assert forms() == default


def test_small_arrays_take_the_composite_form() -> None:
    """The default threshold keeps a chain's tiny arrays off the in-place form (its ufuncs'
    ``out=`` is what costs) and a large array on it."""
    small = ge.ones([8])._data  # (the backend's arrays, float32)
    big = ge.ones([elementwise.INPLACE_MIN_BYTES // 4])._data
    assert not elementwise._alike(small, small)
    assert elementwise._alike(big, big)
    assert not elementwise._alike(big, ge.ones([elementwise.INPLACE_MIN_BYTES // 8],
                                               dtype="float64")._data)
