"""The op catalog served at GET /v1/ops, generated from service.signatures (the engine registry
plus the builtins) -- never a second list."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

from engine.registry import Param
from service.builtins import Input
from service.encoding import json_number
from service.signatures import SIGNATURES, Signature

# What each parameter kind accepts in a request.
KINDS: dict[str, str] = {
    "tensor": "a tensor: a name, an array literal, a tensor object or a nested call",
    "tensors": "an array of tensors (names or array literals), or one tensor",
    "operand": "a tensor or a number",
    "node": "a grad_fn node (e.g. the value of grad_fn)",
    "data": "torch.tensor's data: an array literal, a number or a tensor",
    "tensor_or_tensors": "one tensor, or an array of tensors (a tuple: the result then has one "
                         "entry per tensor), as torch.autograd.functional takes them; v is a "
                         "tensor literal where the input it is shaped like is one tensor",
    "int": "an integer",
    "float": 'a number ("NaN", "Infinity", "-Infinity" allowed)',
    "number": 'an integer or a float ("NaN", "Infinity", "-Infinity" allowed)',
    "bool": "true or false",
    "str": "a string",
    "ints": "an array of integers",
    "dims": "an integer or an array of integers",
    "dtype": 'one of "float32", "float64", "int64", "bool"',
    "choice": "one of the listed choices",
    "index": 'an index: integers, null, "..." and {"start", "stop", "step"} slices',
}


class InputInfo(BaseModel):
    name: str
    kind: str
    required: bool
    nullable: bool
    doc: str


class AttrInfo(BaseModel):
    name: str
    kind: str
    required: bool
    nullable: bool
    default: Any = Field(None, description="The default, when not required.")
    choices: list[Any] | None = None
    doc: str


class OpInfo(BaseModel):
    name: str
    source: Literal["engine", "service"] = Field(
        description="engine: an op of the engine registry; service: an accessor or autograd call.")
    category: str
    doc: str
    inputs: list[InputInfo] = Field(description="Given positionally in args.")
    attrs: list[AttrInfo] = Field(description="Given by name in attrs.")
    differentiable: bool | None = None
    grad_fns: list[str] | None = Field(None, description="torch's grad_fn class names it makes.")
    outputs: list[str] | None = Field(None, description="Names of the outputs (>1: a tuple).")
    creation: bool | None = None
    alias_of: str | None = None
    returns: str | None = Field(None, description="service calls: what they return.")


class Catalog(BaseModel):
    ops: list[OpInfo]
    kinds: dict[str, str] = Field(description="What each input and attr kind accepts.")


def _json(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_json(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return json_number(v)
    return v


def _input(i: Input) -> dict[str, Any]:
    return {"name": i.name, "kind": i.kind, "required": i.required, "nullable": i.nullable,
            "doc": i.doc}


def _attr(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "kind": p.kind, "required": p.required,
                           "nullable": p.optional, "doc": p.doc}
    if not p.required:
        out["default"] = _json(p.default)
    if p.choices:
        out["choices"] = _json(p.choices)
    return out


def _entry(sig: Signature) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": sig.name, "source": "engine" if sig.op else "service", "category": sig.category,
        "doc": sig.doc, "inputs": [_input(i) for i in sig.inputs],
        "attrs": [_attr(p) for p in sig.attrs],
    }
    if sig.op is not None:
        op = sig.op
        out.update(differentiable=op.differentiable, grad_fns=[g for g in op.grad_fns if g],
                   outputs=list(op.outputs), creation=op.creation)
        if op.name != sig.name:
            out["alias_of"] = op.name
    elif sig.builtin is not None:
        out["returns"] = sig.builtin.returns
    return out


def catalog() -> dict[str, Any]:
    return {"ops": [_entry(s) for s in SIGNATURES.values()], "kinds": KINDS}
