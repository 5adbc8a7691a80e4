"""``record`` builds each node and its output tensor without calling their __init__ (a call frame
is a large part of a small op's cost): it must set every slot their __init__ sets, to the same
values, or a later read of an unset slot raises AttributeError."""

from __future__ import annotations

import numpy as np

import engine as ge
from engine.context import execution
from engine.graph import Node
from engine.tensor import Tensor

_UNSET = object()


def _slots(obj: object, cls: type) -> dict[str, object]:
    # (__weakref__ is no value; a view's _vseen is set only for views, by as_view)
    names = [n for n in cls.__slots__ if n not in ("__weakref__", "_vseen")]  # type: ignore[attr-defined]
    return {n: getattr(obj, n, _UNSET) for n in names}


def _recorded() -> Tensor:
    x = ge.tensor(np.linspace(-1.0, 1.0, 4, dtype=np.float32), requires_grad=True)
    return x.tanh() * 2.0


def test_recorded_node_has_every_slot_of_init() -> None:
    y = _recorded()
    node = y._grad_fn
    assert node is not None
    made = _slots(node, Node)
    assert not any(v is _UNSET for v in made.values())
    fresh = Node(node._name, node.vjp, node.next_functions, node._saved, node.attrs, node.out_meta,
                 node._output)
    expected = _slots(fresh, Node)
    del made["seq"], expected["seq"]
    assert made == expected
    assert isinstance(node.seq, int) and node.seq < fresh.seq


def test_recorded_tensor_has_every_slot_of_init() -> None:
    for ctx in (None, "context"):
        if ctx is None:
            y = _recorded()
        else:
            with execution():
                y = _recorded()
        made = _slots(y, Tensor)
        assert not any(v is _UNSET for v in made.values())
        expected = _slots(Tensor(y._data, True, y._grad_fn), Tensor)
        assert made.pop("_data") is expected.pop("_data")
        if ctx is not None:  # (made inside the context, compared outside it)
            assert made.pop("_ctx") is not None
            assert expected.pop("_ctx") is None
        assert made == expected
