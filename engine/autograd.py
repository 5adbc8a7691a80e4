"""Reverse-mode differentiation: ``backward`` and ``grad`` with torch's meaning.

The pass is iterative (no recursion, so a chain of 100,000 ops is fine). Each node runs once, after
every gradient meant for it has arrived; of the nodes that may run, the most recent first (torch's
order). A whole-graph pass needs no count of the edges into each node for that: an op's node is
always more recent than the nodes of its inputs, so the most recent node reached so far has had
every gradient it will get. Only a leaf's AccumulateGrad (more recent than any op) must know when
its last edge has been walked: it knows how many edges to it were ever made, and the graph is
counted only when that is more than the pass walks (see _execute); in a first-order pass on bare
arrays a chain's nodes (one input with an edge each) run in _chain, without that walk. A pass
for ``inputs`` (which runs only the nodes leading to them) counts every node's edges first
(Kahn's algorithm).
Gradients arriving at a node are checked against the shape and dtype of the tensor they belong to:
a broadcast gradient is summed back to that shape here, once for every op, and cast to that
tensor's dtype (so a leaf's grad keeps the leaf's dtype).

VJPs are written with engine ops. With ``create_graph`` they run with grad mode on and so record
the backward pass as a differentiable graph; otherwise they run under ``no_grad`` and record
nothing, and (outside an execution context) those marked ``graph.on_arrays`` run on bare arrays.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Sequence
from typing import Any

from engine import backend, dtypes, errors, ops
from engine.anomaly import check_backward
from engine.backend import xp
from engine.context import current as current_context
from engine.context import wake
from engine.errors import AutogradError, ShapeError
from engine.grad_mode import is_grad_enabled, set_grad_enabled
from engine.graph import ACCUMULATE_FIRST, ON_ARRAYS, AccumulateGrad, Node, edge
from engine.summation import column_sum
from engine.tensor import Tensor
from engine.versions import bump

Target = tuple[Node, int]


def backward(tensors: Sequence[Tensor], grad_tensors: Sequence[Tensor | None] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Sequence[Tensor] | None = None) -> None:
    """torch.autograd.backward: accumulate d(tensors)/d(leaf) into each leaf's ``.grad``."""
    if inputs is not None and len(inputs) == 0:
        raise AutogradError(errors.EMPTY_INPUTS)
    seeds = _make_seeds(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        _run(tensors, seeds, retain_graph, create_graph, None)
        return
    targets = [_target(t) for t in inputs]
    found = _run(tensors, seeds, retain_graph, create_graph, targets)
    with set_grad_enabled(create_graph):
        for t, g in zip(inputs, found, strict=True):
            if g is not None:
                _accumulate(t, g, create_graph)


def _tensor_backward(self: Tensor, gradient: Tensor | None = None, retain_graph: bool | None = None,
                     create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
    """Tensor.backward (attached below: the Tensor class sits below the backward pass)."""
    backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
             inputs=inputs)


Tensor.backward = _tensor_backward  # type: ignore[method-assign]


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool | None = None) -> tuple[Tensor | None, ...]:
    """torch.autograd.grad: the gradients of ``outputs`` with respect to ``inputs``, returned
    rather than accumulated into ``.grad``."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for t in ins:
        if not t.requires_grad:
            raise AutogradError(errors.NOT_REQUIRING_GRAD)
    seeds = _make_seeds(outs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    found = _run(outs, seeds, retain_graph, create_graph, [_target(t) for t in ins])
    if not allow_unused:
        for i, g in enumerate(found):
            if g is None:
                raise AutogradError(errors.unused_input(i))
    return tuple(found)


def _target(t: Tensor) -> Target:
    node, nr = edge(t)
    if node is None:
        raise AutogradError(errors.NOT_REQUIRING_GRAD)
    return node, nr


def _make_seeds(outputs: Sequence[Tensor], grads: Sequence[Tensor | None] | None
                ) -> list[Tensor | None]:
    """torch's _make_grads: check given seeds' shapes, make ones for scalar outputs."""
    if grads is None:
        grads = [None] * len(outputs)
    if len(grads) != len(outputs):
        raise AutogradError(
            f"grad requires one gradient per output: got {len(grads)} for {len(outputs)} outputs"
        )
    seeds: list[Tensor | None] = []
    for i, (out, g) in enumerate(zip(outputs, grads, strict=True)):
        if g is not None:
            if tuple(g.shape) != tuple(out.shape):
                raise AutogradError(errors.shape_mismatch(i, g.shape, out.shape))
            seeds.append(g)
        elif out.requires_grad:
            if out.numel() != 1:
                raise AutogradError(errors.IMPLICIT_SCALAR)
            seeds.append(ops.ones_like(out))
        else:
            seeds.append(None)
    return seeds


def _run(outputs: Sequence[Tensor], seeds: Sequence[Tensor | None], retain_graph: bool,
         create_graph: bool, targets: list[Target] | None) -> list[Tensor | None]:
    """Run the backward pass. With ``targets`` nothing is accumulated: the gradient reaching each
    target edge is returned instead (and only the part of the graph leading to them runs)."""
    roots: list[tuple[Node, int, Tensor | None]] = []
    for i, out in enumerate(outputs):
        node, nr = edge(out)
        if node is None:
            raise AutogradError(errors.no_grad_fn(i))
        roots.append((node, nr, seeds[i]))

    pending: dict[Node, int] | None = None
    needed = None
    if _counts_first(roots, targets):
        parents: dict[Node, list[Node]] | None = None if targets is None else {}
        pending = _count_edges([r[0] for r in roots], parents)
        if parents is not None:
            needed = _leading_to([n for n, _ in targets or ()], pending, parents)
    wanted: dict[Node, list[int]] = {}
    for n, nr in targets or ():
        wanted.setdefault(n, []).append(nr)
    ctx = current_context()
    check_anomaly = ctx is not None and ctx.detect_anomaly
    if check_anomaly:
        assert ctx is not None
        outer, ctx.in_backward = ctx.in_backward, True
    try:
        # Without create_graph and outside an execution context (whose element accounting needs
        # every gradient to be a tensor), VJPs that can run on bare arrays do (graph.on_arrays).
        bare = not create_graph and ctx is None
        return _execute(roots, pending, needed, wanted, targets, retain_graph, create_graph,
                        check_anomaly, bare)
    finally:
        if check_anomaly:
            assert ctx is not None
            ctx.in_backward = outer


def _counts_first(roots: list[tuple[Node, int, Tensor | None]], targets: list[Target] | None
                  ) -> bool:
    """Whether the pass counts the edges into every node before it starts (see the module's
    docstring): to find the nodes that lead to ``targets``, or when an output is a leaf (its
    AccumulateGrad, the most recent node, may still have edges to it from the other outputs)."""
    return targets is not None or any(r[0].seq >= ACCUMULATE_FIRST for r in roots)


def _execute(roots: list[tuple[Node, int, Tensor | None]], pending: dict[Node, int] | None,
             needed: set[Node] | None, wanted: dict[Node, list[int]], targets: list[Target] | None,
             retain_graph: bool, create_graph: bool, check_anomaly: bool, bare: bool
             ) -> list[Tensor | None]:
    """Run each node once every gradient meant for it has arrived, the most recent first. With
    ``pending`` (from _count_edges): once every edge into it has been walked (Kahn's algorithm).
    Without: an op's node as soon as no more recent node has been reached (``by_seq``; none of
    them can reach it any more), an AccumulateGrad once as many edges into it have been walked as
    were ever made to it (``uses``), or, when that is more, as the graph left to run has (counted
    then, once: _recount). With ``bare``, gradients between VJPs that run on arrays stay bare
    arrays (buffers hold tensors or arrays; None: reached, no gradient yet)."""
    captured: dict[Target, Tensor | None] = {}
    buffers: dict[Node, list[Any] | None] = {}
    by_seq = pending is None
    counted = not by_seq  # (whether ``pending`` counts the edges into AccumulateGrads exactly)
    if pending is None:
        pending = {}  # (by_seq: the edges AccumulateGrads still wait for)
    with set_grad_enabled(create_graph):
        for node, nr, seed in roots:
            if seed is not None:
                _deliver(buffers, node, nr, seed)
            elif by_seq:
                buffers.setdefault(node, None)
        # ready nodes, the most recently created first (torch's order: see graph._SEQUENCE): a
        # heap, and beside it:
        ready = [(-n.seq, n) for n in dict.fromkeys(r[0] for r in roots)
                 if by_seq or not pending[n]]
        heapq.heapify(ready)
        # ``follow``: a node that became ready while the heap was left as it was (a chain's next
        # node: no heap operation for it); ``carry``: its one gradient, when that went to no
        # buffer (a single-output node reached by one edge: no list and no dict entry for it)
        follow: Node | None = None
        carry: Any = None
        plain = needed is None and not wanted  # (a whole-graph pass: the common case)
        accumulate_first = ACCUMULATE_FIRST  # (a local: read once per edge)
        ran = 0
        # (wake() looks at the clock of the execution context, which a pass cannot enter or
        # leave: with none it does nothing, and a chain's every node would count for it)
        timed = current_context() is not None
        # (a first-order whole-graph pass outside an execution context: a chain's nodes run in
        # _chain, without the walk below; no anomaly check, no clock to look at there)
        chain = by_seq and plain and bare
        # (this loop runs once per node: written for speed, its common case inline)
        while ready or follow is not None:
            if timed:  # (add's VJP passes its gradient on, making no tensor to look)
                ran += 1
                if not ran & 0x3FF:
                    wake()
            if chain and carry is not None and follow is not None:  # (carry: follow's)
                follow, carry = _chain(follow, carry, ready, buffers, retain_graph)
            if follow is None:
                node = heapq.heappop(ready)[1]
            elif ready and ready[0][0] < -follow.seq:  # a more recent node waits in the heap
                if carry is not None:  # (it waits in the heap: its gradient in a buffer)
                    buffers[follow] = [carry]
                    carry = None
                elif follow not in buffers:  # (reached, with no gradient: see by_seq)
                    buffers[follow] = None
                node = heapq.heapreplace(ready, (-follow.seq, follow))[1]
                follow = None
            else:
                node, follow = follow, None
            grads_in: Any = None
            g = carry
            if g is not None:
                carry = buf = None
            else:
                buf = buffers.pop(node, None)
                if buf is not None and len(buf) == 1:
                    g = buf[0]
            vjp = node.vjp
            if g is not None and plain and vjp is not None and node._retained is None:
                # one gradient, a VJP to run, nothing to capture or retain: _step, inline
                if bare and _on_arrays(node):
                    if g.__class__ is Tensor:
                        g = g._data
                elif g.__class__ is not Tensor:
                    g = Tensor(g)
                grads_in = vjp(node, g)
                if check_anomaly:
                    check_backward(node, grads_in, buf if buf is not None else [g])
                if node._saved and not retain_graph:  # (only what saved something frees it)
                    node._saved = node._output = node._held = None  # (Node.release, inline)
            elif g is not None or buf is not None:
                if buf is None:
                    buf = [g]
                g = None  # (buf holds it alone: an AccumulateGrad may adopt its array)
                if needed is None or node in needed:
                    if wanted and node in wanted:
                        for nr in wanted[node]:
                            captured[(node, nr)] = _captured(buf[nr])
                    grads_in = _step(node, buf, needed, targets is None, retain_graph,
                                     create_graph, check_anomaly, bare)
            buf = None
            # deliver what it computed for each input to the node behind that edge, and queue
            # each node whose last edge this was (inline, not a call: this runs once per node)
            i = -1  # (an index of our own: zip() would cost more than the rest of this loop)
            edges = iter(node.edges)  # (node, output_nr, ...: Node.edges)
            for nxt in edges:
                nr = next(edges)
                i += 1
                if nxt is None:
                    continue
                if not by_seq:
                    left = pending[nxt] - 1
                elif nxt.seq < accumulate_first:  # an op's node: queued when first reached
                    if nxt is follow:  # (reached before, in this loop)
                        left = -1
                        if carry is not None:  # (another edge to it: its gradients in a buffer)
                            buffers[follow] = [carry]
                            carry = None
                    else:
                        left = -1 if nxt in buffers else 0
                elif counted:  # an AccumulateGrad
                    left = pending[nxt] - 1
                else:  # (uncounted, ``pending`` holds the waiting ones only)
                    left = pending.pop(nxt, nxt.uses) - 1  # (nxt: an AccumulateGrad)
                if grads_in is not None:
                    g = grads_in[i]
                    if g is not None and (needed is None or nxt in needed):
                        # _deliver, inline for a gradient of the right shape and dtype arriving
                        # first at a single-output node
                        meta = nxt.out_meta
                        a = g._data if g.__class__ is Tensor else g
                        if len(meta) == 1 and nxt not in buffers and \
                                (meta := meta[0])[1] is a.dtype and a.shape == meta[0]:
                            if not left and follow is None:  # its only gradient: carried
                                follow, carry = nxt, g
                                continue
                            buffers[nxt] = [g]
                        else:
                            _deliver(buffers, nxt, nr, g)
                if left > 0:
                    pending[nxt] = left
                elif left:  # (queued before)
                    continue
                elif follow is None:
                    follow = nxt
                else:
                    heapq.heappush(ready, (-nxt.seq, nxt))
                    if nxt not in buffers:
                        buffers[nxt] = None
            g = a = grads_in = None  # (hold no gradient past its delivery: see backend.unshared)
            if not counted and pending:  # (an edge to a waiting one may be in no graph: count)
                counted = True
                pending, done = _recount(pending, ready, follow)
                for acc in done:
                    if follow is None:
                        follow = acc
                    else:
                        heapq.heappush(ready, (-acc.seq, acc))
    if targets is None:
        return []
    return [captured.get(t) for t in targets]


def _chain(node: Node, g: Any, ready: list[tuple[int, Node]], buffers: dict[Node, Any],
           retain_graph: bool) -> tuple[Node, Any]:
    """In a first-order whole-graph pass on bare arrays (see _execute), run ``node``, reached with
    its one gradient ``g`` carried, and the nodes after it for as long as each one's only input
    with an edge leads to an op's node not reached before and its gradient has that node's shape
    and dtype: what _execute's loop does for them (the same VJP calls in the same order, the same
    frees), without its walk over each node's edges (half of a chain's backward loop). Returns the
    pass's next ``(follow, carry)``: the node it stopped at and its carried gradient, not run (one
    that waits behind a more recent node in ``ready``, or that the loop must run), or, when a
    gradient needed reducing or casting (into its buffer) or none came, the node it goes to
    next, with no carried gradient: the state the loop would be in."""
    while not (ready and ready[0][0] < -node.seq):
        edges = node.edges
        n = len(edges)
        if not (n == 2 or n == 4 and edges[2] is None):  # (one input, or a number beside it)
            break
        nxt = edges[0]
        vjp = node.vjp
        if nxt is None or nxt.seq >= ACCUMULATE_FIRST or nxt in buffers or vjp is None or \
                node._retained is not None or not _on_arrays(node):
            break
        if g.__class__ is Tensor:
            g = g._data
        g = vjp(node, g)[0]  # (the gradient for its one edge: the others lead nowhere)
        if node._saved and not retain_graph:  # (Node.release, inline, as the loop's)
            node._saved = node._output = node._held = None
        if g is None:  # (reached, no gradient: queued next, as the walk queues it)
            return nxt, None
        meta = nxt.out_meta
        a = g._data if g.__class__ is Tensor else g
        # (No shape test where the node shares its input's out_meta (record shares it when its
        # output has its input's shape and dtype: an elementwise op's): a VJP's gradient has the
        # broadcast shape, here that of the node's output, which ``g`` had when it came. Reading
        # an array's shape makes a tuple: a tenth of this loop's cost per node.)
        if len(meta) != 1 or (m := meta[0])[1] is not a.dtype or \
                meta is not node.out_meta and a.shape != m[0]:
            _deliver(buffers, nxt, edges[1], g)
            return nxt, None
        node = nxt
    return node, g


def _step(node: Node, buf: list[Any], needed: set[Node] | None, accumulate: bool,
          retain_graph: bool, create_graph: bool, check_anomaly: bool, bare: bool) -> Any:
    """Run one node on the gradients ``buf`` that reached it: its VJP's gradients for its inputs
    (None when it has nothing to pass on). A leaf's AccumulateGrad adds into ``.grad`` when
    ``accumulate``; a target's own node runs no VJP (its inputs are of no interest)."""
    vjp = node.vjp
    if vjp is None:  # an AccumulateGrad, the only node without a VJP
        assert isinstance(node, AccumulateGrad)
        if accumulate:
            g = buf[0]
            buf[0] = None  # (so that ``g`` is this pass's one reference, when nothing else holds it)
            if g.__class__ is Tensor and not create_graph and sys.getrefcount(g) == 2:
                g = g._data  # a gradient tensor nobody else holds: its array may be adopted
            owned = g.__class__ is not Tensor and backend.unshared(g, 1)
            _accumulate(node.variable, _tensor(g), create_graph, owned)
        return None
    if node._retained:
        _fill_retained(node, buf, create_graph)
    if needed is not None and not any(n in needed for n in node.edges[::2]):
        return None
    if len(buf) == 1:
        g = buf[0]
        if bare and _on_arrays(node):
            if isinstance(g, Tensor):
                g = g._data
        elif not isinstance(g, Tensor):
            g = Tensor(g)
    elif getattr(vjp, "keeps_missing", False):
        g = [_tensor(b) for b in buf]
    else:
        g = _fill_missing(node, buf)
    grads_in = vjp(node, g)
    if check_anomaly:
        check_backward(node, grads_in, buf)
    if node._saved and not retain_graph:  # (only what saved something has to free it)
        node.release()
    return grads_in


def _count_edges(roots: list[Node], parents: dict[Node, list[Node]] | None) -> dict[Node, int]:
    """For each node reachable from ``roots``, the number of edges into it from reachable nodes
    (0 for a root no other root reaches). With ``parents``, also fill in where each edge comes
    from."""
    pending = dict.fromkeys(roots, 0)
    stack = list(pending)
    pop, push = stack.pop, stack.append
    walked = 0
    if parents is None:  # (the common case, on its own: this loop runs once per node)
        while stack:
            walked += 1
            if not walked & 0x3FFF:  # (a walk makes no tensors: look at the clock now and then)
                wake()
            for nxt in pop().edges[::2]:
                if nxt is not None:
                    if nxt in pending:
                        pending[nxt] += 1
                    else:
                        pending[nxt] = 1
                        push(nxt)
        return pending
    while stack:
        walked += 1
        if not walked & 0x3FFF:
            wake()
        node = pop()
        for nxt in node.edges[::2]:
            if nxt is None:
                continue
            if nxt in pending:
                pending[nxt] += 1
            else:
                pending[nxt] = 1
                push(nxt)
            parents.setdefault(nxt, []).append(node)
    return pending


def _recount(waiting: dict[Node, int], ready: list[tuple[int, Node]], follow: Node | None
             ) -> tuple[dict[Node, int], list[Node]]:
    """In a by_seq pass (see _execute): the edges each AccumulateGrad still waits for, counted in
    the graph left to run (the nodes reached and not yet run, and every node they reach: no other
    node can still pass a gradient on), and the ``waiting`` ones (reached, with fewer edges walked
    than were made to them) that wait for none."""
    frontier = [n for _, n in ready]
    if follow is not None:
        frontier.append(follow)
    left = {n: c for n, c in _count_edges(frontier, None).items()
            if c and n.seq >= ACCUMULATE_FIRST}
    return left, [n for n in waiting if n not in left]


def _leading_to(targets: list[Node], pending: dict[Node, int], parents: dict[Node, list[Node]]
                ) -> set[Node]:
    """The reachable nodes (those in ``pending``) from which some target can be reached, reachable
    targets included."""
    needed = {t for t in targets if t in pending}
    stack = list(needed)
    walked = 0
    while stack:
        walked += 1
        if not walked & 0x3FFF:
            wake()
        for p in parents.get(stack.pop(), ()):
            if p not in needed:
                needed.add(p)
                stack.append(p)
    return needed


def _deliver(buffers: dict[Node, list[Any] | None], node: Node, nr: int, g: Any) -> None:
    """Add gradient ``g`` (a tensor, or in a bare pass an array) for output ``nr`` of ``node`` to
    its buffer, first reduced to that output's shape and cast to its dtype where they differ."""
    meta = node.out_meta
    shape, dtype = meta[nr]
    a = g._data if isinstance(g, Tensor) else g
    if a.shape != shape:
        g = _sum_to(_tensor(g), shape, node)
    if a.dtype is not dtype:
        g = ops.to(_tensor(g), dtypes.of_dtype(dtype))
    buf = buffers.get(node)
    if buf is None:
        if len(meta) == 1:
            buffers[node] = [g]
        else:
            buf = buffers[node] = [None] * len(meta)
            buf[nr] = g
    else:
        prev = buf[nr]
        if prev is None:
            buf[nr] = g
        elif isinstance(prev, Tensor) and isinstance(g, Tensor):
            buf[nr] = prev + g
        else:  # a bare pass: nothing to record
            buf[nr] = _array(prev) + _array(g)


def _on_arrays(node: Node) -> bool:
    """Whether ``node``'s VJP may run on bare arrays: it is written for that (graph.on_arrays) and
    every tensor it saved has its output's dtype (so numpy's promotion is torch's)."""
    if node.vjp not in ON_ARRAYS:
        return False
    # (_saved_alike's loop, which costs a chain ~2 k instructions a node, only where the node
    # saved a tensor: none for one that saved its output alone (tanh, exp, ...) or numbers
    # (x * 2.0: None, 2.0))
    return node._saved is not None and (not node._saves_tensors or _saved_alike(node))


def _saved_alike(node: Node) -> bool:
    """Whether every tensor ``node`` saved has its output's dtype (and they are not freed)."""
    saved = node._saved
    if saved is None:  # freed: the VJP's saved() raises torch's error
        return False
    dtype = node.out_meta[0][1]
    for v in saved:  # noqa: SIM110 - a loop, not all(...): this runs once per node
        if v.__class__ is Tensor and v._data.dtype is not dtype:
            return False
    return True


def _tensor(g: Any) -> Any:
    """A gradient as a tensor (None stays None)."""
    return g if g is None or isinstance(g, Tensor) else Tensor(g)


def _captured(g: Any) -> Any:
    """A gradient that autograd.grad hands out, as a tensor: a new array where it is a broadcast
    view made in the pass (a mean's quotient, see graph.takes_broadcast), so the caller gets a new
    writable tensor, as torch's. An expand's view (sum's gradient) stays the view torch's is too
    (it is a view tensor: ``_base``), and a recorded gradient (create_graph) stays itself (the
    broadcast is made in first-order passes only)."""
    t = _tensor(g)
    if t is not None and t._grad_fn is None and t._base is None and backend.repeats(t._data):
        return Tensor(xp.array(t._data, copy=True, order="C"))  # (_own's copy of a broadcast)
    return t


def _own(a: Any) -> Any:
    """A new array with the values of gradient array ``a``, for a gradient that leaves the pass.
    Where ``a`` is a broadcast view (backend.repeats) it is C-ordered, as torch's new gradient is
    (a copy in ``a``'s own order would follow its zero strides into another layout)."""
    return xp.array(a, copy=True, order="C" if backend.repeats(a) else "K")


def _array(g: Any) -> Any:
    return g._data if isinstance(g, Tensor) else g


def _sum_to(g: Tensor, shape: tuple[int, ...], node: Node) -> Tensor:
    """Reduce a broadcast gradient back to ``shape`` (the one place broadcasting is undone)."""
    lead = g.ndim - len(shape)
    ok = lead >= 0 and all(s in (1, gs) for s, gs in zip(shape, g.shape[lead:], strict=True))
    if not ok:
        raise ShapeError(
            f"Function {node.name()} received a gradient of shape {list(g.shape)} but expected "
            f"a shape compatible with {list(shape)}"
        )
    if not shape:  # torch's sum_to: a 0-d target is a plain sum (SumBackward0)
        return ops.sum(g)
    inner = [lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1]
    if lead and not inner and not is_grad_enabled():
        # leading dims only (a bias's gradient): summed away, the result has the shape itself, a
        # fresh array and not a view of one (so that a leaf's .grad may take it: _accumulate).
        # Recording, the keepdim form below: its graph is torch's. A matrix's rows: the lean
        # column sum where it applies (the same bits as ops.sum's, without its per-call Python).
        summed = column_sum(g._data) if lead == 1 else None
        return ops.sum(g, list(range(lead))) if summed is None else Tensor(summed)
    dims = list(range(lead)) + inner
    if dims:
        g = ops.sum(g, dims, keepdim=True)
    return ops.reshape(g, list(shape)) if g.shape != shape else g


def _fill_missing(node: Node, buf: list[Any]) -> list[Tensor]:
    """Zeros for the outputs of a multi-output node that received no gradient."""
    return [_tensor(g) if g is not None else ops.zeros(list(shape), dtype=dtypes.of_dtype(dt))
            for g, (shape, dt) in zip(buf, node.out_meta, strict=True)]


def _accumulate(t: Tensor, g: Tensor, create_graph: bool, owned: bool = False) -> None:
    """Add ``g`` into ``t.grad`` as torch's AccumulateGrad does: the first gradient is copied into
    a tensor of its own (behind a CopyBackwards node with create_graph); later ones are added in
    place (the same tensor, which every name bound to it sees), or out of place with
    create_graph. ``owned``: nothing but ``g`` holds its array (backend.unshared), so the first
    gradient takes that array instead of a copy of it (what hand-written numpy does)."""
    if not create_graph and g.grad_fn is not None:
        g = g.detach()
        owned = False
    if g.dtype is not t.dtype:
        g = ops.to(g, t.dtype)
    old = t._grad
    if old is None:
        if create_graph:
            t._grad = ops.copy_(ops.zeros_like(g), g)
        else:  # (a copy unless owned: g may be another leaf's gradient too, or the caller's seed)
            t._grad = Tensor(g._data if owned else _own(g._data))
    elif create_graph:
        t._grad = old + g
    else:
        a = old._data
        a += g._data if g._data.dtype == a.dtype else g._data.astype(a.dtype)
        bump(old)


def _fill_retained(node: Node, buf: list[Any], create_graph: bool) -> None:
    assert node._retained is not None
    for nr, ref in node._retained.items():
        t = ref()
        if t is not None and buf[nr] is not None:
            _accumulate(t, _tensor(buf[nr]), create_graph)
