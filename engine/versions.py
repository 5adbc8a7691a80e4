"""Version counters: how the backward pass notices that a tensor a node saved was changed in place.

Each storage has one counter (``Tensor._vc``, on the root tensor; views read their root's, and
``detach()`` shares its source's). It is made only when first needed, so ops that never mutate
pay nothing for it. A node that saves tensors remembers the version of any whose counter already
moved (``record``); a node that saved its own output is watched from the moment that output's
storage is first changed or shared (:func:`watch_output`). ``Node.saved`` calls :func:`check`,
which raises torch's message when a saved tensor is no longer at the version it was saved at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.dtypes import DType, of_dtype
from engine.errors import AutogradError

if TYPE_CHECKING:
    from engine.graph import Node
    from engine.tensor import Tensor

_HINT = ("Hint: enable anomaly detection to find the operation that failed to compute its "
         "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")

# The key of the node's own output in ``Node._versions`` (saved inputs are keyed by the tensor).
OUTPUT: Any = "output"


def bump(t: Tensor) -> None:
    """Count one in-place change of ``t``'s storage. If the node that made the storage saved it
    as its output, that node is watched from here on (its saved output is now stale)."""
    root = t._root()
    vc = root._counter()
    watch_output(root, vc)
    vc[0] += 1


def watch_output(root: Tensor, vc: list[int]) -> None:
    """Have ``root.grad_fn`` check ``vc`` when it saved ``root``'s storage as its output."""
    fn = root.grad_fn
    if fn is not None and fn._output is not None and fn._output is root._data:
        watch(fn, vc, vc[0])


def watch(fn: Node, vc: list[int], expected: int) -> None:
    """Have ``fn``'s saved output checked against counter ``vc`` at version ``expected``."""
    entries = fn._versions or ()
    if not any(k is OUTPUT for k, _, _ in entries):
        fn._versions = (*entries, (OUTPUT, vc, expected))


def _moved(t: Any) -> list[int] | None:
    """The version counter of tensor ``t``'s storage if it is past 0, else None."""
    base = t._base
    vc: list[int] | None = (t if base is None else base)._vc
    return vc if vc is not None and vc[0] else None


def saved_versions(saved: tuple[Any, ...], tensor_class: Any) -> tuple[Any, ...] | None:
    """The (tensor, counter, version) of each saved tensor whose counter has moved from 0: the
    rest are checked against version 0. None when there are none (the common case)."""
    entries = None
    for s in saved:
        vc = _moved(s) if s.__class__ is tensor_class else None
        if vc is not None:
            entries = (*(entries or ()), (s, vc, vc[0]))
    return entries


def check(node: Node, saved: tuple[Any, ...], tensor_class: Any) -> None:
    """Raise torch's error if a tensor ``node`` saved was changed in place since."""
    entries = node._versions or ()
    for s in saved:
        vc = _moved(s) if s.__class__ is tensor_class else None
        if vc is not None:
            expected = next((v for k, _, v in entries if k is s), 0)
            if vc[0] != expected:
                raise AutogradError(_message(s.shape, s.dtype, s.grad_fn, s._output_nr,
                                             vc[0], expected))
    for k, counter, expected in entries:
        if k is OUTPUT and counter[0] != expected:
            shape, dtype = node.out_meta[0]
            raise AutogradError(_message(shape, of_dtype(dtype), node, 0, counter[0], expected))


def _message(shape: tuple[int, ...], dtype: DType, fn: Node | None, nr: int, version: int,
             expected: int) -> str:
    what = f"[torch.{dtype.scalar_type}Tensor [{', '.join(map(str, shape))}]]"
    if fn is not None:
        what += f", which is output {nr} of {op_name(fn)},"
    return ("one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: {what} is at version {version}; expected version {expected} "
            f"instead. {_HINT}")


def op_name(fn: Node) -> str:
    """torch's short name of a node in messages: ExpBackward0 -> Exp."""
    name = fn.name()
    i = name.find("Backward")
    return name[:i] if i > 0 else name
