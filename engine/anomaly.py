"""The NaN and infinity detector: ``detect_anomaly`` stops a program at the first op whose result
or gradient holds a NaN or an infinity, and says where.

Under an :class:`~engine.context.ExecutionContext` with ``detect_anomaly=True``:

* ``record()`` (engine/ops/core.py) calls :func:`check_forward` for every node it creates;
* the backward pass (engine/autograd.py) calls :func:`check_backward` after every VJP.

Only what an op *produces* is checked: its outputs in the forward pass, the gradients it returns in
the backward pass.  A value that is already non-finite when it reaches an op was reported where it
was made, so the first report names the op that created it; a program input that already holds a
NaN is reported at the first op that uses it (its ``inputs`` stats show the NaN).

torch checks only the backward pass, and only for NaN ("Function 'SqrtBackward0' returned nan
values in its 0th output."); that text is kept for backward detections.  This detector also checks
the forward pass, and infinities, so that ``log(0)`` is caught where it happens: with the forward
check on, ``where(x > 0, sqrt(x), 0)`` at ``x = -1`` stops at sqrt's forward (its NaN is made there),
and the classic backward NaN (``sqrt(x) * 0`` at ``x = 0``) stops in SqrtBackward0.

The error is :class:`engine.errors.AnomalyError`; its ``report`` is JSON-able::

    {"grad_fn": "SqrtBackward0", "phase": "forward" | "backward", "index": 0, "kind": "nan" | "inf",
     "step": "/steps/2",          # the program step that recorded the op (node.step), or None
     "running_step": "/steps/5",  # the step being run when it was found (a backward step), or None
     "inputs": [stats, ...], "outputs": [stats, ...]}

``index`` is the output that holds the value: of the op in the forward pass; of its backward
function (the gradient for the op's input ``index``) in the backward pass.  ``inputs`` and
``outputs`` are those of the function that ran: the op's inputs and results in the forward pass,
the incoming gradients and the gradients it returned in the backward pass (None where there is
none).  Each ``stats`` is ``{"shape", "dtype", "nan", "posinf", "neginf", "min", "max"}`` with
``min``/``max`` over the finite values (None if there are none).

The step pointers come from ``ExecutionContext.step``: a caller running a program sets it to the
JSON pointer of each step before running it; ``record()`` copies it onto every node it creates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine import backend
from engine.backend import xp
from engine.context import current as current_context
from engine.errors import AnomalyError
from engine.graph import Node
from engine.tensor import Tensor


def check_forward(node: Node, inputs: Sequence[Any], out: Tensor | Sequence[Tensor]) -> None:
    """Raise AnomalyError if an output of the op recorded as ``node`` holds a NaN or an infinity."""
    outputs = [out] if isinstance(out, Tensor) else list(out)
    found = _first_non_finite(outputs)
    if found is None:
        return
    index, kind = found
    message = f"Function '{node.name()}' returned {kind} values in its {index}th output in the forward pass."
    raise AnomalyError(message, _report(node, "forward", index, kind, inputs, outputs))


def check_backward(node: Node, grads_in: Sequence[Any], grads_out: Any = None) -> None:
    """Raise AnomalyError if a gradient the VJP of ``node`` returned (``grads_in``, one per input
    of the op) holds a NaN or an infinity. ``grads_out``, the gradients it received, go into the
    report when given."""
    found = _first_non_finite(grads_in)
    if found is None:
        return
    index, kind = found
    received = [grads_out] if isinstance(grads_out, Tensor) else list(grads_out or [])
    message = f"Function '{node.name()}' returned {kind} values in its {index}th output."
    raise AnomalyError(message, _report(node, "backward", index, kind, received, grads_in))


def _first_non_finite(values: Sequence[Any]) -> tuple[int, str] | None:
    """(index, "nan" or "inf") of the first floating tensor holding a NaN or an infinity."""
    for i, v in enumerate(values):
        if not isinstance(v, Tensor) or not v.dtype.is_floating_point:
            continue
        a = v._data
        if bool(xp.isfinite(a).all()):
            continue
        return i, "nan" if bool(xp.isnan(a).any()) else "inf"
    return None


def _report(node: Node, phase: str, index: int, kind: str, inputs: Sequence[Any],
            outputs: Sequence[Any]) -> dict[str, Any]:
    ctx = current_context()
    return {
        "grad_fn": node.name(),
        "phase": phase,
        "index": index,
        "kind": kind,
        "step": node.step,
        "running_step": ctx.step if ctx is not None else None,
        "inputs": [stats(v) for v in inputs],
        "outputs": [stats(v) for v in outputs],
    }


def stats(value: Any) -> dict[str, Any] | None:
    """Summary of a tensor (or a Python number) for a report: shape, dtype, counts of NaN and of
    each infinity, and min/max of the finite values (None when there are none)."""
    if value is None:
        return None
    if not isinstance(value, Tensor):
        return _number_stats(value)
    a = value._data
    if not value.dtype.is_floating_point:  # NaN and infinity are floating-point only
        lo, hi = (_host_scalar(xp.min(a)), _host_scalar(xp.max(a))) if a.size else (None, None)
        return _stats_dict(value.shape, value.dtype.name, 0, 0, 0, lo, hi)
    finite = a[xp.isfinite(a)]
    lo, hi = (_host_scalar(xp.min(finite)), _host_scalar(xp.max(finite))) if finite.size else (None, None)
    return _stats_dict(value.shape, value.dtype.name, _count(xp.isnan(a)), _count(a == math.inf),
                       _count(a == -math.inf), lo, hi)


def _number_stats(v: Any) -> dict[str, Any]:
    x = float(v)
    finite = math.isfinite(x)
    return _stats_dict((), type(v).__name__, int(math.isnan(x)), int(x == math.inf), int(x == -math.inf),
                       v if finite else None, v if finite else None)


def _stats_dict(shape: Sequence[int], dtype: str, nan: int, posinf: int, neginf: int, lo: Any,
                hi: Any) -> dict[str, Any]:
    return {"shape": [int(s) for s in shape], "dtype": dtype, "nan": nan, "posinf": posinf,
            "neginf": neginf, "min": lo, "max": hi}


def _count(mask: Any) -> int:
    return int(_host_scalar(xp.sum(mask)))


def _host_scalar(a: Any) -> Any:
    return backend.to_host(a).reshape(()).item()
