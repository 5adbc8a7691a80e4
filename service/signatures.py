"""One view over everything a program can call: the engine registry's ops (aliases included) and
the program's builtins (service/program_builtins.py). The request models, the interpreter and the
/v1/ops catalog all read :data:`SIGNATURES`; nothing else lists callables.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.registry import OpDef, Param, canonical_ops
from service.param_kinds import Input
from service.program_builtins import BUILTINS, Builtin
from service.python_builtins import PY_BUILTINS
from service.values import ReturnTypes


@dataclass(frozen=True)
class Signature:
    name: str  # what a program writes in "op" (an alias keeps its own name)
    inputs: tuple[Input, ...]  # positional, from "args"
    attrs: tuple[Param, ...]  # by name, from "attrs"
    doc: str
    category: str
    call: Callable[[list[Any], dict[str, Any]], Any]
    op: OpDef | None = None  # the engine op, or None for a builtin
    builtin: Builtin | None = None
    # the function when ``call(values, attrs)`` is just ``direct(*values, **attrs)`` (a builtin;
    # an engine op of one output whose inputs come first, in order: most ops), which the
    # interpreter then calls itself
    direct: Callable[..., Any] | None = None

    @property
    def min_args(self) -> int:
        return sum(1 for i in self.inputs if i.required)


def _positional(op: OpDef) -> bool:
    """Whether the op's inputs are its function's first parameters, in order."""
    names = [p.name for p in op.inputs]
    params = list(inspect.signature(op.fn).parameters.values())[:len(names)]
    return [p.name for p in params] == names and all(
        p.kind is p.POSITIONAL_OR_KEYWORD for p in params)


def _engine_call(op: OpDef, positional: bool) -> Callable[[list[Any], dict[str, Any]], Any]:
    names = [p.name for p in op.inputs]
    several = len(op.outputs) > 1
    # An op's inputs and attrs may interleave in torch's order (gather's input, dim, index), so
    # inputs go by keyword -- unless they are the function's first parameters, in order
    # (``positional``: most ops), where the cheaper positional call means the same.

    def call(values: list[Any], attrs: dict[str, Any]) -> Any:
        if positional:
            out = op.fn(*values, **attrs)
        else:
            out = op.fn(**dict(zip(names, values, strict=False)), **attrs)
        if several and isinstance(out, tuple):
            return ReturnTypes(op.name, op.outputs, out)
        return out

    return call


def _from_op(name: str, op: OpDef) -> Signature:
    # An input defaulting to None (batch_norm's weight) takes an explicit null too, so that a later
    # input can be given positionally.
    inputs = tuple(Input(p.name, p.kind, required=p.required,
                         nullable=p.optional or (not p.required and p.default is None), doc=p.doc)
                   for p in op.inputs)
    positional = _positional(op)
    direct = op.fn if len(op.outputs) == 1 and positional else None
    return Signature(name, inputs, op.attrs, op.doc, op.category, _engine_call(op, positional),
                     op=op, direct=direct)


def _from_builtin(b: Builtin) -> Signature:
    def call(values: list[Any], attrs: dict[str, Any]) -> Any:
        return b.run(*values, **attrs)

    return Signature(b.name, b.inputs, b.attrs, b.doc, b.category, call, builtin=b, direct=b.run)


def _build() -> dict[str, Signature]:
    sigs: dict[str, Signature] = {}
    for op in canonical_ops():
        for name in (op.name, *op.aliases):
            sigs[name] = _from_op(name, op)
    for b in (*BUILTINS, *PY_BUILTINS):
        # An engine op of the same name is the real thing; tests/service/test_signatures.py
        # fails on such a clash so that it is noticed.
        sigs.setdefault(b.name, _from_builtin(b))
    return dict(sorted(sigs.items()))


SIGNATURES: dict[str, Signature] = _build()
