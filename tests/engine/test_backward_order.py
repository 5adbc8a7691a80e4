"""A whole-graph backward pass runs its nodes without counting the edges into each first
(autograd._execute's ``by_seq``): an op's node by sequence number, a leaf's AccumulateGrad by the
edges ever made to it, the graph counted only when some of those are in no graph the pass walks.
Every pass here runs both ways (the general path: the edges counted first, Kahn's algorithm) and
must run the same nodes in the same order and leave the same bits."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine import autograd, graph
from engine.ops.core import record

Log = list[tuple[str, Any]]


def _none_vjp(node: graph.Node, g: Any) -> tuple[Any, ...]:
    return (None,)


def _no_grad_through(t: ge.Tensor) -> ge.Tensor:
    """A recorded op whose VJP passes no gradient on: the node behind it is reached with none."""
    return record(t._data * 1, "NoGradThroughBackward", _none_vjp, (t,))


class _Edges(tuple):  # type: ignore[type-arg]
    """A node's edges (Node.edges) that log each time the backward loop passes its gradients on (a
    node reached with no gradient runs no VJP, but is passed through all the same)."""

    log: Log
    label: str

    def __iter__(self) -> Any:
        if sys._getframe(1).f_code.co_name == "_execute":  # (not the edge count's walk)
            self.log.append(("passed", self.label))
        return super().__iter__()


def _watch(roots: list[ge.Tensor], base: int, log: Log) -> None:
    """Log every VJP the graph behind ``roots`` runs and every node the loop passes through, by
    name and sequence number from ``base``."""
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or node.vjp is None:
            continue
        seen.add(id(node))
        label = f"{node.name()} {node.seq - base}"

        def logged(n: graph.Node, g: Any, _vjp: Any = node.vjp, _label: str = label) -> Any:
            log.append(("vjp", _label))
            out = _vjp(n, g)
            if sys._getframe(1).f_code.co_name == "_chain":  # (it passes on what its VJPs give)
                log.append(("passed", _label))
            return out

        if node.vjp in graph.ON_ARRAYS:
            graph.on_arrays(logged)
        node.vjp = logged
        edges = _Edges(node.edges)
        edges.log, edges.label = log, label
        node.edges = edges
        stack.extend(n for n, _ in node.next_functions)


Build = Callable[[], tuple[list[ge.Tensor], list[ge.Tensor], Callable[[], None]]]


def _unchained(node: graph.Node, g: Any, *args: Any) -> tuple[graph.Node, Any]:
    """autograd._chain running no node: the loop runs them all."""
    return node, g


def _run_both(build: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the graph (its leaves, its outputs and what to run) and run its passes by_seq (with
    and without _chain's run of a chain's nodes) and with the edges counted first: the same VJPs
    and leaf accumulations in the same order, the same gradients to the bit, the same error if
    any."""
    answers = []
    for way in ("by_seq", "unchained", "counted"):
        with monkeypatch.context() as m:
            if way == "counted":
                m.setattr(autograd, "_counts_first", lambda roots, targets: True)
            elif way == "unchained":
                m.setattr(autograd, "_chain", _unchained)
            log: Log = []
            base = next(graph._SEQUENCE)
            leaves, outs, run = build()
            ids = [id(x) for x in leaves]
            accumulate = autograd._accumulate

            def logged(t: ge.Tensor, g: Any, *args: Any, _acc: Any = accumulate, _log: Log = log,
                       _ids: list[int] = ids) -> None:
                _log.append(("acc", _ids.index(id(t))))
                _acc(t, g, *args)

            m.setattr(autograd, "_accumulate", logged)
            _watch(outs, base, log)
            try:
                run()
                error = None
            except ge.AutogradError as e:
                error = str(e)
            grads = [None if x.grad is None else x.grad.detach().numpy().tobytes()
                     for x in leaves]
            answers.append((log, grads, error))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0], "no node ran"


def _leaves(n: int = 3) -> list[ge.Tensor]:
    return [ge.tensor(np.sin(np.arange(4) * 1.3 + i) * 1.7, dtype="float32", requires_grad=True)
            for i in range(n)]


def _random_graph(seed: int) -> tuple[list[ge.Tensor], list[ge.Tensor], Callable[[], None]]:
    """Ops over three leaves, each input picked at random (a leaf used many times, results used
    by several ops, a node reached with no gradient); some results are kept outside the loss
    (edges to leaves in no graph the pass walks), some dropped at once; one or two outputs,
    sometimes a second pass over a retained graph."""
    rng = random.Random(seed)
    leaves = _leaves()
    pool: list[ge.Tensor] = list(leaves)
    kept: list[ge.Tensor] = []
    for _ in range(rng.randint(2, 30)):
        a, b = rng.choice(pool), rng.choice(pool)
        op = rng.randrange(8)
        if op == 0:
            t = a * b
        elif op == 1:
            t = a + b
        elif op == 2:
            t = a.tanh()
        elif op == 3:
            t = a * 1.01
        elif op == 4:
            t = a - b.sin()
        elif op == 5:
            t = _no_grad_through(a) + b
        elif op == 6:
            p, q = ge.split(a, 2)
            t = ge.cat([q * 2.0, p]) if rng.random() < 0.5 else ge.cat([q, q])
        else:
            t = a.exp() * b
        fate = rng.random()
        if fate < 0.15:
            kept.append(t)
        elif fate > 0.25:
            pool.append(t)
    made = [t for t in pool if t.grad_fn is not None] or [leaves[0] * 3.0]
    outs = rng.sample(made, min(len(made), rng.choice((1, 1, 2))))
    twice = rng.random() < 0.3
    seeds = [ge.tensor(np.linspace(-1, 1, 4) * (k + 1), dtype="float32") for k in range(len(outs))]

    def run() -> None:
        ge.autograd.backward(outs, seeds, retain_graph=twice)
        if twice:
            ge.autograd.backward(outs[:1], seeds[:1])
        kept.clear()

    return leaves, outs, run


@pytest.mark.parametrize("seed", range(300))
def test_random_graphs_run_in_the_same_order(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_both(lambda: _random_graph(seed), monkeypatch)


def test_a_node_reached_first_with_no_gradient_is_queued_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The tanh's node is reached first from a node that passes no gradient on (while a more
    recent node waits), then with its gradient: it runs once, with it."""

    def build() -> tuple[list[ge.Tensor], list[ge.Tensor], Callable[[], None]]:
        (x,) = _leaves(1)
        a = x.tanh()
        c = a * 3.0
        out = _no_grad_through(a) + c
        return [x], [out], lambda: out.sum().backward()

    _run_both(build, monkeypatch)


def test_a_leaf_used_outside_the_loss_waits_for_its_last_edge(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """x has edges from a kept result outside the loss and from two nodes inside it, the later
    reached with no gradient: its AccumulateGrad runs after both, and a failing node before it
    leaves x.grad unset; one after it does not."""

    def build(fail_early: bool) -> Any:
        def make() -> tuple[list[ge.Tensor], list[ge.Tensor], Callable[[], None]]:
            x, z = _leaves(2)
            kept = x * 5.0
            e = z.exp()
            first = x * 2.0 + e if fail_early else e + x * 2.0
            out = _no_grad_through(x * 3.0) + first
            e.add_(1)  # e's node saved its output: it fails when it runs

            def run() -> None:
                out.sum().backward()
                assert kept.grad_fn is not None  # (kept alive: its edge to x is in no graph walked)

            return [x, z], [out], run
        return make

    _run_both(build(True), monkeypatch)
    _run_both(build(False), monkeypatch)


def test_create_graph_and_second_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """With create_graph the VJPs record nodes with edges to the same leaves during the pass."""

    def build() -> tuple[list[ge.Tensor], list[ge.Tensor], Callable[[], None]]:
        x, w = _leaves(2)
        out = ((x * w).tanh() * x + w.sin()).sum()

        def run() -> None:
            (gx,) = ge.autograd.grad(out, [x], create_graph=True)
            (gx * w).sum().backward(create_graph=True)

        return [x, w], [out], run

    _run_both(build, monkeypatch)


@pytest.mark.parametrize("op", ["tanh", "exp", "sigmoid", "exp2", "rsqrt", "reciprocal"])
def test_a_node_that_saved_its_output_alone_runs_on_arrays(op: str) -> None:
    """The backward loop answers _saved_alike's question without the call for a node that saved
    its output alone: the same answer (nothing else saved, so every saved tensor is alike)."""
    (x,) = _leaves(1)
    node = getattr(x * 1.0, op)().grad_fn
    assert node._output is not None and len(node._saved) == 1
    assert autograd._saved_alike(node)


@graph.on_arrays
def _none_on_arrays(node: graph.Node, g: Any) -> tuple[Any, ...]:
    return (None,)


def _constant(dtype: str) -> ge.Tensor:
    """A tensor that requires no grad: a product with it has one edge, its gradient the other
    operand's shape and the product's dtype."""
    return ge.tensor(np.linspace(0.5, 2, 4), dtype=dtype)


_CHAINS: dict[str, Callable[[ge.Tensor], ge.Tensor]] = {
    # autograd._chain's cases: each node's one input with an edge, a number beside it, ...
    "tanh_mul": lambda x: ((x.tanh() * 1.01).tanh() * 1.01).tanh() * 0.5,
    "int_and_exp": lambda x: ((x * 2).exp() * 0.25).sigmoid() / 3.0,
    # ... a gradient to cast (into float64's node from float32's) or to reduce (an expand's) ...
    "dtype_change": lambda x: ((x.tanh() * 2.0).double().tanh() * 3.0).float().tanh(),
    "expanded": lambda x: (x.tanh().expand(3, 4).tanh() * 2.0).sum(1).tanh(),
    "reduced_by_a_constant": lambda x: ((x.tanh().sum() * 2.0) * _constant("float32")).tanh(),
    "cast_by_a_constant": lambda x: ((x.tanh() * 2.0) * _constant("float64")).tanh() * 2.0,
    # ... a node that passes no gradient on, as an on_arrays VJP, and one that is not on_arrays
    "none_on_arrays": lambda x: record((x.tanh() * 2.0)._data * 1, "NoneBackward", _none_on_arrays,
                                       (x.tanh() * 2.0,)).tanh() + x.exp(),
    "none_not_on_arrays": lambda x: _no_grad_through(x.tanh() * 2.0).tanh() * 3.0 + x,
    # ... two consumers of one result (a node reached twice: the loop's), a node that saved
    # a tensor, a leaf in the middle
    "fork": lambda x: (lambda t: (t * 2.0).tanh() * (t * 3.0).exp())(x.tanh() * 1.5),
    "saved_tensor": lambda x: (x.tanh() * x).sin() * 2.0,
}


@pytest.mark.parametrize("retain", [False, True])
@pytest.mark.parametrize("case", sorted(_CHAINS))
def test_chains_run_as_the_loop_runs_them(case: str, retain: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """autograd._chain runs a chain's nodes as the backward loop does: the same VJPs in the same
    order, the same bits; where it stops (a cast, a reduction, no gradient, a node it does not
    run) the loop goes on from the same state. Retained, a second pass; freed, its error."""

    def build() -> tuple[list[ge.Tensor], list[ge.Tensor], Callable[[], None]]:
        (x,) = _leaves(1)
        out = _CHAINS[case](x)
        if out.ndim:
            out = out.sum()

        def run() -> None:
            out.backward(retain_graph=retain)
            out.backward()  # (retained: a second pass; freed: torch's error)

        return [x], [out], run

    _run_both(build, monkeypatch)


def test_a_chain_stops_at_a_changed_saved_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tanh whose saved output was changed in place: the chain's VJP raises torch's error, as
    the loop's does, after the same nodes."""

    def build() -> tuple[list[ge.Tensor], list[ge.Tensor], Callable[[], None]]:
        (x,) = _leaves(1)
        t = (x * 2.0).tanh()
        out = ((t * 3.0).tanh() * 0.5).sum()
        t.add_(1)
        return [x], [out], lambda: out.backward()

    _run_both(build, monkeypatch)
