"""Each problem a new user meets first, in the words the service answers with (service/messages.py
for schema errors, service/hints.py after torch's run-time messages) and at the pointer it names.
The README's table of common mistakes quotes these answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from engine import errors as engine_errors
from service.hints import INT64_LITERAL
from service.messages import NULL_NUMBER
from tests.service.helpers import call, let, post, problem

pytestmark = pytest.mark.anyio

X = let("x", "ones", size=[2], requires_grad=True)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # wording does not depend on the transport: in-process only
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gradserve") as c:
        yield c


SCHEMA_CASES: list[tuple[str, list[Any], str, str]] = [
    ("unknown attr, with the op's attrs and a did-you-mean",
     [X, {"op": "sum", "args": ["x"], "attrs": {"dims": 0}}], "/program/1/attrs/dims",
     "sum has no attr 'dims' (did you mean 'dim'?); its attrs: dim, keepdim, dtype"),
    ("a torch keyword that is an argument here",
     [X, {"op": "backward", "args": ["x"], "attrs": {"gradient": [1.0, 1.0]}}],
     "/program/1/attrs/gradient",
     "'gradient' is not an attr of backward: it is backward's second argument, so it goes in "
     "args (args: input, [gradient], [inputs])"),
    ("a torch keyword with no place", [X, {"op": "neg", "args": ["x"], "attrs": {"out": "y"}}],
     "/program/1/attrs/out",
     "neg has no attr 'out': there is no out=: bind the result with the statement's \"name\""),
    ("an attr of an op without attrs", [X, {"op": "neg", "args": ["x"], "attrs": {"dim": 0}}],
     "/program/1/attrs/dim", "neg takes no attrs (args: input)"),
    ("a number in quotes", [X, call("mul", "x", "2")], "/program/1/args/1",
     "'2' is a string; numbers go unquoted (2), and strings name tensors bound earlier"),
    ("a number in quotes as an attr", [let("y", "full", size=[1], fill_value="0.5")],
     "/program/0/attrs/fill_value",
     "full's attr 'fill_value' is a number; got the string '0.5' (numbers go unquoted)"),
    ("null in tensor data", [let("t", "neg", {"shape": [2], "datatype": "FP32",
                                              "data": [1.0, None]})],
     "/program/0/args/0/data/1", NULL_NUMBER),
    ("a lower-case nan", [X, call("mul", "x", "nan!")], "/program/1/args/1",
     "'nan!' is not a name: a name is an identifier of at most 64 characters (letters, digits "
     "and _, not starting with a digit: ^[A-Za-z_][A-Za-z0-9_]*$)"),
    ("a positional size", [let("o", "ones", [2, 2])], "/program/0/args",
     "ones takes no args: its parameters go in attrs by name (size, dtype, requires_grad); "
     "required: size"),
    ("too many args", [X, call("neg", "x", "x")], "/program/1/args",
     "neg takes at most 1 arg (input), got 2"),
    ("too few args", [X, call("add", "x")], "/program/1/args",
     "add needs at least 2 args (input, other), got 1"),
    ("a required attr missing", [{"name": "o", "op": "ones", "attrs": {"dtype": "float32"}}],
     "/program/0/attrs/size", "ones needs the attr 'size' (a list of integers)"),
    ("attrs missing", [{"name": "o", "op": "ones"}], "/program/0/attrs",
     "ones needs attrs with size"),
    ("a misspelt key of a call", [{"name": "o", "op": "ones", "attrs": {"size": [1]},
                                   "arg": []}],
     "/program/0/arg", "a call of ones has no key 'arg' (did you mean 'args'?); its keys: op, "
     "args, attrs, name"),
    ("a statement without its block", [{"while": False}], "/program/0/do",
     "a while statement needs 'do'"),
    ("a misspelt key of a statement", [{"while": False, "do": [], "body": []}], "/program/0/body",
     "a while statement has no key 'body'; its keys: while, do, max_iter"),
    ("a misspelt key of the request", None, "/outputz",  # type: ignore[list-item]
     "the request has no key 'outputz' (did you mean 'outputs'?); its keys: seed, program, "
     "source, inputs, outputs, encoding, graph_format, detect_anomaly"),
    ("an attr of the wrong kind", [X, {"op": "sum", "args": ["x"], "attrs": {"keepdim": 1}}],
     "/program/1/attrs/keepdim", "sum's attr 'keepdim' is true or false; got an integer 1"),
    ("a choice", [X, {"op": "div", "args": ["x", 2], "attrs": {"rounding_mode": "up"}}],
     "/program/1/attrs/rounding_mode",
     "div's attr 'rounding_mode' is one of \"trunc\", \"floor\", or null; got the string 'up'"),
    ("an object inside an array literal", [let("t", "tensor", [1.0, {"op": "neg"}])],
     "/program/0/args/0/1",
     "an array literal holds numbers, booleans, names, \"NaN\"/\"Infinity\", nested arrays and "
     "(in a list of gradients) null; got an object (a call or a tensor object goes directly in "
     "args, not inside an array literal)"),
]


@pytest.mark.parametrize(("program", "pointer", "detail"),
                         [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
async def test_schema_problem_wording(client: httpx.AsyncClient, program: list[Any] | None,
                                      pointer: str, detail: str) -> None:
    if program is None:
        r = await client.post("/v1/run", json={"program": [], "outputz": ["x"]})
    else:
        r = await post(client, program)
    body = problem(r, "invalid-program", 422, pointer)
    assert body["detail"] == detail or body["detail"].startswith(f"{detail} (and ")
    assert body["errors"][0] == {"pointer": pointer, "detail": detail}


@pytest.mark.parametrize("literal, at", [([1.0, None], "/1"), ([[1.0], [None]], "/1/0")])
async def test_null_in_a_tensor_literal_is_refused_where_it_stands(
        client: httpx.AsyncClient, literal: list[Any], at: str) -> None:
    # (JavaScript's JSON.stringify writes NaN as null.) An array argument may hold null where it
    # lists gradients (grad_outputs=[null, g]), so a tensor literal refuses it when decoded.
    body = problem(await post(client, [let("t", "tensor", literal)]), "invalid-tensor", 422,
                   f"/program/0/args/0{at}")
    assert body["detail"] == NULL_NUMBER


async def test_unknown_op_suggests_a_few_names_only(client: httpx.AsyncClient) -> None:
    body = problem(await post(client, [let("o", "onse", size=[1])]), "unknown-op", 422,
                   "/program/0/op")
    assert body["detail"] == "unknown op 'onse'; did you mean 'ones', 'ne', 'clone'? " \
        "(GET /v1/ops lists them)"
    assert len(body["suggestions"]) <= 3


RUN_CASES: list[tuple[str, list[Any], str, str, str, str]] = [
    ("integer literal meets requires_grad",
     [{"name": "w", "op": "tensor", "args": [[2, 3]], "attrs": {"requires_grad": True}}],
     "autograd-error", "/program/0", engine_errors.INT_REQUIRES_GRAD_CTOR, INT64_LITERAL),
    ("integer literal meets requires_grad_",
     [let("w", "tensor", [2, 3]), call("requires_grad_", "w")],
     "autograd-error", "/program/1", engine_errors.INT_REQUIRES_GRAD, INT64_LITERAL),
    ("integer literal meets mean", [{"print": call("mean", [2, 3])}], "dtype-error",
     "/program/0/print", "mean(): could not infer output dtype", INT64_LITERAL),
    ("non-scalar backward", [X, call("backward", call("mul", "x", 2))], "autograd-error",
     "/program/1", engine_errors.IMPLICIT_SCALAR, "backward's second argument (args[1])"),
    ("forgot requires_grad", [let("x", "ones", size=[2]), call("backward", call("sum", "x"))],
     "autograd-error", "/program/1",
     "element 0 of tensors does not require grad and does not have a grad_fn",
     "{\"requires_grad\": true}"),
    ("backward twice", [X, let("y", "sum", call("mul", "x", "x")), call("backward", "y"),
                        call("backward", "y")],
     "autograd-error", "/program/3", "Trying to backward through the graph a second time",
     "give the first backward attrs {\"retain_graph\": true}"),
    ("use before bind", [call("neg", "w")], "unknown-name", "/program/0/args/0",
     "name 'w' is not defined", "an earlier statement with \"name\": \"w\""),
    ("a misspelt name", [X, call("neg", "xx")], "unknown-name", "/program/1/args/0",
     "name 'xx' is not defined", "Did you mean 'x'?"),
]


@pytest.mark.parametrize(("program", "kind", "pointer", "torch_first", "hint"),
                         [c[1:] for c in RUN_CASES], ids=[c[0] for c in RUN_CASES])
async def test_run_time_problem_keeps_torchs_message_first(
        client: httpx.AsyncClient, program: list[Any], kind: str, pointer: str, torch_first: str,
        hint: str) -> None:
    body = problem(await post(client, program), kind, 422, pointer)
    assert body["detail"].startswith(torch_first)
    assert body["detail"].endswith(hint) or hint in body["detail"]


async def test_null_attrs_and_else_read_as_absent(client: httpx.AsyncClient) -> None:
    """What a generated client sends for members nobody set (datamodel-code-generator's plain
    model_dump_json): optional ``attrs`` and ``else`` as null."""
    r = await post(client, [X, {"name": "s", "op": "sum", "args": ["x"], "attrs": None},
                            {"if": False, "then": [{"print": "s"}], "else": None}])
    assert r.status_code == 200, r.text
