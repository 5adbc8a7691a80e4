"""service/signatures.py, service/param_kinds.py and service/program.py: what a program can call
comes from the engine registry (plus the program's builtins), every parameter kind is taken as its
one row of PARAM_KINDS says, and every registry signature maps to a typed model."""

from __future__ import annotations

import inspect
import typing

import pytest

import engine as ge
from engine.registry import Param, ParamKind, canonical_ops
from service.param_kinds import PARAM_KINDS, READERS, Input
from service.program import CALL_MODELS
from service.program_builtins import BUILTINS
from service.python_builtins import PY_BUILTINS
from service.signatures import SIGNATURES


def test_every_engine_op_and_alias_is_callable() -> None:
    names = {n for op in canonical_ops() for n in (op.name, *op.aliases)}
    assert names <= set(SIGNATURES)
    assert set(SIGNATURES) == names | {b.name for b in (*BUILTINS, *PY_BUILTINS)}
    assert set(CALL_MODELS) == set(SIGNATURES)


def test_no_builtin_shadows_an_engine_op() -> None:
    # If the engine adds one of these, decide which should win, then rename or drop the builtin.
    assert not {b.name for b in BUILTINS} & set(ge.OPS)


def test_every_param_kind_is_one_row_with_a_reader_or_a_request_type() -> None:
    # an input kind is read at run time, an attr kind validated by its request type (a choice's
    # by the param's own choices)
    assert set(typing.get_args(ParamKind)) <= set(PARAM_KINDS)
    for name, kind in PARAM_KINDS.items():
        assert kind.accepts, name
        if name != "choice":
            assert (kind.read is None) != (kind.request is None), name
    engine_inputs = {k for k in typing.get_args(ParamKind) if Param("p", k).is_input}
    assert engine_inputs <= set(READERS)
    assert {i.kind for s in SIGNATURES.values() for i in s.inputs} == set(READERS)
    with pytest.raises(ValueError, match="not an input kind"):
        Input("x", "ints")


def test_ops_take_their_registry_names_as_keywords() -> None:
    # The interpreter calls every op with keywords named after its registry params.
    for op in canonical_ops():
        inspect.signature(op.fn).bind(**{p.name: None for p in op.params})


def test_attr_models_follow_the_registry() -> None:
    for name, sig in SIGNATURES.items():
        annotation = CALL_MODELS[name].model_fields["attrs"].annotation
        # optional attrs are "Attrs_x | None" (null reads as absent)
        attrs = next(a for a in (annotation, *typing.get_args(annotation)) if hasattr(a, "model_fields"))
        fields = attrs.model_fields
        assert list(fields) == [p.name for p in sig.attrs], name
        for p in sig.attrs:
            assert fields[p.name].is_required() == p.required, (name, p.name)
