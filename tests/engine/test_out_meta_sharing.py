"""``record`` gives a node the very out_meta tuple of the node behind its first input when its
output has that input's shape and dtype (ops/core.py), and the backward pass's ``_chain``
(autograd.py) relies on it: where a node shares its input's out_meta, it skips the test that the
gradient its VJP passes back to that input has the input's shape. That holds only if every VJP
answers, for an input of its output's shape and dtype, a gradient of that shape. These tests pin
both halves over every golden op case (each registry op, leaves and second-order twins whose first
argument comes from another op) and over a few hand-made chains."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine as ge
from engine import autograd, graph
from engine.backend import xp
from engine.tensor import Tensor
from tests.engine.test_goldens import CASES, run_case


def op_nodes(outs: list[Any]) -> list[graph.Node]:
    """Every op node (not AccumulateGrad) behind ``outs``."""
    stack = [t.grad_fn for t in outs if isinstance(t, Tensor) and t.grad_fn is not None]
    seen: dict[int, graph.Node] = {}
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or node.vjp is None:
            continue
        seen[id(node)] = node
        stack.extend(node.edges[::2])
    return list(seen.values())


def _check_sharing(nodes: list[graph.Node]) -> int:
    """Check each node that shares its first input's out_meta; how many there were."""
    shared = 0
    for node in nodes:
        src, nr = node.edges[0], node.edges[1]
        if src is None or node.out_meta is not src.out_meta:
            continue
        shared += 1
        # record's half: only for a single output, reached by output 0
        assert len(node.out_meta) == 1 and nr == 0, node.name()
        shape, dtype = node.out_meta[0]
        seed = xp.ones(shape, dtype=dtype)  # (a backend array, as a pass's gradients are)
        # the VJPs' half: the gradient for that input has its shape, on tensors and (where the
        # pass would run it so) on bare arrays
        ways = [Tensor(seed)]
        if autograd._on_arrays(node):
            ways.append(seed)
        for g in ways:
            with ge.no_grad():
                got = node.vjp(node, g)[0]
            if got is not None:
                a = got._data if isinstance(got, Tensor) else got
                assert tuple(a.shape) == tuple(shape), f"{node.name()}: {a.shape} != {shape}"
    return shared


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_node_sharing_its_input_s_out_meta_passes_back_that_shape(case: dict[str, Any]) -> None:
    outs, _ = run_case(case)
    _check_sharing(op_nodes(outs))


def test_chains_share_and_keep_the_shape() -> None:
    x = ge.tensor(np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    w = ge.tensor(np.linspace(-1.0, 1.0, 3, dtype=np.float32), requires_grad=True)
    y = x
    for _ in range(3):
        y = (y.tanh() * 1.01 + w).exp() / 2.0 - y.sigmoid() * w
    z = y.sum(0)  # (another shape: not shared)
    d = y.double()  # (another dtype: not shared)
    nodes = op_nodes([z, d])
    assert _check_sharing(nodes) >= 12
    assert z.grad_fn.out_meta is not y.grad_fn.out_meta
    assert d.grad_fn.out_meta is not y.grad_fn.out_meta
    b = w * x  # (the first input broadcast to the output's shape: not shared)
    assert b.grad_fn.out_meta is not graph.accumulator(w).out_meta
    assert b.grad_fn.out_meta[0][0] == (2, 3)
