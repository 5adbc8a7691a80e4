"""service/json_compiler.py: a program validated straight into its compiled form must compile
exactly as the request models and the compiler compile it, and must take nothing the models
refuse (it never reports a problem itself: those stay pydantic's, checked by the contract tests).
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import gc
import json
import math
import types
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service import closures
from service.compiler import compile_program as compile_models
from service.errors import ProgramError
from service.interpreter import Interpreter
from service.json_compiler import read_request
from service.program import RunRequest, noted
from service.responses import dumps
from service.settings import Settings
from service.signatures import Signature
from tests.reliability.test_program_fuzz import programs
from tests.service.helpers import ROOT

DEPTH = 16
TUTORIAL = json.loads((ROOT / "bench" / "programs" / "tutorial.json").read_bytes())
EXAMPLES = [json.loads(p.read_text()) for p in sorted((ROOT / "examples").glob("*.json"))]
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _plain(node: Any) -> Any:
    """A compiled program as comparable values: each step (a function service/closures.py
    makes) as its name and what it holds (its closure's cells, its defaults); a node's fields;
    attrs in key order; NaN as its text."""
    if isinstance(node, types.MethodType):  # a call's step or run: closures.invoke and its site
        return ("method", _plain(node.__func__), _plain(node.__self__))
    if isinstance(node, types.FunctionType) and node.__module__ == closures.__name__:
        held = [cell.cell_contents for cell in node.__closure__ or ()]
        return (node.__qualname__, _plain(held), _plain(node.__defaults__ or ()))
    if isinstance(node, Signature):
        return ("signature", node.name)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,
                *(_plain(getattr(node, f.name)) for f in dataclasses.fields(node)))
    if isinstance(node, dict):
        return sorted((k, _plain(v)) for k, v in node.items())
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if isinstance(node, float) and math.isnan(node):
        return "nan"
    return node


def _models(doc: Any) -> tuple[RunRequest, Any] | None:
    """The request and its program as the models and the compiler make them; None when either
    refuses it."""
    try:
        request = RunRequest.model_validate(doc)
        if request.program is None:  # (a source request)
            return None
        return request, compile_models(request.program, DEPTH)
    except (ValidationError, ProgramError):
        return None


def _same_as_the_models(doc: Any) -> bool:
    """Whether the direct path took ``doc``; when it does, the models must take it too and
    compile it alike."""
    request = read_request(doc, DEPTH)
    if request is None:
        return False
    program = noted(request, "compiled")
    models = _models(doc)
    assert models is not None, f"taken directly, refused by the models: {doc}"
    assert _plain(program) == _plain(models[1])  # (its statements, and its free names)
    assert request.model_dump(exclude={"program"}) == models[0].model_dump(exclude={"program"})
    return True


@pytest.mark.parametrize("doc", [TUTORIAL, *EXAMPLES], ids=lambda d: str(len(json.dumps(d))))
def test_known_programs_compile_as_the_models_compile_them(doc: Any) -> None:
    _same_as_the_models(doc)


def test_the_tutorial_and_a_one_statement_program_take_the_direct_path() -> None:
    assert _same_as_the_models(TUTORIAL)
    assert _same_as_the_models({"program": [{"name": "x", "op": "ones", "attrs": {"size": [2]}}]})


@SETTINGS
@given(spec=programs(random_ops=True))
def test_fuzzed_programs_compile_as_the_models_compile_them(spec: dict[str, Any]) -> None:
    _same_as_the_models({"program": spec["program"]})


# Values put in place of one element of a valid program: each is valid somewhere, invalid
# elsewhere, or invalid everywhere.
ODD = [None, True, False, 0, 1, -1, 2, 1.5, -0.0, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**62,
       2**64, "x", "y", "NaN", "Infinity", "-Infinity", "nan", "inf", "fro", "x y", "", "x\n",
       "a" * 64, "a" * 65, "float32", "float64", "int64", "bool", [], [1], [1.0, 2], [[1, 2]],
       [True], ["x"], ["NaN"], [None], [2**63], [[]], [1, [2]], {}, {"op": "nope"},
       {"op": "ones"}, {"op": "add", "args": ["x", 1]}, {"values": ["x"]},
       {"values": ["x"], "sep": "-"}, {"start": 1}, {"shape": [1], "datatype": "FP32",
                                                      "data": [1.0]},
       {"print": "x"}, {"while": False, "do": []}, {"if": True, "then": []},
       {"no_grad": []}, {"break": True}, "max_iter", "do", "else", "name", "attrs", "args"]


def _slots(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``doc`` (keys of objects and items of arrays) that can take a value."""
    found = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _slots(v, (*path, k))
            found.append((*path, ("rename", k)))
        found.append((*path, ("add",)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _slots(v, (*path, i))
        found.append((*path, ("append",)))
    return found


def _put(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    *parents, last = path
    holder = doc
    for p in parents:
        holder = holder[p]
    if isinstance(last, tuple):
        if last[0] == "rename":
            holder[value if isinstance(value, str) else "zz"] = holder.pop(last[1])
        elif last[0] == "add":
            holder[value if isinstance(value, str) else "zz"] = value
        else:
            holder.append(value)
    else:
        holder[last] = value
    return doc


SMALL = {"seed": 0, "program": [
    {"name": "x", "op": "ones", "attrs": {"size": [2, 2], "requires_grad": True}},
    {"name": "y", "op": "add", "args": ["x", 2], "attrs": {"alpha": 1}},
    {"print": {"values": ["y", 1.5], "sep": " "}},
    {"while": {"op": "lt", "args": [{"op": "norm", "args": ["y"]}, 10]}, "max_iter": 5,
     "do": [{"name": "y", "op": "mul", "args": ["y", 2]}]},
    {"if": True, "then": [{"print": "y"}], "else": None},
    {"no_grad": [{"name": "s", "op": "sum", "args": ["y"], "attrs": {"dim": [0],
                                                                     "keepdim": False}}]},
    {"name": "t", "op": "tensor", "args": [[[1, 2], [3, "NaN"]]], "attrs": {"dtype": "float64"}},
    {"name": "r", "op": "arange", "attrs": {"start": "-Infinity", "end": None, "step": 2}},
    {"name": "d", "op": "dropout", "args": ["t"], "attrs": {"p": 1}},
    {"name": "q", "op": "div", "args": ["t", 2], "attrs": {"rounding_mode": "floor"}},
    {"name": "e", "op": "einsum", "args": [["t", "t"]], "attrs": {"equation": "ij,jk"}},
    {"name": "m", "op": "amax", "args": ["t"], "attrs": {"dim": 1}},
], "outputs": ["x", "y"], "encoding": "json", "detect_anomaly": False}
SMALL_SLOTS = _slots(SMALL)


@SETTINGS
@given(where=st.sampled_from(SMALL_SLOTS), value=st.sampled_from(ODD))
def test_a_changed_program_is_taken_only_as_the_models_take_it(where: tuple[Any, ...],
                                                               value: Any) -> None:
    if not where:
        return
    _same_as_the_models(_put(SMALL, where, value))


def test_the_small_program_takes_the_direct_path() -> None:
    assert _same_as_the_models(SMALL)


# ----- what a run answers -----------------------------------------------------------------------
def _answer(request: RunRequest, program: Any) -> bytes:
    """What a run of the compiled ``program`` answers, as bytes: its answer (but for the time it
    took), or its problem (kind, detail, pointer, status and members)."""
    run = Interpreter(request, Settings(), program=program)
    report = contextvars.copy_context().run(run.run)
    if report.error is not None:
        err = report.error
        assert isinstance(err, ProgramError), repr(err)  # (anything else is a 500: a bug)
        return orjson.dumps([err.kind, err.message, err.pointer, err.status, repr(err.extra)])
    assert report.answer is not None
    del report.answer["stats"]["elapsed_s"]
    return dumps(report.answer)


def _answers_as_the_models(doc: Any) -> bool:
    """Whether the direct path took ``doc``; when it does, it must compile as the models do and
    its program must answer (or fail) byte for byte as the models' program does."""
    if not _same_as_the_models(doc):
        return False
    request = read_request(doc, DEPTH)
    models = _models(doc)
    assert request is not None and models is not None
    assert _answer(request, noted(request, "compiled")) == _answer(*models)
    return True


TUTORIAL_SLOTS = _slots(TUTORIAL)
# values that make a compiled call's arguments take the reader's way (a name of another type, an
# unknown name, a number where a tensor is wanted, a call's value not of its input's kind)
WRONG = [*ODD, "out", "v", "zz", {"op": "requires_grad", "args": ["x"]},
         {"op": "grad_fn", "args": ["y"]}, {"op": "numel", "args": ["x"]}]


def test_the_tutorial_answers_as_the_models_program_does() -> None:
    assert _answers_as_the_models(TUTORIAL)


@SETTINGS
@given(where=st.sampled_from(TUTORIAL_SLOTS), value=st.sampled_from(WRONG))
def test_a_damaged_tutorial_answers_as_the_models_program_does(where: tuple[Any, ...],
                                                               value: Any) -> None:
    # (the direct path takes a damaged program only if the models do, compiles it alike, and
    # the run answers the same problem at the same pointer: a call's argument of a type its
    # input does not take, an unknown name, a failing engine call, ...)
    if where:
        _answers_as_the_models(_put(TUTORIAL, where, value))


# the tutorial's call arguments: most values put there are still valid programs, which then fail
# (or not) at run time
ARG_SLOTS = [w for w in TUTORIAL_SLOTS if len(w) >= 2 and w[-2] == "args"]


@SETTINGS
@given(where=st.sampled_from(ARG_SLOTS), value=st.sampled_from(WRONG))
def test_a_tutorial_with_another_argument_answers_as_the_models_program_does(
        where: tuple[Any, ...], value: Any) -> None:
    _answers_as_the_models(_put(TUTORIAL, where, value))


def test_a_compiled_program_is_no_reference_cycle() -> None:
    # (a cycle per compiled call left every request's program to the cyclic garbage collector:
    # closures20's note; a call's site holds nothing that holds the function bound to it)
    models = _models(TUTORIAL)
    assert models is not None
    gc.collect()
    gc.disable()
    try:
        for compile_it in (lambda: read_request(TUTORIAL, DEPTH),
                           lambda: compile_models(models[0].program, DEPTH)):
            compiled = compile_it()
            assert compiled is not None
            del compiled
            assert gc.collect() == 0
    finally:
        gc.enable()
