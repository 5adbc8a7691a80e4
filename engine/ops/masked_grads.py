"""masked_select and masked_scatter as torch's derivative formulas use them (no op declares them).

masked_fill with a tensor value (MaskedFillBackward1; max()/min()'s VJP fills with one) passes
the value ``grad.masked_select(mask).sum()``; masked_select's VJP scatters back into zeros
(masked_scatter_), whose VJP selects again: each recorded as torch's node, so higher orders keep
torch's graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine import ops
from engine.backend import xp
from engine.graph import Node
from engine.ops.core import broadcast_shapes, record
from engine.registry import internal_node
from engine.tensor import Tensor

_MASKED_SELECT = internal_node("MaskedSelectBackward0")
_MASKED_SCATTER = internal_node("MaskedScatterBackward0")


def masked_select(t: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``t`` where ``mask`` (broadcast together), in order, as a 1-d tensor."""
    shape = broadcast_shapes(t.shape, mask.shape)
    data = xp.broadcast_to(t._data, shape)[xp.broadcast_to(mask._data, shape)]
    return record(data, _MASKED_SELECT, _masked_select_vjp, (t,), saved=(mask,), attrs=t.shape)


def _masked_select_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch's masked_select_backward: zeros of the broadcast shape, g scattered in at the mask
    (mask,) = node.saved()
    shape = broadcast_shapes(node.attrs, mask.shape)
    return (masked_scatter(ops.zeros(list(shape), dtype=g.dtype.name), mask, g),)


def masked_scatter(t: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``t`` with the first elements of ``source`` written, in order, where ``mask`` holds."""
    out = xp.array(t._data, copy=True)
    where = xp.broadcast_to(mask._data, out.shape)
    out[where] = source._data.reshape(-1)[: int(where.sum())]
    return record(out, _MASKED_SCATTER, _masked_scatter_vjp, (t, source), saved=(mask,),
                  attrs=source.shape)


def _masked_scatter_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch (its argument names' order): self's first, grad.masked_fill(mask, 0); then source's,
    # masked_scatter_backward (the selected elements, zero-padded to the source's size)
    (mask,) = node.saved()
    gt = ops.masked_fill(g, mask, 0) if node.needs(0) else None
    return gt, (_scatter_source_grad(g, mask, node.attrs) if node.needs(1) else None)


def _scatter_source_grad(g: Tensor, mask: Tensor, sizes: Sequence[int]) -> Tensor:
    selected = masked_select(g, mask)
    missing = math.prod(sizes) - selected.numel()
    if missing > 0:
        selected = ops.cat([selected, ops.zeros([missing], dtype=g.dtype.name)], 0)
    return ops.view(selected, list(sizes))
