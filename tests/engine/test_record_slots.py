"""``record`` builds each node and its output tensor without calling their __init__ (a call frame
is a large part of a small op's cost): it must set every slot their __init__ sets, to the same
values, or a later read of an unset slot raises AttributeError."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine as ge
from engine.backend import xp
from engine.context import execution
from engine.graph import OUT, Node
from engine.ops.core import SAVES_OUTPUT, record
from engine.ops.elementwise import _tanh_vjp
from engine.tensor import Tensor
from tests.engine.test_goldens import CASES, run_case
from tests.engine.test_out_meta_sharing import op_nodes

_UNSET = object()


def _slots(obj: object, cls: type) -> dict[str, object]:
    # (__weakref__ is no value; a view's _vseen is set only for views, by as_view)
    names = [n for n in cls.__slots__ if n not in ("__weakref__", "_vseen")]  # type: ignore[attr-defined]
    return {n: getattr(obj, n, _UNSET) for n in names}


def _recorded(grad: bool = True) -> Tensor:
    """A result record made with a graph node, or (``grad`` False) one it made without: its input
    requires no grad."""
    x = ge.tensor(np.linspace(-1.0, 1.0, 4, dtype=np.float32), requires_grad=grad)
    return x.tanh() * 2.0


def test_recorded_node_has_every_slot_of_init() -> None:
    y = _recorded()
    node = y._grad_fn
    assert node is not None
    made = _slots(node, Node)
    assert not any(v is _UNSET for v in made.values())
    fresh = Node.make(node._name, node.vjp, node.next_functions, node._saved, node.attrs,
                      node.out_meta, node._output)
    expected = _slots(fresh, Node)
    del made["seq"], expected["seq"]
    assert made == expected
    assert isinstance(node.seq, int) and node.seq < fresh.seq


def test_recorded_tensor_has_every_slot_of_init() -> None:
    for ctx, grad in ((None, True), ("context", True), (None, False), ("context", False)):
        if ctx is None:
            y = _recorded(grad)
        else:
            with execution():
                y = _recorded(grad)
        assert (y._grad_fn is not None) is grad
        made = _slots(y, Tensor)
        assert not any(v is _UNSET for v in made.values())
        expected = _slots(Tensor(y._data, grad, y._grad_fn), Tensor)
        assert made.pop("_data") is expected.pop("_data")
        if ctx is not None:  # (made inside the context, compared outside it)
            assert made.pop("_ctx") is not None
            assert expected.pop("_ctx") is None
        assert made == expected


def test_saves_output_is_what_the_loop_over_saved_answers() -> None:
    """record knows ``SAVES_OUTPUT`` by identity, without its loop over ``saved``: the node it
    makes is the one an equal tuple of its own (through the loop) makes, slot for slot."""
    x = ge.tensor(np.linspace(-1.0, 1.0, 4, dtype=np.float32), requires_grad=True)
    y = x * 2.0
    nodes = []
    for saved in (SAVES_OUTPUT, (OUT,)):
        out = record(xp.tanh(y._data), "TanhBackward0", _tanh_vjp, (y,), saved)
        nodes.append(_slots(out._grad_fn, Node))
        assert out._grad_fn._output is out._data
        del nodes[-1]["seq"], nodes[-1]["_output"]
    assert nodes[0] == nodes[1]


def test_plain_saved_is_what_the_loop_over_saved_answers() -> None:
    """``plain=True`` (the caller's word that ``saved`` holds no tensor and not OUT: mul by a
    number) skips record's loop over ``saved``: the node is the one the loop makes, slot for slot,
    for every form of saved plain values, with or without a number's 0-d array in attrs."""
    x = ge.tensor(np.linspace(-1.0, 1.0, 4, dtype=np.float32), requires_grad=True)
    y = x * 2.0
    for saved, attrs in (((None, 2.0), None), ((None, 3), None), ((None, 2.0), xp.asarray(2.0)),
                         ((None, None), None), ((), None)):
        nodes = []
        for plain in (True, False):
            out = record(y._data * 2.0, "MulBackward0", _tanh_vjp, (y, 2.0), saved, attrs,
                         plain=plain)
            nodes.append(_slots(out._grad_fn, Node))
            del nodes[-1]["seq"]
        assert nodes[0] == nodes[1]
    assert (x * 1.5)._grad_fn._saved == (None, 1.5)  # (mul's number paths pass plain=True)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_saves_tensors_says_whether_saved_holds_a_tensor(case: dict[str, Any]) -> None:
    """Node._saves_tensors (set by record from its loop over saved, or from the caller's
    ``plain``, and by Node.make) is what the backward pass asks before it looks at saved dtypes
    (autograd._on_arrays): it must say whether ``saved`` holds a tensor, for every op's node."""
    outs, _ = run_case(case)
    for node in op_nodes(outs):
        assert node._saves_tensors == any(v.__class__ is Tensor for v in node._saved), node.name()
