"""Dimension arguments: torch's wrapping of negative dims and its messages for out-of-range ones.
(Below the Tensor, whose ``size(dim)`` wraps its argument too.)"""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import ShapeError


def wrap_dim(dim: int, ndim: int) -> int:
    """Normalise a possibly negative dim, with torch's message when out of range."""
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= dim <= hi:
        raise ShapeError(
            f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})"
        )
    return dim % max(ndim, 1)


def wrap_dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Reduction dims as a sorted tuple of non-negative ints; None or [] mean every dim. A 0-d
    tensor accepts dim 0 or -1 and has nothing to reduce."""
    if dim is None:
        return tuple(range(ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    if not dims:
        return tuple(range(ndim))
    if ndim == 0:
        for d in dims:
            wrap_dim(d, 0)
        return ()
    seen: set[int] = set()
    for d in dims:
        w = wrap_dim(d, ndim)
        if w in seen:  # torch names the first repeated dim, wrapped
            raise ShapeError(f"dim {w} appears multiple times in the list of dims")
        seen.add(w)
    return tuple(sorted(seen))
