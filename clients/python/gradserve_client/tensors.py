"""numpy arrays to and from gradserve's tensor objects (``{"shape", "datatype", "b64"}``)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

# wire datatype <-> little-endian numpy dtype (BOOL: one byte each)
_DTYPES: dict[str, np.dtype[Any]] = {"FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
                                     "INT64": np.dtype("<i8"), "BOOL": np.dtype("u1")}
_WIRE: dict[np.dtype[Any], str] = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64",
         np.dtype(np.int64): "INT64", np.dtype(np.bool_): "BOOL"}
_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def tensor(values: Any, dtype: Any = None, *, requires_grad: bool = False) -> dict[str, Any]:
    """A tensor object for an argument: ``tensor([2.0, 3.0])`` is float32 whatever the JSON
    encoder does to ``2.0`` (numpy's float64 default becomes FP32, torch's default; pass
    ``dtype=np.float64`` to keep it), ``tensor(np.arange(3))`` is int64. ``requires_grad``: for
    a request's ``inputs`` only, a leaf that requires grad."""
    array = np.asarray(values, dtype=dtype)
    if dtype is None and array.dtype == np.float64 and not isinstance(values, np.ndarray):
        array = array.astype(np.float32)  # a Python float list: torch.tensor's float32
    if array.dtype not in _WIRE:  # float16, int32, uint8, ...: the nearest wire datatype
        kinds = {"f": np.float32, "i": np.int64, "u": np.int64}
        if array.dtype.kind not in kinds:
            raise TypeError(f"gradserve has no tensor datatype for numpy's {array.dtype}")
        array = array.astype(kinds[array.dtype.kind])
    wire = _WIRE[array.dtype]
    raw = np.ascontiguousarray(array, dtype=_DTYPES[wire]).tobytes()
    out = {"shape": list(array.shape), "datatype": wire, "b64": base64.b64encode(raw).decode()}
    return {**out, "requires_grad": True} if requires_grad else out


def to_array(obj: dict[str, Any]) -> np.ndarray:
    """A tensor object of an answer (``data`` or ``b64``) as a numpy array."""
    dtype = _DTYPES[obj["datatype"]]
    if obj.get("b64") is not None:
        flat = np.frombuffer(base64.b64decode(obj["b64"]), dtype=dtype)
    else:
        flat = np.array([_NONFINITE.get(v, v) if isinstance(v, str) else v for v in obj["data"]],
                        dtype=dtype)
    out = flat.reshape(obj["shape"])
    return out.astype(np.bool_) if obj["datatype"] == "BOOL" else out


@dataclass(frozen=True)
class Tensor:
    """A returned tensor: its values, its ``.grad`` (or None) and its autograd state."""

    value: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None  # torch's class name (e.g. "MulBackward0"), or None


@dataclass(frozen=True)
class Answer:
    """A program's answer: tensors by name, other values, what it printed, the grad_fn graph and
    the run's statistics (the raw JSON is ``raw``)."""

    tensors: dict[str, Tensor]
    values: dict[str, Any]
    printed: list[str]
    graph: dict[str, Any]
    stats: dict[str, Any]
    raw: dict[str, Any]


def read_answer(body: dict[str, Any]) -> Answer:
    graph = body.get("graph", {})
    tensors = {
        name: Tensor(to_array(t), to_array(t["grad"]) if t.get("grad") else None,
                     t["requires_grad"], t["is_leaf"],
                     graph[t["grad_fn"]]["name"] if t.get("grad_fn") else None)
        for name, t in body.get("tensors", {}).items()
    }
    return Answer(tensors, body.get("values", {}), body.get("printed", []), graph,
                  body.get("stats", {}), body)
