"""service/jsonbody.py: the body's depth is measured the same way whichever route it takes (bytes
or parsed document), and jiter's strict parse accepts exactly what the standard library's strict
parse accepts, with equal documents."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from service.errors import ProgramError
from service.jsonbody import (
    _parse_with_stdlib,
    deeper_than,
    document_depth,
    json_depth,
    parse,
    read_body,
)
from tests.service.helpers import ROOT

TUTORIAL = (ROOT / "bench" / "programs" / "tutorial.json").read_bytes()


def _nested(depth: int, leaf: Any = 1) -> Any:
    doc = leaf
    for i in range(depth):
        doc = [doc] if i % 2 else {"k": doc}
    return doc


@pytest.mark.parametrize("doc", [
    1, "s", [], {}, [[]], {"a": [1, {"b": []}]}, _nested(7), [1, "[[[{", {"x": "]]}"}],
    {"program": [{"op": "x", "args": [list(range(5000))]}]},  # a long list: bytes again
    # few brackets are summed in Python, many in numpy
    _nested(60), _nested(70), json.loads(TUTORIAL)["program"], [[1, 2], ["]"], {"a": "\\"}] * 40,
])
def test_document_depth_is_json_depth(doc: Any) -> None:
    body = json.dumps(doc).encode()
    depth = document_depth(doc)
    assert depth is None or depth == json_depth(body)
    if isinstance(doc, dict) and "program" in doc:
        assert depth is None


@pytest.mark.parametrize("doc", [
    1, [], {"a": [1, {"b": []}]}, _nested(7), _nested(8), [1, "[[[{", {"x": "]]}"}],
    ["[[[[[[[["], [[[[1]]]], [[1], [2], [3], [4], [5], [6], [7], [8]],
])
@pytest.mark.parametrize("limit", [0, 3, 4, 6, 7, 8])
def test_deeper_than_is_json_depth_past_the_limit(doc: Any, limit: int) -> None:
    # (brackets in strings, and many brackets side by side, count for the shortcut only)
    body = json.dumps(doc).encode()
    assert deeper_than(body, limit) is (json_depth(body) > limit)


def _large(doc: Any) -> bytes:
    """``doc`` padded with a long string, so that read_body measures it parsed."""
    return json.dumps({"pad": "x" * 70_000, "doc": doc}).encode()


@pytest.mark.parametrize("depth", [70, 150, 250])
def test_a_large_body_too_deep_is_refused_with_its_depth(depth: int) -> None:
    body = _large(_nested(depth))
    with pytest.raises(ProgramError) as info:
        read_body(body, max_nesting_depth=16)  # at most 48 levels of JSON
    assert info.value.kind == "limit-exceeded"
    assert info.value.extra["value"] == json_depth(body) == depth + 1


def test_a_large_body_within_the_limit_is_its_document() -> None:
    doc = {"values": list(range(10_000)), "nested": _nested(10)}
    assert read_body(_large(doc), max_nesting_depth=16) == {"pad": "x" * 70_000, "doc": doc}


@pytest.mark.parametrize("body", [b'{"a": 1, "a": 2}', b"[NaN]", b'{"x": Infinity}', b"[1,]",
                                  b"\xff", b'"\\ud800"', b"1" * 5000, b"[" * 100 + b"]" * 100])
def test_parse_agrees_with_the_standard_library(body: bytes) -> None:
    _same(body)


def test_parse_agrees_with_the_standard_library_on_mutated_programs() -> None:
    rng = random.Random(7)
    alphabet = b'[]{}",:0123456789.-eE+ \\ntrufalsN\x00\xff'
    for _ in range(3000):
        b = bytearray(TUTORIAL)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(b))
            if rng.random() < 0.5:
                b[at] = rng.choice(alphabet)
            else:
                b.insert(at, rng.choice(alphabet))
        _same(bytes(b))


def _same(body: bytes) -> None:
    """parse and the standard library's strict parser both refuse ``body`` (with the standard
    library's detail) or both give the same document."""
    try:
        expected: Any = ("ok", _parse_with_stdlib(body))
    except ProgramError as err:
        expected = ("invalid-json", err.message)
    try:
        got: Any = ("ok", parse(body))
    except ProgramError as err:
        got = ("invalid-json", err.message)
    assert got == expected, body[:200]
