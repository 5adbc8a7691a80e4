"""Graph nodes: what a tensor's ``grad_fn`` points at.

A :class:`Node` is one recorded op call. It holds torch's class name for it (``name()``), the
edges to the nodes that produced its inputs (``next_functions``, as torch builds them: a
``(node, output_nr)`` pair per input, ``(None, 0)`` for an input that needs no gradient), the
tensors its VJP needs (``saved``), and the shape and dtype of each output so the backward pass can
check and reduce incoming gradients.  Leaves that require grad are reached through an
:class:`AccumulateGrad` node whose ``variable`` is the leaf.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import Any, Self

from engine.context import Charge
from engine.errors import FREED, AutogradError
from engine.tensor import Tensor
from engine.versions import check as check_versions

Edge = tuple["Node | None", int]
# A VJP receives the node and the gradient of each output (a Tensor for single-output nodes, a
# list for multi-output nodes) and returns one gradient (or None) per edge in next_functions.
VJP = Callable[["Node", Any], "tuple[Tensor | None, ...]"]


def on_arrays(vjp: VJP) -> VJP:
    """Mark a VJP that computes the same on bare backend arrays as on tensors: it only applies
    operators to its gradient, ``node.saved(g)`` and Python numbers, or calls helpers that take
    arrays too. A first-order backward pass (no create_graph, no execution context) runs such a VJP
    on arrays, so each of its arithmetic steps costs a numpy call and not a whole op. (Only where
    every saved tensor has the gradient's dtype: numpy promotes mixed dtypes differently.)"""
    ON_ARRAYS.add(vjp)
    return vjp


# The VJPs marked with on_arrays, filled as their modules are imported: the backward pass asks once
# per node, and a set answers in a third of what reading a mark from the function would cost.
ON_ARRAYS: set[VJP] = set()


def takes_broadcast(vjp: VJP) -> VJP:
    """Mark a VJP that may be given a read-only broadcast gradient (a mean's quotient not spread
    into a new array, in a first-order pass: see reductions._mean_vjp). It uses its gradient only
    in elementwise arithmetic (+ - * / and comparisons, whose IEEE results do not depend on
    the operands' memory layout), writes its results into new arrays, and neither passes the
    gradient on nor saves or writes into it. (A layout-sensitive reader, a torch-order sum or a
    matrix product, could add in another order; a VJP passing it on, add's, would hand it to
    one.) What leaves a backward pass is copied where it is such a view (autograd._own)."""
    vjp.takes_broadcast = True  # type: ignore[attr-defined]
    return vjp


def keeps_missing(vjp: VJP) -> VJP:
    """Mark a multi-output node's VJP that takes None for an output no gradient reached (torch's
    undefined gradient), instead of zeros: a fused double backward answers None for an input whose
    gradient only that output's would carry, as torch's does."""
    vjp.keeps_missing = True  # type: ignore[attr-defined]
    return vjp


class _Output:
    def __repr__(self) -> str:
        return "OUT"


# Marks "the op's own output" in a ``saved`` tuple. The node keeps that output as its array (not
# the Tensor, which would make the node and its own output a reference cycle) and unpacks it as a
# tensor whose grad_fn is the node again.
OUT: Any = _Output()

# (shape, array dtype) of an output: plain values, so these tuples cost the garbage collector
# nothing once it has seen them (a DType object would keep them tracked for as long as the graph).
OutMeta = tuple[tuple[int, ...], Any]

# Each node's place in creation order (torch's sequence_nr): the backward pass runs, of the nodes
# whose gradients are complete, the most recent first, as torch's engine does. That order decides
# in which order gradients meeting at one input are added, which create_graph records
# (AddBackward0's operands) and which the rounding of three or more terms depends on. Only the
# relative order of nodes means anything, so one process-wide counter serves every request.
_SEQUENCE = itertools.count()
next_seq = _SEQUENCE.__next__  # (the next number: a bound C method, for record's inline node)
# torch gives AccumulateGrad the largest sequence number: a leaf's gradient is taken once complete.
# (Every op node's number is below it: the backward pass tells the two kinds apart by it.)
ACCUMULATE_FIRST = 1 << 62


class Node:
    # No __init__: ``Node()`` is a node with no slot set (an unset slot raises on read), for
    # :meth:`make` to fill in, and ``record`` (ops/core.py), which sets the same slots inline:
    # keep the two in step. (Calling a class without an __init__ costs record ~200 instructions
    # less than object.__new__(Node), whose call packs and checks an argument tuple.)
    # ``edges``: next_functions flat, (node, output_nr, node, output_nr, ...): one tuple per node,
    # not one more per input, for the garbage collector to walk while the graph lives (a chain's
    # run -2 %); ``next_functions`` makes torch's pairs when read.
    __slots__ = ("_name", "vjp", "edges", "_saved", "_saves_tensors", "_output", "_held", "attrs",
                 "out_meta", "_retained", "step", "_versions", "seq", "__weakref__")
    _name: str
    vjp: VJP | None
    edges: tuple[Any, ...]
    _saved: tuple[Any, ...] | None
    _saves_tensors: bool
    _output: Any
    _held: Charge | None
    attrs: Any
    out_meta: tuple[OutMeta, ...]
    _retained: dict[int, weakref.ref[Tensor]] | None
    step: str | None
    _versions: tuple[Any, ...] | None
    seq: int

    @classmethod
    def make(cls, name: str, vjp: VJP | None, next_functions: tuple[Edge, ...],
             saved: tuple[Any, ...] = (), attrs: Any = None, out_meta: tuple[OutMeta, ...] = (),
             output: Any = None) -> Self:
        """A node of op ``name`` with its VJP, its inputs' edges and what the VJP needs."""
        self = cls()
        self._name = name
        self.vjp = vjp
        self.edges = flat(next_functions)
        self._saved = saved
        # whether ``saved`` holds a tensor (OUT is none): where it holds none, the backward pass
        # has no saved dtype to compare before it runs the VJP on bare arrays (autograd._on_arrays)
        self._saves_tensors = any(v.__class__ is Tensor for v in saved)
        self._output = output  # the array of the output, when ``saved`` holds OUT
        self._held = None  # that array's charge, once its tensor has gone
        self.attrs = attrs  # static values the VJP needs (dims, shapes, scalars)
        self.out_meta = out_meta  # (shape, array dtype) per output
        self._retained = None
        self.step = None  # the program step that recorded it (set under detect_anomaly)
        # versions its saved tensors must still be at (engine/versions.py); None: all at 0
        self._versions = None
        self.seq = next(_SEQUENCE)  # creation order (see _SEQUENCE)
        return self

    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<{self._name} object>"

    @property
    def next_functions(self) -> tuple[Edge, ...]:
        """torch's next_functions: a ``(node, output_nr)`` pair per input (a new tuple on each
        read, as torch's)."""
        e = self.edges
        if len(e) == 2:  # (one input: the common case)
            return ((e[0], e[1]),)
        return tuple(zip(e[::2], e[1::2], strict=True))

    def needs(self, i: int) -> bool:
        """Whether input ``i`` takes a gradient (torch's needs_input_grad)."""
        return self.edges[2 * i] is not None

    def saved(self, like: Any = None) -> tuple[Any, ...]:
        """The saved tensors, unpacked; torch's error once they have been freed. ``like`` is the
        gradient a VJP received: when that is a bare array (see :func:`on_arrays`), so are the
        saved tensors."""
        s = self._saved
        if s is None:
            raise AutogradError(FREED)
        if self._versions is not None:
            check_versions(self, s, Tensor)
        else:  # (the common case, inline: no saved tensor has been changed in place)
            for v in s:
                if v.__class__ is Tensor:
                    base = v._base
                    vc = (v if base is None else base)._vc
                    if vc is not None and vc[0]:
                        check_versions(self, s, Tensor)
        if like is not None and like.__class__ is not Tensor:
            out = self._output
            # (the two common cases without a loop: the output alone, two inputs)
            if out is not None and len(s) == 1:
                return (out,)
            if out is None and len(s) == 2:
                a, b = s
                return (a._data if a.__class__ is Tensor else a,
                        b._data if b.__class__ is Tensor else b)
            return tuple([out if v is OUT else v._data if isinstance(v, Tensor) else v
                          for v in s])
        if self._output is None:
            return s
        out = Tensor(self._output, True, self, 0)
        if len(s) == 1:  # the common case (exp, tanh, sigmoid, ...): no loop
            return (out,)
        return tuple([out if v is OUT else v for v in s])

    def saved_shapes(self) -> list[tuple[int, ...]] | None:
        """The shapes of the tensors the node saved for its VJP, in order (other saved values,
        such as Python scalars, are left out); None once a backward pass has freed them. For
        display: nothing is unpacked."""
        s = self._saved
        if s is None:
            return None
        return [tuple(self.out_meta[0][0]) if v is OUT else tuple(v.shape) for v in s
                if v is OUT or isinstance(v, Tensor)]

    def release(self) -> None:
        """Free saved tensors after a backward without retain_graph. Nodes that saved nothing can
        be run again, exactly as in torch."""
        if self._saved:
            self._saved = None
            self._output = None
            self._held = None

    def retain(self, output_nr: int, tensor: Tensor) -> None:
        if self._retained is None:
            self._retained = {}
        self._retained[output_nr] = weakref.ref(tensor)


class AccumulateGrad(Node):
    """The sink for a leaf's gradient: backward adds what reaches it into ``variable.grad``."""

    __slots__ = ("variable", "uses")
    variable: Tensor
    uses: int

    @classmethod
    def of(cls, variable: Tensor) -> AccumulateGrad:
        """A new AccumulateGrad node for leaf ``variable`` (see :func:`accumulator`)."""
        self = cls.make("AccumulateGrad", None, (), (), None,
                        ((variable.shape, variable._data.dtype),))
        self.seq += ACCUMULATE_FIRST
        self.variable = variable
        # How many edges into this node ``edge`` has handed out: at least the number of edges into
        # it from any graph (more when a consumer has gone, or an edge was asked for and not
        # kept). When a backward pass has walked that many, the leaf's gradient is complete
        # without counting the graph's edges first (autograd._execute).
        self.uses = 0
        return self


NO_EDGE: Edge = (None, 0)


def flat(edges: tuple[Edge, ...]) -> tuple[Any, ...]:
    """Edges as a node keeps them (Node.edges): the pairs' items in one tuple."""
    return tuple([x for e in edges for x in e])


def edge(v: Any) -> Edge:
    """The edge a consumer of ``v`` records in its next_functions: its grad_fn and output number,
    a leaf's AccumulateGrad, or ``(None, 0)`` for a constant or a Python number (as torch's wrapped
    numbers get). A function, not a method: ``record`` calls it for every input of every op."""
    if isinstance(v, Tensor):
        fn = v._grad_fn
        base = v._base
        if base is not None:  # a view: its history is stale after a write by another tensor
            vc = base._vc
            if vc is not None and vc[0] != v._vseen:
                fn = v._view_grad_fn()
        if fn is not None:
            return (fn, v._output_nr)
        if v._requires_grad:
            acc = accumulator(v)
            acc.uses += 1
            return (acc, 0)
    return NO_EDGE


def accumulator(leaf: Tensor) -> AccumulateGrad:
    """The AccumulateGrad node of a leaf; the same object while anything holds it (the leaf keeps
    only a weak reference, as torch does)."""
    acc = leaf._acc() if leaf._acc is not None else None
    if acc is None:
        acc = AccumulateGrad.of(leaf)
        leaf._acc = weakref.ref(acc)
    return acc
