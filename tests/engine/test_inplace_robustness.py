"""Every in-place op on tensors of every dtype and layout -- float, int64, bool, 0-d, empty, a
transposed view, an expanded view -- with the arguments of its gradient-check cases: each call
either succeeds or raises an engine error (torch's message), never another exception (which the
service would answer as a 500), and a refused call leaves the tensor's values and version as they
were."""

from __future__ import annotations

import numpy as np
import pytest

import engine as ge
from engine.registry import canonical_ops
from tests.engine.op_cases import CASES, build

INPLACE = [op.name for op in canonical_ops() if op.inplace]


def _targets() -> dict[str, ge.Tensor]:
    base = ge.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.25]])
    return {
        "float": base.clone(), "int": ge.tensor([[1, -2, 3], [0, 4, -1]]),
        "bool": ge.tensor([[True, False, True], [False, False, True]]),
        "0d": ge.tensor(1.25), "empty": ge.zeros([0, 3]), "view_t": base.clone().t(),
        "expanded": ge.ones([1, 3]).expand([2, 3]),
    }


@pytest.mark.parametrize("name", INPLACE)
@pytest.mark.parametrize("kind", list(_targets()))
def test_inplace_op_succeeds_or_refuses_cleanly(name: str, kind: str) -> None:
    op = ge.OPS[name]
    for case in CASES[name]:
        target = _targets()[kind]
        args = [build(a, np.random.default_rng(0)) for a in case.args[1:]]
        before, version = target.tolist(), target._version
        try:
            out = op.fn(target, *args, **case.kwargs)
        except ge.EngineError:
            assert target.tolist() == before and target._version == version, "half-written"
            continue
        assert out is target
