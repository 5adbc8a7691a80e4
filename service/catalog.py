"""The op catalog served at GET /v1/ops, generated from service.signatures (the engine registry
plus the program's builtins) and service.param_kinds -- never a second list."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

from engine.registry import Param
from service.encoding import json_number
from service.param_kinds import PARAM_KINDS, Input
from service.signatures import SIGNATURES, Signature


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
    inplace: bool | None = Field(None, description="Changes its first input in place and returns "
                                 "it (torch's trailing underscore: add_, zero_, ...).")
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
                   outputs=list(op.outputs), creation=op.creation, inplace=op.inplace)
        if op.name != sig.name:
            out["alias_of"] = op.name
    elif sig.builtin is not None:
        out["returns"] = sig.builtin.returns
    return out


def catalog() -> dict[str, Any]:
    return {"ops": [_entry(s) for s in SIGNATURES.values()],
            "kinds": {name: kind.accepts for name, kind in PARAM_KINDS.items()}}
