"""What the tests of the engine's fast paths share: a program runs once with a fast path and once
without it, and everything it returns must be the same bits, dtypes and graphs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import engine as ge

# a small program returning what to compare: name -> tensor (or any comparable value)
Program = Callable[[], dict[str, Any]]


def leaf(dtype: str, n: int = 7, seed: int = 0) -> ge.Tensor:
    """``n`` values of ``dtype`` spread over [-1.7, 1.7], requiring grad."""
    values = np.sin(np.arange(n) * 1.3 + seed) * 1.7
    return ge.tensor(values, dtype=dtype, requires_grad=True)


def _chain(t: ge.Tensor) -> list[str]:
    """The grad_fn names along a tensor's first edges."""
    names = []
    fn = t.grad_fn
    while fn is not None:
        names.append(fn.name())
        fn = next((n for n, _ in fn.next_functions if n is not None), None)
    return names


def seen(found: dict[str, Any]) -> dict[str, Any]:
    """Every tensor as its dtype, shape and exact bytes, its chain of grad_fn names and which of
    its grad_fn's edges are set; any other value as it is."""
    out: dict[str, Any] = {}
    for k, v in found.items():
        if isinstance(v, ge.Tensor):
            a = v.detach().numpy()
            fn = v.grad_fn
            out[k] = (str(a.dtype), a.shape, a.tobytes(), _chain(v),
                      None if fn is None else [n is not None for n, _ in fn.next_functions])
        else:
            out[k] = v
    return out


def run_seen(program: Program, in_context: bool) -> dict[str, Any]:
    """``seen`` of the program's results, run bare or in an execution context (where gradients
    are tensors: the VJPs take their recorded path, not bare arrays)."""
    if in_context:
        with ge.execution(seed=0):
            return seen(program())
    return seen(program())
