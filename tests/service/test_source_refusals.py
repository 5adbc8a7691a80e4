"""Every refused construct and every source limit: a 422 problem pointing at /source with the
location of what was refused (1-based line and column)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from tests.service.helpers import TEST_SETTINGS, problem

pytestmark = pytest.mark.anyio

HEAD = "import torch\nx = torch.ones(2, requires_grad=True)\n"  # lines 1-2


@pytest.fixture
async def asgi(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gradserve") as c:
        yield c


async def refused(client: httpx.AsyncClient, source: str, kind: str = "syntax-error",
                  **fields: Any) -> dict[str, Any]:
    r = await client.post("/v1/run", json={"source": source, **fields})
    return problem(r, kind, 422, "/source")


# (source after HEAD, words the detail must hold, line, column)
REFUSED = [
    ("class Net:\n    pass\n", "`class` definitions", 3, 1),
    ("async def f():\n    pass\n", "`async def`", 3, 1),
    ("try:\n    y = x\nexcept Exception:\n    pass\n", "`try` statements", 3, 1),
    ("def f():\n    global x\n    return x\n", "`global` statements", 4, 5),
    ("def f():\n    yield x\n", "`yield`", 4, 5),
    ("ys = [x * i for i in range(3)]\n", "list comprehensions", 3, 6),
    ("ys = {i for i in range(3)}\n", "set comprehensions", 3, 6),
    ("ys = {i: x for i in range(3)}\n", "dict comprehensions", 3, 6),
    ("ys = sum(x * i for i in range(3))\n", "generator expressions", 3, 9),
    ("d = {'w': x}\n", "dict displays", 3, 5),
    ("s = {1, 2}\n", "set displays", 3, 5),
    ("del x\n", "`del` statements", 3, 1),
    ("raise ValueError('no')\n", "`raise` statements", 3, 1),
    ("match x:\n    case _:\n        pass\n", "`match` statements", 3, 1),
    ("if (n := 3) > 2:\n    pass\n", "assignment expressions", 3, 5),
    ("print(*[x, x])\n", "star-args", 3, 7),
    ("while (x if True else x).sum() > 5:\n    pass\n", "conditional expression in a loop",
     3, 8),
    ("y: int = 3\n", "annotated assignments", 3, 1),
    ("b = 1 in [1, 2]\n", "`in` tests", 3, 5),
    ("b = 1 << 2\n", "`<<`", 3, 5),
    ("import os\n", "import of 'os'", 3, 1),
    ("from os import path\n", "import from 'os'", 3, 1),
    ("from torch import *\n", "import *", 3, 1),
    ("f = open('/etc/passwd')\n", "`open`", 3, 5),
    ("g = getattr(x, 'grad')\n", "`getattr`", 3, 5),
    ("eval('1')\n", "`eval`", 3, 1),
    ("y = x.__class__\n", "dunder names", 3, 5),
    ("y = __import__('os')\n", "dunder names", 3, 5),
    ("@torch.no_grad()\ndef f(t):\n    return t\n", "decorators", 3, 2),
    ("def f(t, *rest):\n    return t\n", "plain positional parameters", 3, 1),
    ("def f(t):\n    return f(t)\ny = f(x)\n", "recursive call", 4, 12),
    ("g = lambda t: t\n", "lambda", 3, 5),
    ("while False:\n    pass\nelse:\n    pass\n", "`while ... else`", 3, 1),
    ("for i in range(2):\n    pass\nelse:\n    pass\n", "`for ... else`", 3, 1),
    ("break\n", "'break' outside loop", 3, 1),
    ("return x\n", "`return` outside a function", 3, 1),
    ("def f(t):\n    if t.sum() > 0:\n        return t\n    return -t\n", "`return` only as",
     5, 9),
    ("def f(t):\n    def g(u):\n        return u\n    return g(t)\n", "nested `def`", 4, 5),
    ("b = 1 < 2 < 3\n", "chained comparisons", 3, 5),
    ("y = x.sum(**kw)\n", "**kwargs", 3, 5),
    ("print(x, file=None)\n", "keyword 'file'", 3, 10),
    ("with open('f') as fh:\n    pass\n", "`with` takes one context manager", 3, 1),
    ("x.data = torch.zeros(2)\n", "assigning to .data", 3, 1),
    ("y = x.foo\n", "the attribute .foo", 3, 5),
    ("x.append(1)\n", "unknown tensor method .append()", 3, 1, "unknown-op"),
    ("n = 0\ny = x.sum(dim=n)\n", "argument 'dim' must be a constant", 4, 15, "type-error"),
    ("y = x + q\n", "name 'q' is not defined", 3, 9, "unknown-name"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[r[1] for r in REFUSED])
async def test_refused_construct(asgi: httpx.AsyncClient, case: tuple[Any, ...]) -> None:
    code, words, line, column, *kind = case
    body = await refused(asgi, HEAD + code, *kind)
    assert words in body["detail"], body["detail"]
    assert f"(line {line})" in body["detail"]
    loc = body["location"]
    assert (loc["line"], loc["column"]) == (line, column), loc
    assert loc["end_line"] >= loc["line"]


async def test_a_syntax_error_is_located(asgi: httpx.AsyncClient) -> None:
    body = await refused(asgi, HEAD + "y = (x +\n")
    assert body["location"]["line"] == 3


async def test_unknown_ops_and_names_suggest_the_catalog(asgi: httpx.AsyncClient) -> None:
    body = await refused(asgi, HEAD + "y = torch.sigmod(x)\n", "unknown-op")
    assert body["suggestions"][0] == "sigmoid" and body["op"] == "torch.sigmod"
    assert body["location"] == {"line": 3, "column": 5, "end_line": 3, "end_column": 17}
    body = await refused(asgi, HEAD + "y = x.sofmax(0)\n", "unknown-op")
    assert "softmax" in body["suggestions"]
    body = await refused(asgi, HEAD + "y = xx + 1\n", "unknown-name")
    assert "did you mean 'x'" in body["detail"] and body["name"] == "xx"


async def test_wrong_arguments_are_located(asgi: httpx.AsyncClient) -> None:
    body = await refused(asgi, HEAD + "y = x.sum(dimm=0)\n", "type-error")
    assert "unexpected keyword argument 'dimm'; did you mean 'dim'" in body["detail"]
    assert body["location"]["column"] == 11
    body = await refused(asgi, HEAD + "y = torch.mse_loss(x)\n", "type-error")
    assert "missing required argument 'target'" in body["detail"]
    body = await refused(asgi, HEAD + "y = x.sum(dim='a')\n", "invalid-program")
    assert body["location"]["line"] == 3


async def test_both_or_neither_of_program_and_source(asgi: httpx.AsyncClient) -> None:
    r = await asgi.post("/v1/run", json={"source": HEAD, "program": []})
    problem(r, "invalid-program", 422)
    r = await asgi.post("/v1/run", json={"seed": 1})
    problem(r, "invalid-program", 422)


async def test_notebook_and_doctest_decorations_are_ignored(asgi: httpx.AsyncClient) -> None:
    source = "%matplotlib inline\n!pip install torch\n>>> import torch\n>>> x = torch.ones(1)\n" \
             ">>> print(x)\ntensor([1.])\n>>> y = x +\n"
    body = await refused(asgi, source)
    assert body["location"]["line"] == 7  # the doctest line, its column past the prompt
    assert body["location"]["column"] > 4


# ----- limits -----------------------------------------------------------------------------------
def _settings(**limits: int) -> Any:
    return TEST_SETTINGS.model_copy(update=limits)


@pytest.fixture
async def small(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_settings(max_source_chars=2_000, max_source_lines=40, max_source_nesting=20,
                               max_source_nodes=400, max_inlined_nodes=600))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gradserve") as c:
        yield c


async def limited(client: httpx.AsyncClient, source: str, limit: str) -> dict[str, Any]:
    body = await refused(client, source, "limit-exceeded")
    assert body["limit"] == limit, body
    return body


async def test_limit_source_chars(small: httpx.AsyncClient) -> None:
    body = await limited(small, HEAD + "#" * 2_000 + "\n", "max_source_chars")
    assert body["maximum"] == 2_000


async def test_limit_source_lines(small: httpx.AsyncClient) -> None:
    body = await limited(small, HEAD + "pass\n" * 50, "max_source_lines")
    assert body["value"] == 52


async def test_limit_bracket_nesting_before_parsing(small: httpx.AsyncClient) -> None:
    body = await limited(small, HEAD + "y = " + "(" * 30 + "x" + ")" * 30 + "\n",
                         "max_source_nesting")
    assert body["location"]["line"] == 3


async def test_deep_expressions_without_brackets(asgi: httpx.AsyncClient) -> None:
    body = await limited(asgi, HEAD + "y = " + " + ".join(["x"] * 2_000) + "\n",
                         "max_source_nesting")
    assert body["location"]["line"] == 3


async def test_limit_syntax_nodes(small: httpx.AsyncClient) -> None:
    await limited(small, HEAD + "y = x + 1 + 1 + 1 + 1 + 1 + 1 + 1\n" * 30, "max_source_nodes")


async def test_limit_inlined_size(small: httpx.AsyncClient) -> None:
    source = HEAD + "def f(t):\n    return t * 2 + t * 3 + t * 4 + t * 5\n" + \
        "y = f(f(f(f(x))))\n" * 16
    body = await limited(small, source, "max_inlined_nodes")
    assert body["location"]["line"] >= 5


async def test_loops_end_at_the_iteration_and_step_limits(asgi: httpx.AsyncClient) -> None:
    body = await limited(asgi, HEAD + "while True:\n    x = x + 1\n", "max_loop_iterations")
    assert body["location"]["line"] == 3
    body = await limited(asgi, HEAD + "for i in range(10**12):\n    pass\n",
                         "max_loop_iterations")
    assert body["location"]["line"] == 3


async def test_python_values_are_bounded(asgi: httpx.AsyncClient) -> None:
    body = await limited(asgi, HEAD + "n = 7\nfor i in range(20):\n    n = n * n\n",
                         "max_int_bits")
    assert body["location"]["line"] == 5
    await limited(asgi, HEAD + "n = 10 ** 100000\n", "max_int_bits")


async def test_format_widths_are_bounded(asgi: httpx.AsyncClient) -> None:
    body = await refused(asgi, HEAD + "print(f'{1:>100000000}')\n", "limit-exceeded")
    assert body["location"]["line"] == 3
