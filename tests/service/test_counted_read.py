"""/v1/run's counted read of a small body (service/routers/run.py ``_prepare_counted``): parsed
without the duplicate-key look, its members counted instead, and a cached program's body measured
for depth on its rest only. It must answer exactly what the general read answers: the same
bytes, problems and pointers included, for bodies sent cold and again from the compile cache."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest

from service.jsonbody import max_json_depth, same_members
from tests.service.helpers import TEST_SETTINGS, call, let, read_as_the_general_one

pytestmark = pytest.mark.anyio

SQUARES = json.dumps([let("y", "mul", "x", "x"), let("f", "sum", "y"), call("backward", "f")])
X = '{"shape": [2], "datatype": "FP32", "data": [1.0, 2.0], "requires_grad": true}'
COLONS = json.dumps([{"print": call("py.format", 1, template="a:{}:b \"q\" \\")}])
LIMIT = max_json_depth(TEST_SETTINGS.max_nesting_depth)  # the JSON depth a body may have


def _nested(levels: int) -> str:
    return "[" * levels + "1.0" + "]" * levels


# raw bodies: keys twice at each level, escapes, colons in strings, depths, and what the counted
# read leaves to the general one (not JSON, sources, integers past 64 bits)
BODIES: dict[str, str] = {
    "inputs": f'{{"program": {SQUARES}, "inputs": {{"x": {X}}}, "outputs": ["x", "f"]}}',
    "pretty": json.dumps({"program": json.loads(SQUARES), "inputs": {"x": json.loads(X)}},
                         indent=3),
    "a key twice in an input": f'{{"program": {SQUARES}, "inputs": {{"x": {{"shape": [2], '
                               '"datatype": "FP32", "datatype": "FP64", "data": [1.0, 2.0]}}}}',
    "an input twice": f'{{"program": {SQUARES}, "inputs": {{"x": {X}, "x": {X}}}}}',
    "the program twice": f'{{"program": {SQUARES}, "program": {SQUARES}, "inputs": {{"x": {X}}}}}',
    "a key twice in a statement": '{"program": [{"name": "x", "op": "ones", "op": "ones", '
                                  '"attrs": {"size": [2]}}]}',
    "a key twice in attrs": '{"program": [{"name": "x", "op": "ones", "attrs": {"size": [2], '
                            '"size": [3]}}]}',
    "colons in strings": f'{{"program": {COLONS}}}',
    "an escaped colon": '{"program": [{"print": {"op": "py.format", "args": [1], "attrs": '
                        '{"template": "a\\u003a{}"}}}]}',
    "an escaped colon and a key twice": '{"program": [{"print": {"op": "py.format", "args": '
                                        '[1], "attrs": {"template": "a\\u003a{}", "template": '
                                        '"{}"}}}]}',
    "an escaped colon in a key": '{"program": [{"print": 1}], "see\\u003a": 1}',
    "an unknown member": '{"program": [{"print": 1}], "seed": 1, "extra": {"a:b": [1]}}',
    "a deep input": f'{{"program": {SQUARES}, "inputs": {{"x": {_nested(150)}}}}}',
    "a deeper input": f'{{"program": {SQUARES}, "inputs": {{"x": {_nested(300)}}}}}',
    # (the body, inputs and x are three levels above the literal's)
    "an input just deep enough": f'{{"program": {SQUARES}, "inputs": {{"x": '
                                 f'{{"shape": [1], "datatype": "FP32", "data": '
                                 f'{_nested(LIMIT - 4)}}}}}}}',
    "an input one level too deep": f'{{"program": {SQUARES}, "inputs": {{"x": '
                                   f'{{"shape": [1], "datatype": "FP32", "data": '
                                   f'{_nested(LIMIT - 3)}}}}}}}',
    "a deep program": '{"program": [{"print": ' + _nested(150) + '}]}',
    "not JSON": f'{{"program": {SQUARES}, "inputs": {{"x": {X}}}',
    "a NaN token": '{"program": [{"print": NaN}]}',
    "an integer past 64 bits in the rest": f'{{"program": {SQUARES}, "seed": {2**70}}}',
    "an integer past 64 bits in the program": '{"program": [{"print": 1180591620717411303424}]}',
    "a source": '{"source": "import torch\\nprint(torch.ones(2))\\n"}',
    "a program that is not a list": '{"program": {"print": 1}}',
    "not an object": '[{"program": []}]',
    "a seed that is not a number": f'{{"program": {SQUARES}, "inputs": {{"x": {X}}}, '
                                   '"seed": "one"}',
}


@pytest.mark.parametrize("name", list(BODIES))
async def test_the_counted_read_answers_as_the_general_one(
        make_client: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    body = BODIES[name].encode()
    headers = {"content-type": "application/json"}

    async def three() -> list[httpx.Response]:
        async with make_client() as c:  # cold, then again and again from the compile cache
            return [await c.post("/v1/run", content=body, headers=headers) for _ in range(3)]

    taken = await read_as_the_general_one(monkeypatch, three, "_prepare_counted")
    if name in ("inputs", "pretty", "colons in strings", "an escaped colon"):
        # (it was tested: cold, then by the program's own text, test_found_read.py)
        assert taken == [True]


@pytest.mark.parametrize(("body", "parts", "more", "same"), [
    (b'{"a": 1, "b": {"c": ":"}}', (b'{"c":":"}',), 2, True),
    (b'{"a": 1, "a": 1}', (b'{"a":1}',), 0, False),
    (b'{"a\\u003a": 1, "a\\u003a": 1}', (b'{"a:":1}',), 0, False),
    (b'{"a": "\\\\", "b:": "\\""}', (b'{"a":"\\\\","b:":"\\""}',), 0, True),
])
def test_members_are_counted_outside_strings(body: bytes, parts: tuple[bytes, ...], more: int,
                                             same: bool) -> None:
    assert same_members(body, parts, more) is same
