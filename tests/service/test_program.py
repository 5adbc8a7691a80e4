"""service/program.py over HTTP: the typed program format, attrs validated against the registry,
and JSON pointers to every schema error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.program import NOTES, RunRequest, note, noted
from tests.service.helpers import ROOT, ok, post, problem

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("statement", "pointer", "message"), [
    # one case per registry Param kind
    ({"op": "sum", "args": [[1.0]], "attrs": {"dim": "a"}}, "/program/0/attrs/dim", "integer"),
    ({"op": "sum", "args": [[1.0]], "attrs": {"keepdim": 1}}, "/program/0/attrs/keepdim",
     "true or false"),
    ({"op": "unsqueeze", "args": [[1.0]], "attrs": {"dim": 1.5}}, "/program/0/attrs/dim", "integer"),
    ({"op": "ones", "attrs": {"size": [2, "x"]}}, "/program/0/attrs/size/1", "integer"),
    ({"op": "ones", "attrs": {"size": [2], "dtype": "float16"}}, "/program/0/attrs/dtype",
     '"float32"'),
    ({"op": "div", "args": [[1.0], 2], "attrs": {"rounding_mode": "up"}},
     "/program/0/attrs/rounding_mode", 'one of "trunc", "floor"'),
    ({"op": "full", "attrs": {"size": [1], "fill_value": "one"}}, "/program/0/attrs/fill_value",
     "number"),
    ({"op": "einsum", "args": [[[1.0]]], "attrs": {"equation": 3}}, "/program/0/attrs/equation",
     "string"),
    ({"op": "dropout", "args": [[1.0]], "attrs": {"p": True}}, "/program/0/attrs/p", "number"),
])
async def test_attrs_are_validated_by_kind(client: httpx.AsyncClient, statement: dict[str, Any],
                                           pointer: str, message: str) -> None:
    body = problem(await post(client, [statement]), "invalid-program", 422, pointer)
    assert message in body["detail"]
    assert body["errors"][0]["pointer"] == pointer


async def test_unknown_and_missing_attrs(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"op": "sum", "args": [[1.0]], "attrs": {"dimm": 0}}])
    problem(r, "invalid-program", 422, "/program/0/attrs/dimm")
    r = await post(client, [{"op": "full", "attrs": {"size": [1]}}])
    problem(r, "invalid-program", 422, "/program/0/attrs/fill_value")
    r = await post(client, [{"op": "full"}])
    problem(r, "invalid-program", 422, "/program/0/attrs")


async def test_argument_counts_come_from_the_registry(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"op": "add", "args": ["x"]}])
    assert "at least 2" in problem(r, "invalid-program", 422, "/program/0/args")["detail"]
    r = await post(client, [{"op": "neg", "args": ["x", "y"]}])
    assert "at most 1" in problem(r, "invalid-program", 422, "/program/0/args")["detail"]


async def test_unknown_op_suggests_near_names(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"print": {"op": "mean", "args": [{"op": "sumx", "args": ["x"]}]}}])
    body = problem(r, "unknown-op", 422, "/program/0/print/args/0/op")
    assert body["op"] == "sumx" and "sum" in body["suggestions"]


async def test_statement_and_argument_shapes(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"print": "x"}, {"bogus": 1}])
    assert "a statement is an object" in problem(r, "invalid-program", 422, "/program/1")["detail"]
    r = await post(client, [{"while": True, "do": [{"print": {"op": "neg", "args": [{"z": 1}]}}]}])
    problem(r, "invalid-program", 422, "/program/0/do/0/print/args/0")
    r = await post(client, [{"op": "neg", "args": [[1.0, {"a": 1}]]}])
    body = problem(r, "invalid-program", 422, "/program/0/args/0/1")
    assert body["detail"].startswith("an array literal holds numbers")


async def test_names_are_identifiers_and_never_nonfinite_tokens(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"name": "NaN", "op": "ones", "attrs": {"size": [1]}}])
    problem(r, "invalid-program", 422, "/program/0/name")
    r = await post(client, [{"name": "1x", "op": "ones", "attrs": {"size": [1]}}])
    problem(r, "invalid-program", 422, "/program/0/name")


async def test_only_statements_bind_names(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"print": {"op": "neg", "args": [{"name": "y", "op": "ones",
                                                                "attrs": {"size": [1]}}]}}])
    problem(r, "invalid-program", 422, "/program/0/print/args/0/name")


async def test_several_errors_are_all_listed(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"op": "sum", "args": [[1.0]], "attrs": {"dim": "a", "x": 1}}],
                   seed=-1)
    body = problem(r, "invalid-program", 422)
    assert {e["pointer"] for e in body["errors"]} == \
        {"/program/0/attrs/dim", "/program/0/attrs/x", "/seed"}


async def test_tensor_objects_are_checked_against_their_shape(client: httpx.AsyncClient) -> None:
    obj = {"shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}
    r = await post(client, [{"print": {"op": "neg", "args": [obj]}}])
    body = problem(r, "invalid-program", 422, "/program/0/print/args/0/data")
    assert "needs 4 values, data has 3" in body["detail"]
    r = await post(client, [{"print": {"op": "neg", "args": [{"shape": [1], "datatype": "FP32"}]}}])
    assert "exactly one of data and b64" in problem(r, "invalid-program", 422)["detail"]


async def test_norm_accepts_its_fro_default_and_infinity(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        {"name": "a", "op": "norm", "args": [[3.0, -4.0]], "attrs": {"p": "fro"}},
        {"name": "b", "op": "norm", "args": [[3.0, -4.0]], "attrs": {"p": "Infinity"}},
    ])
    assert body["tensors"]["a"]["data"] == [5.0] and body["tensors"]["b"]["data"] == [4.0]


def test_the_example_in_the_schema_and_the_seed_tutorial_validate() -> None:
    for example in RunRequest.model_json_schema()["examples"]:
        RunRequest.model_validate(example)
    RunRequest.model_validate_json((ROOT / "examples" / "seed_tutorial.json").read_text())


def test_notes_are_read_with_their_defaults_and_never_shared_by_copies() -> None:
    fresh = RunRequest.model_validate({"program": []})
    copied = fresh.model_copy(update={"program": []})
    found = object()
    note(copied, "found", found)
    note(copied, "hidden_names", frozenset({"h"}))
    assert [noted(fresh, name) for name in NOTES] == list(NOTES.values())
    assert noted(copied, "found") is found and noted(copied, "hidden_names") == {"h"}
    again = copied.model_copy()  # (shares copied's notes until one of them notes something)
    note(again, "compiled", 1)
    assert noted(copied, "compiled") is None and noted(again, "found") is found
    with pytest.raises(KeyError):
        note(fresh, "nothing", 1)
