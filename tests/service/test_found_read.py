"""/v1/run's read of a body whose program the compile cache keeps under the program's own text
(service/compile_cache.py ``find_text``, service/routers/run.py ``_prepare_found``): the text
found in the body's bytes where its program starts, and only the rest of the body parsed. It must
answer exactly what the general read answers, problems and pointers included, and leave every
body it is not sure of to the general read."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest

from service.compile_cache import CompileCache, find_text, program_text
from service.compiler import Program
from service.jsonbody import max_json_depth
from tests.service.helpers import TEST_SETTINGS, call, let, read_as_the_general_one

pytestmark = pytest.mark.anyio

SQUARES = json.dumps([let("y", "mul", "x", "x"), let("f", "sum", "y"), call("backward", "f"),
                      {"print": {"op": "grad", "args": ["x"]}}])
X = '{"shape": [2], "datatype": "FP32", "data": [1.0, 2.0], "requires_grad": true}'
Y = '{"shape": [2], "datatype": "FP32", "data": [3.0, -1.0], "requires_grad": true}'
LIMIT = max_json_depth(TEST_SETTINGS.max_nesting_depth)  # the JSON depth a body may have
# the body that puts SQUARES's text in the compile cache (sent twice: kept, then protected)
FIRST = f'{{"program": {SQUARES}, "inputs": {{"x": {X}}}}}'


def _nested(levels: int) -> str:
    return "[" * levels + "1.0" + "]" * levels


# bodies sent after FIRST, holding SQUARES's text: those the found read answers, and those it
# must leave to the general read (keys twice, depths, strings and escapes, not JSON, ...)
FOUND = {
    "other inputs": f'{{"program": {SQUARES}, "inputs": {{"x": {Y}}}}}',
    "other members before": f'{{"seed": 3, "outputs": ["x"], "program": {SQUARES}, '
                            f'"inputs": {{"x": {Y}}}}}',
    "the program last": f'{{"inputs": {{"x": {Y}}}, "outputs": ["f"], "program": {SQUARES}}}',
    "blanks around": f'\n {{ "program" :\n\t{SQUARES}  ,"inputs":{{"x":{Y}}} }}\r\n',
    "strings before": f'{{"encoding": "json", "outputs": ["x", "f"], "program": {SQUARES}, '
                      f'"inputs": {{"x": {Y}}}}}',
    "a member before that is wrong": f'{{"graph_format": "none", "program": {SQUARES}, '
                                     f'"inputs": {{"x": {Y}}}}}',
    "an input named program after it": f'{{"program": {SQUARES}, '
                                       f'"inputs": {{"x": {Y}, "program": [1.0]}}}}',
    "an unknown member": f'{{"program": {SQUARES}, "inputs": {{"x": {Y}}}, "extra": {{"a": 1}}}}',
    "a seed that is not a number": f'{{"program": {SQUARES}, "inputs": {{"x": {Y}}}, '
                                   '"seed": "one"}',
    "a missing input": f'{{"program": {SQUARES}}}',
    # (the body, inputs and x are three levels above the literal's)
    **{name: f'{{"program": {SQUARES}, "inputs": {{"x": {{"shape": [1], "datatype": "FP32", '
             f'"data": {_nested(LIMIT - above)}}}}}}}'
       for name, above in (("an input just deep enough", 4), ("an input one level too deep", 3))},
    "an integer past 64 bits in the rest": f'{{"program": {SQUARES}, "seed": {2**70}}}',
}
GENERAL = {
    "the program twice": f'{{"program": {SQUARES}, "program": {SQUARES}, '
                         f'"inputs": {{"x": {Y}}}}}',
    "the program twice, another second": f'{{"program": {SQUARES}, "inputs": {{"x": {Y}}}, '
                                         '"program": [{"print": 1}]}',
    "a key twice in the rest": f'{{"program": {SQUARES}, "inputs": {{"x": {Y}, "x": {X}}}}}',
    "a key twice in an input": f'{{"program": {SQUARES}, "inputs": {{"x": {{"shape": [2], '
                               '"datatype": "FP32", "datatype": "FP64", "data": [1.0, 2.0]}}}}',
    "the text's array not closed there": '{"program": ' + SQUARES + '], "inputs": {}}',
    "a number right after the text": '{"program": ' + SQUARES + ' 1, "inputs": {}}',
    "not JSON after it": f'{{"program": {SQUARES}, "inputs": {{"x": {Y}}}',
    "something after the body": f'{{"program": {SQUARES}, "inputs": {{"x": {Y}}}}} {{}}',
    "a NaN token in the rest": f'{{"program": {SQUARES}, "seed": NaN}}',
    "an input deeper than the parser goes": f'{{"program": {SQUARES}, "inputs": {{"x": '
                                            f'{_nested(300)}}}}}',
    "a source beside it": f'{{"program": {SQUARES}, "source": "print(1)\\n"}}',
    "an input named program before it": f'{{"inputs": {{"x": {Y}, "program": [1.0]}}, '
                                        f'"program": {SQUARES}}}',
    "the member's text in a string before it": f'{{"outputs": ["\\"program\\": {SQUARES}"], '
                                               f'"program": {SQUARES}}}',
    "an escape before it": f'{{"outputs": ["\\u0078"], "program": {SQUARES}, '
                           f'"inputs": {{"x": {Y}}}}}',
    "an escaped key": f'{{"progr\\u0061m": {SQUARES}, "inputs": {{"x": {Y}}}}}',
    "inside another object": f'{{"inputs": {{"program": {SQUARES}}}}}',
    "not an object": f'[{{"program": {SQUARES}}}]',
    "other blanks inside the program": '{"program": ' + SQUARES.replace(", ", ",") + ', '
                                       f'"inputs": {{"x": {Y}}}}}',
    "not UTF-8 in the rest": f'{{"program": {SQUARES}, "outputs": ["\xff"]}}',
}

# other programs, whose texts hold SQUARES's text or start as it does: compiled, then found
OTHER = {
    "more statements after the text": '{"program": ' + SQUARES[:-1] + ', {"print": 1}], '
                                      f'"inputs": {{"x": {Y}}}}}',
    "the text inside another program": f'{{"program": [{{"print": 1}}, {{"no_grad": '
                                       f'{SQUARES}}}], "inputs": {{"x": {Y}}}}}',
}
BODIES = {**FOUND, **GENERAL, **OTHER}


@pytest.mark.parametrize("name", list(BODIES))
async def test_the_found_read_answers_as_the_general_one(
        make_client: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    body = BODIES[name].encode()
    if name == "not UTF-8 in the rest":
        body = body.replace("\xff".encode(), b"\xff")
    headers = {"content-type": "application/json"}

    async def sent() -> list[httpx.Response]:
        async with make_client() as c:  # the program kept, then the body twice
            for _ in range(2):
                r = await c.post("/v1/run", content=FIRST, headers=headers)
                assert r.status_code == 200, r.text
            return [await c.post("/v1/run", content=body, headers=headers) for _ in range(2)]

    taken = await read_as_the_general_one(monkeypatch, sent, "_prepare_found")
    # (the first FIRST is not found: its text is kept only once it compiled)
    assert taken == [False, True, *([True, True] if name in FOUND else
                                    [False, True] if name in OTHER else [False, False])]
    if name in ("other inputs", "other members before", "the program last", "blanks around"):
        fast = await sent()
        assert fast[0].status_code == 200 and fast[0].json()["stats"]["compile_cached"]


def test_a_programs_text_is_read_only_where_its_place_is_certain() -> None:
    body = FIRST.encode()
    assert program_text(body) == SQUARES.encode()
    pretty = json.dumps({"seed": 1, "program": json.loads(SQUARES), "outputs": ["x"]}, indent=2)
    text = program_text(pretty.encode())
    assert text is not None and json.loads(text) == json.loads(SQUARES)
    # a string, an attrs member or an input that looks like the end or the member: passed over
    tricky = json.dumps([{"print": {"op": "py.format", "args": [1], "attrs": {
        "template": '], "inputs": {}'}}}, let("g", "grad", "f", "x", outputs=[1], inputs=["x"])])
    assert program_text(f'{{"program": {tricky}, "seed": 1}}'.encode()) == tricky.encode()
    for doubt in (GENERAL["an input named program before it"],
                  GENERAL["the member's text in a string before it"],
                  GENERAL["an escape before it"], GENERAL["an escaped key"],
                  GENERAL["inside another object"], GENERAL["not an object"],
                  '{"program": {"print": 1}}'):
        assert program_text(doubt.encode()) is None, doubt


def test_kept_texts_are_found_by_their_first_bytes_and_forgotten_with_them() -> None:
    cache = CompileCache(entries=10, max_bytes=1 << 20)
    texts = [b'[{"print": "%s"}, %d]' % (b"x" * 64, k) for k in range(40)]  # one head, 40 texts
    program = Program([], {})
    for text in texts:
        cache.put(text, program, 10)
    # the last few kept under that head are found; one not kept, or a prefix of one, is not
    found = find_text(cache, b'{"program": ' + texts[-1] + b', "seed": 1}')
    assert found is not None and found[0].key == texts[-1] and found[0].program is program
    assert found[1] == b'{"program": [], "seed": 1}'
    assert find_text(cache, b'{"program": ' + texts[0] + b"}") is None
    assert find_text(cache, b'{"program": ' + texts[-1][:-3] + b"}") is None
    # entries leave (others, each asked for twice): their texts are no longer found, nor held
    for k in range(100):
        cache.put(b'[{"print": %d}, "%s"]' % (k, b"y" * 64), program, 10)
        cache.get(b'[{"print": %d}, "%s"]' % (k, b"y" * 64))
    assert find_text(cache, b'{"program": ' + texts[-1] + b"}") is None
    assert len(cache._heads) <= len(cache)  # (the index holds only kept keys)
    assert all(t in cache._probation.items or t in cache._protected.items
               for ts in cache._heads.values() for t in ts)
    off = CompileCache(entries=0, max_bytes=1 << 20)
    off.put(texts[0], program, 10)
    assert find_text(off, b'{"program": ' + texts[0] + b"}") is None
