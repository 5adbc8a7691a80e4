"""Temporary elision: an op writes its result into a temporary input's array (core.scratch), and
a leaf's first gradient takes the array its VJP made (autograd._accumulate). Either may happen
only where no program-visible tensor can see that array: these tests run programs with elision
forced on (no size threshold) and off, and compare every value a program can see."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import engine as ge
from engine import ops
from engine.ops import core

Program = Callable[[], dict[str, Any]]


def _data(seed: int, *shape: int, requires_grad: bool = False) -> ge.Tensor:
    """Deterministic values of ``shape`` (one or two dims), different per seed."""
    rows, cols = (1, shape[0]) if len(shape) == 1 else shape
    values = [[math.sin(seed * 7.1 + i * 3.3 + j * 1.7) for j in range(cols)] for i in range(rows)]
    return ge.tensor(values[0] if len(shape) == 1 else values, requires_grad=requires_grad)


def _values(found: dict[str, Any]) -> dict[str, Any]:
    """Every tensor a program left visible, as nested lists (None stays None)."""
    return {k: (v.tolist() if isinstance(v, ge.Tensor) else v) for k, v in found.items()}


def _run(program: Program, elide: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(core, "ELIDE_MIN_BYTES", 0 if elide else 1 << 62)
    return _values(program())


def _made() -> tuple[ge.Tensor, ge.Tensor, ge.Tensor]:
    return _data(1, 4, 3), _data(2, 3, 5, requires_grad=True), _data(3, 5, requires_grad=True)


def prog_variables_keep_their_values() -> dict[str, Any]:
    x, w, b = _made()
    z = x @ w
    before = z.tolist()
    y1 = z + b  # an operator on a variable
    y2 = ops.add(z, b)  # a call on a variable
    t = z.tanh()
    e = ops.exp(z)
    assert z.tolist() == before
    (y1.sum() + y2.sum() + t.sum() + e.sum()).backward()
    return {"z": z, "y1": y1, "y2": y2, "t": t, "e": e, "dw": w.grad, "db": b.grad}


def prog_temporaries_in_a_chain() -> dict[str, Any]:
    x, w, b = _made()
    h = (x @ w + b).tanh()  # both the add and the tanh may reuse the matmul's array
    h2 = ops.tanh(ops.add(x @ w, b)).exp()
    loss = ((h - 0.5) ** 2).mean() + h2.sum()
    loss.backward()
    return {"h": h, "h2": h2, "loss": loss, "dw": w.grad, "db": b.grad}


def prog_saved_outputs_are_not_overwritten() -> dict[str, Any]:
    x, w, b = _made()
    # exp and tanh save their output for backward: the temporaries they return must not take
    # the next op's result
    y = ((x @ w).exp() + b).sum() + (((x @ w).tanh() + 1.0).tanh() + b).sum()
    y.backward()
    return {"y": y, "dw": w.grad, "db": b.grad}


def prog_saved_inputs_are_not_overwritten() -> dict[str, Any]:
    x, w, b = _made()
    y = ((x @ w) * 2.0 + b) ** 2  # mul and pow save their input
    y.sum().backward()
    return {"y": y, "dw": w.grad, "db": b.grad}


def prog_a_temporary_leaf_stays_reachable() -> dict[str, Any]:
    _, _, b = _made()
    y = _data(4, 5, requires_grad=True) + b  # the leaf lives on in y's graph
    leaf = y.grad_fn.next_functions[0][0].variable
    y.sum().backward()
    return {"y": y, "leaf": leaf, "leaf_grad": leaf.grad, "db": b.grad}


def prog_views_and_containers() -> dict[str, Any]:
    x, w, b = _made()
    held = [x @ w]
    y = held[0] + b
    z = x @ w
    v = z.t()  # a view of z: z's storage must not change while v sees it
    v_before = v.tolist()
    u = ops.add(z.t().t(), b)
    (y.sum() + u.sum()).backward()
    assert v.tolist() == v_before
    return {"held": held[0], "y": y, "v": v, "u": u, "dw": w.grad}


def prog_weakly_held_temporary() -> dict[str, Any]:
    x, w, b = _made()
    refs: list[Any] = []

    def noted(t: ge.Tensor) -> ge.Tensor:
        refs.append(weakref.ref(t))
        return t

    y = ops.add(noted(x @ w), b)
    return {"y": y, "held": refs[0]()}


def prog_grads_stay_apart() -> dict[str, Any]:
    a = _data(5, 3, requires_grad=True)
    c = _data(6, 3, requires_grad=True)
    seed = _data(7, 3)
    seed_before = seed.tolist()
    (a + c).backward(seed)  # add hands the same gradient to both leaves
    (a + c).backward(seed)  # accumulated in place: each leaf's .grad, and not the seed
    assert seed.tolist() == seed_before
    d = _data(8, 3, requires_grad=True)
    (d * 1.0).sum().backward()
    first = d.grad
    (d * 3.0).sum().backward()
    return {"a": a.grad, "c": c.grad, "seed": seed, "d": d.grad, "first": first}


PROGRAMS = [prog_variables_keep_their_values, prog_temporaries_in_a_chain,
            prog_saved_outputs_are_not_overwritten, prog_saved_inputs_are_not_overwritten,
            prog_a_temporary_leaf_stays_reachable, prog_views_and_containers,
            prog_weakly_held_temporary, prog_grads_stay_apart]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_elision_changes_no_visible_value(program: Program, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(program, True, monkeypatch) == _run(program, False, monkeypatch)


def _temp_of(shape: tuple[int, ...], ids: list[int]) -> ge.Tensor:
    t = ops.exp(ops.zeros(list(shape))) * 1.0  # (mul keeps nothing of its output)
    ids.append(id(t._data))
    return t


def test_a_temporary_takes_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "ELIDE_MIN_BYTES", 0)
    ids: list[int] = []
    by_operator = _temp_of((4, 3), ids) + 1.0
    assert id(by_operator._data) == ids[-1]
    by_call = ops.add(_temp_of((4, 3), ids), ge.ones([3]))
    assert id(by_call._data) == ids[-1]
    through = ops.tanh(_temp_of((4, 3), ids))
    assert id(through._data) == ids[-1]
    assert by_operator.tolist() == [[2.0] * 3] * 4 and by_call.tolist() == [[2.0] * 3] * 4


def test_below_the_threshold_nothing_is_reused() -> None:
    ids: list[int] = []
    y = _temp_of((4, 3), ids) + 1.0
    assert id(y._data) != ids[-1] or y.tolist() == [[2.0] * 3] * 4


def test_no_elision_under_anomaly_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    # the anomaly report shows the op's inputs as they were
    monkeypatch.setattr(core, "ELIDE_MIN_BYTES", 0)
    ids: list[int] = []
    with ge.execution(detect_anomaly=True):
        t = _temp_of((4, 3), ids)
        ids.append(id(t._data))
        y = ops.add(t, 1.0)
        assert id(y._data) != id(t._data)
        del t
        y2 = ops.add(_temp_of((4, 3), ids), 1.0)
        assert y2.tolist() == [[2.0] * 3] * 4


def test_a_leaf_grad_takes_the_vjp_array_only_when_nobody_else_holds_it() -> None:
    x = ge.tensor([1.0, 2.0], requires_grad=True)
    g = ge.tensor([3.0, 4.0])
    (x * 1.0).backward(g)  # mul's VJP makes a new array: x.grad may take it
    (x * 1.0).backward(g)
    assert x.grad.tolist() == [6.0, 8.0] and g.tolist() == [3.0, 4.0]
    y = ge.tensor([1.0, 2.0], requires_grad=True)
    y.backward(g)  # the caller's own gradient: copied, never taken
    y.backward(g)
    assert y.grad.tolist() == [6.0, 8.0] and g.tolist() == [3.0, 4.0]
