"""The per-process compile cache: a repeated program (inputs aside) skips validation and compiling,
answers exactly as an uncached run does (problems and pointers included), and stays bounded."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import orjson
import pytest

from service import compile_cache
from service.compile_cache import MEMORY_PER_JSON_BYTE, CompileCache, find_json, json_key, source_key
from service.compiler import Program
from tests.service.helpers import ROOT, call, let

pytestmark = pytest.mark.anyio

TUTORIAL = json.loads((ROOT / "bench/programs/tutorial.json").read_text())
SQUARES = [let("y", "mul", "x", "x"), let("f", "sum", "y"), call("backward", "f")]
X = {"shape": [2], "datatype": "FP32", "data": [1.0, 2.0], "requires_grad": True}

def _nested(levels: int) -> Any:
    literal: Any = 1.0
    for _ in range(levels):
        literal = [literal]
    return literal


# (request body): answers and problems found at compile time, at run time and about inputs
REQUESTS: dict[str, dict[str, Any]] = {
    "the tutorial": TUTORIAL,
    "inputs": {"program": SQUARES, "inputs": {"x": X}, "outputs": ["x", "f"]},
    "a source with inputs": {"source": "import torch\nf = (x * x).sum()\nf.backward()\n",
                             "inputs": {"x": X}},
    "a compile-time problem": {"program": [{"print": 1}, {"break": True}]},
    "a nesting problem": {"program": [{"print": _nested(20)}]},
    "an integer past 64 bits": {"program": [{"print": 2**70}]},
    "a run-time problem": {"program": [let("a", "ones", size=[2]), {"print": "a"},
                                       let("b", "matmul", "a", [[1.0, 2.0, 3.0]])]},
    "a missing input": {"program": SQUARES, "inputs": {}},
    "an unknown input": {"program": SQUARES, "inputs": {"x": X, "q": [1.0]}},
    "a bad input": {"program": SQUARES, "inputs": {"x": {"shape": [2], "datatype": "FP32",
                                                          "data": [1.0]}}},
    "a source's run-time problem": {"source": "import torch\nprint(x)\ny = x @ x.T @ x\n",
                                    "inputs": {"x": [[1.0, 2.0]]}},
    # what the compiled steps do (service/closures.py), run cold and from the cache alike
    **{f"example {p.name}": json.loads(p.read_text())
       for p in sorted((ROOT / "examples").glob("*.json"))},
    "control flow": {"program": [
        let("x", "ones", size=[3], requires_grad=True),
        {"for": "i", "in": call("py.call", 4, function="range"), "do": [
            {"if": call("py.operator", "i", 1, operator="eq"), "then": [{"continue": True}]},
            {"if": call("py.operator", "i", 3, operator="eq"), "then": [{"break": True}],
             "else": [{"print": {"values": ["i", "x"], "sep": "|", "end": "."}}]}]},
        {"for": ["a", "b"], "in": call("py.list", call("py.tuple", 1, 2), call("py.tuple", 3, 4)),
         "do": [{"print": {"values": ["a", "b"]}}]},
        {"no_grad": [let("y", "mul", "x", 2), {"enable_grad": [let("z", "mul", "x", 3)]}]},
        {"assert": call("requires_grad", "z"), "message": "z"},
        {"setitem": ["y", 0, 5.0]},
        let("f", "sum", call("mul", "z", "z")), call("backward", "f"),
        {"set_grad": ["x", None]}, {"print": {"op": "grad", "args": ["x"]}},
        let(["m", "k"], "max", "y", dim=0), {"print": {"values": ["m", "k", "y"]}}]},
    "the step budget, mid-loop": {"program": [
        let("x", "ones", size=[2]),
        {"while": True, "do": [let("x", "add", "x", 1), let("x", "mul", "x", 0.5),
                               {"print": "x"}, let("y", "sum", "x"), let("y", "neg", "y"),
                               let("y", "exp", "y")]}]},
    "the loop budget": {"program": [{"while": True, "do": []}]},
    "a loop's max_iter": {"program": [{"while": True, "do": [{"print": 1}], "max_iter": 3}]},
    "an unknown name": {"program": [{"print": 1}, let("y", "add", call("neg", "nope"), 1)]},
    "a bad argument": {"program": [let("x", "ones", size=[2], requires_grad=True),
                                   let("y", "add", call("grad_fn", call("mul", "x", 2)), 1)]},
    "an engine error in a nested call": {"program": [
        let("a", "ones", size=[2, 3]), {"print": call("sum", call("matmul", "a", "a"))}]},
    "a failed assert": {"program": [{"assert": call("py.operator", 1, 2, operator="gt"),
                                     "message": call("py.format", 1, template="{} is not more")}]},
    "a bad unpack": {"program": [let(["a", "b", "c"], "max", call("ones", size=[2]), dim=0)]},
    "detect_anomaly": {"detect_anomaly": True, "program": [
        let("x", "tensor", [-1.0], requires_grad=True), {"print": "x"},
        let("y", "where", call("gt", "x", 0), call("sqrt", "x"), 0.0),
        call("backward", call("sum", "y"))]},
}


def _without_timing(body: dict[str, Any]) -> dict[str, Any]:
    stats = body.get("stats")
    if stats is not None:
        body["stats"] = {k: v for k, v in stats.items() if k not in ("elapsed_s",
                                                                     "compile_cached")}
    return body


@pytest.mark.parametrize("name", list(REQUESTS))
async def test_a_cached_run_answers_as_an_uncached_one(
        make_client: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
        name: str) -> None:
    request = REQUESTS[name]
    async with make_client(compile_cache_entries=0) as plain, make_client() as cached:
        uncached = await plain.post("/v1/run", json=request)
        first = await cached.post("/v1/run", json=request)
        again = await cached.post("/v1/run", json=request)
        hits = len(cached.app.shared.programs)  # type: ignore[attr-defined]
    answers = [(r.status_code, r.headers["content-type"], _without_timing(r.json()))
               for r in (uncached, first, again)]
    assert answers[0] == answers[1] == answers[2]
    if uncached.status_code != 200:  # (a problem has no timing in it: the very same bytes)
        assert uncached.content == first.content == again.content
    if uncached.status_code == 200:
        assert [r.json()["stats"]["compile_cached"] for r in (uncached, first, again)] == \
            [False, False, True]
    # a program that failed to compile is not kept; one that compiled is, whatever its run did
    # (kept under its canonical JSON, and under the body's own text of it where that differs:
    # test_found_read.py)
    compiled = name not in ("a compile-time problem", "a nesting problem", "a bad input",
                            "an integer past 64 bits")
    assert bool(hits) == compiled and hits <= 2


async def test_the_key_is_the_program_part_only(
        make_client: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]) -> None:
    async with make_client() as c:
        cached = []
        for k, point in enumerate([[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]]):
            # other inputs, other outputs, other seed, keys in another order: the same program
            program = SQUARES if k % 2 == 0 else [dict(reversed(s.items())) for s in SQUARES]
            r = await c.post("/v1/run", json={
                "program": program, "seed": k, "outputs": ["x"] if k else ["f", "x"],
                "inputs": {"x": {**X, "data": point}}})
            assert r.status_code == 200, r.text
            body = r.json()
            cached.append(body["stats"]["compile_cached"])
            assert body["tensors"]["x"]["grad"]["data"] == [2 * v for v in point]
        assert cached == [False, True, True]
        # an int where a float was is another program (another dtype): compiled afresh
        other = [let("y", "mul", "x", "x"), let("f", "sum", "y"), call("backward", "f"),
                 {"print": 1.0}]
        r = await c.post("/v1/run", json={"program": other, "inputs": {"x": X}})
        assert r.json()["stats"]["compile_cached"] is False
        other[-1] = {"print": 1}
        r = await c.post("/v1/run", json={"program": other, "inputs": {"x": X}})
        assert r.json()["stats"]["compile_cached"] is False
    assert json_key(SQUARES) == json_key([dict(reversed(s.items())) for s in SQUARES])
    assert json_key([{"print": 1}]) != json_key([{"print": 1.0}])
    assert source_key("f = x.sum()", frozenset({"x"})) != source_key("f = x.sum()", frozenset())
    # a program's key is its canonical JSON (a list: "["), a source's a prefixed digest: the two
    # kinds of key never meet
    keyed = json_key(SQUARES)
    assert keyed is not None and keyed[0] == orjson.dumps(SQUARES, option=orjson.OPT_SORT_KEYS)
    assert source_key(keyed[0].decode(), frozenset())[:1] != b"["


def _program() -> Program:
    return Program([], {})


def test_the_cache_is_bounded_in_entries_and_bytes() -> None:
    cache = CompileCache(entries=10, max_bytes=1000)
    for k in range(50):
        cache.put(b"%d" % k, _program(), 10)
        assert cache.get(b"%d" % k) is not None  # each asked for again: protected
        assert len(cache) <= 10 and cache.bytes <= 1000
    cache = CompileCache(entries=100, max_bytes=800)
    for k in range(50):
        cache.put(b"%d" % k, _program(), 100)
        cache.get(b"%d" % k)
        assert cache.bytes <= 800
    cache.put(b"big", _program(), 101)  # over an eighth of the bytes: not kept
    assert cache.get(b"big") is None
    off = CompileCache(entries=0, max_bytes=1000)
    off.put(b"a", _program(), 1)
    assert off.get(b"a") is None and len(off) == 0


def test_a_flood_of_one_off_programs_does_not_evict_repeated_ones() -> None:
    cache = CompileCache(entries=10, max_bytes=1 << 20)
    hot = [b"hot%d" % k for k in range(8)]
    for key in hot:  # the programs clients repeat: seen twice, protected
        cache.put(key, _program(), 10)
        assert cache.get(key) is not None
    for k in range(10_000):  # a hostile client's programs, each sent once
        cache.put(b"cold%d" % k, _program(), 10)
    assert all(cache.get(key) is not None for key in hot)
    assert len(cache) == 10


def test_the_cache_is_safe_across_threads() -> None:
    cache = CompileCache(entries=16, max_bytes=1 << 16)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for k in range(2000):
                key = b"%d" % ((k * 7 + seed) % 40)
                if cache.get(key) is None:
                    cache.put(key, _program(), 1 + k % 50)
        except BaseException as exc:  # noqa: BLE001  # (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(cache) <= 16
    assert cache.bytes == sum(e.size for seg in (cache._probation, cache._protected)
                              for e in seg.items.values())


# the rest of the body around a cached program: problems found as when nothing is cached
ENVELOPES: dict[str, dict[str, Any]] = {
    "a bad input": {"inputs": {"x": {"shape": [2], "datatype": "FP32", "data": [1.0]}}},
    "an input that is a name": {"inputs": {"x": "y"}},
    "a misspelt key": {"inputs": {"x": X}, "outputz": ["f"]},
    "a bad seed": {"inputs": {"x": X}, "seed": -1},
    "an unknown output": {"inputs": {"x": X}, "outputs": ["g"]},
    "source as well": {"inputs": {"x": X}, "source": "print(1)"},
    "an unknown input": {"inputs": {"x": X, "w": [1.0]}},
}


@pytest.mark.parametrize("name", list(ENVELOPES))
async def test_the_rest_of_a_cached_programs_body_is_still_validated(
        make_client: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
        name: str) -> None:
    request = {"program": SQUARES, **ENVELOPES[name]}
    async with make_client(compile_cache_entries=0) as plain, make_client() as cached:
        uncached = await plain.post("/v1/run", json=request)
        for _ in range(2):  # compiled, then taken from the cache (and protected there)
            r = await cached.post("/v1/run", json={"program": SQUARES, "inputs": {"x": X}})
            assert r.status_code == 200, r.text
        assert r.json()["stats"]["compile_cached"] is True
        hit = await cached.post("/v1/run", json=request)
    assert uncached.status_code == hit.status_code == 422
    assert uncached.json() == hit.json()


def test_a_program_too_large_to_keep_is_not_hashed() -> None:
    # a program carrying a large tensor literal would never be kept (over 1/8 of the bytes bound),
    # so it is not keyed at all: hashing megabytes of base64 cost more than compiling them
    cache = CompileCache(entries=8, max_bytes=8 * 1024 * MEMORY_PER_JSON_BYTE)
    small = [{"name": "x", "op": "ones", "attrs": {"size": [2]}}]
    large = [{"name": "x", "op": "tensor", "args": [[0.5] * 2000]}]
    assert find_json(cache, {"program": small}) is not None
    assert find_json(cache, {"program": large}) is None
    assert json_key(large) is not None  # (without a bound: keyed as before)


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 4 or r < 0.3:
        return rng.choice([1, -30, 1.5, 1e5, 1e-7, True, None, "", "ab", 'e\u0301"\\', "\u00e9"])
    if r < 0.65:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    return {rng.choice(["a", "bb", "\u00e9", "k\n"]) + str(i): _random_json(rng, depth + 1)
            for i in range(rng.randint(0, 4))}


def test_the_length_bound_is_a_lower_bound() -> None:
    # a program is refused unhashed only when its canonical JSON is surely over the bound
    rng = random.Random(18)
    for _ in range(3000):
        v = _random_json(rng)
        length = len(orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
        assert not compile_cache._surely_longer(v, length)
        for n in range(length):
            if compile_cache._surely_longer(v, n):
                assert length > n
    long_list = [0] * 5000  # counted by its length alone
    assert compile_cache._surely_longer(long_list, 9_000)
    assert not compile_cache._surely_longer(long_list, 10_001)


def test_megabytes_of_base64_are_refused_without_writing_them_out(monkeypatch: Any) -> None:
    cache = CompileCache(entries=8, max_bytes=8 * 1024 * MEMORY_PER_JSON_BYTE)
    x = {"shape": [300_000], "datatype": "FP32", "b64": "A" * 400_000}
    document = {"program": [{"name": "x", "op": "tensor", "args": [x]}]}

    def refuse(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("the program was written out")

    monkeypatch.setattr(compile_cache.orjson, "dumps", refuse)
    assert find_json(cache, document, 400_100) is None
    assert find_json(cache, document) is None
    # a body small enough to hold only programs the cache keeps is keyed as before
    monkeypatch.undo()
    small = {"program": [{"name": "x", "op": "ones", "attrs": {"size": [2]}}]}
    assert find_json(cache, small, 60) is not None
