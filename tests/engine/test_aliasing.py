"""No op hands back memory it shares with an input unless torch's result is a view of that input
too: an in-place change of a result must never reach a tensor torch would have copied. Every
gradient-check case of every op that is not itself in place is run and its outputs compared with
its inputs."""

from __future__ import annotations

import numpy as np
import pytest

import engine as ge
from engine import backend
from tests.engine.op_cases import CASES, NONDIFF, Case, build

ALL = [(name, case) for table in (CASES, NONDIFF) for name, cases in table.items()
       for case in cases if not ge.OPS[name].inplace]


def _tensors(args: list) -> list[ge.Tensor]:
    found = [a for a in args if isinstance(a, ge.Tensor)]
    return found + [t for a in args if isinstance(a, list) for t in a if isinstance(t, ge.Tensor)]


@pytest.mark.parametrize(("name", "case"), ALL, ids=[f"{n}[{c.id}]" for n, c in ALL])
def test_results_share_memory_only_as_views(name: str, case: Case) -> None:
    args = [build(a, np.random.default_rng(0)) for a in case.args]
    out = ge.OPS[name].fn(*args, **case.kwargs)
    for o in out if isinstance(out, tuple) else (out,):
        if not isinstance(o, ge.Tensor):
            continue
        for t in _tensors(args):
            if o is t or o._base is not None and o._base is t._root():
                continue
            assert not backend.shares_memory(o._data, t._data), \
                f"{name}: a result shares memory with an input but is no view of it"
