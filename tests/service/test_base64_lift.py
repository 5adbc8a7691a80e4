"""A /v1/run body's long base64 texts read from its bytes (service/base64_lift.py): the document
is exactly the parser's, every body answers exactly what the general path answers (values and
problems, pointers included), and the compile cache still keys on the program alone."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import numpy as np
import pytest

from service import base64_lift, compile_cache
from service.base64_lift import LIFT_FROM, lift
from service.compile_cache import CompileCache, find_json
from service.encoding import Base64Text, b64decode
from service.jsonbody import ProgramRoute, parse
from service.routers import run

pytestmark = pytest.mark.anyio

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
# The compile cache keeps programs of up to 8 KiB of JSON here, so texts from LIFT_FROM on are
# lifted (64 KiB of text: 49,152 bytes).
_SETTINGS = {"compile_cache_bytes": 1 << 20}
_N = 16_384  # float32 elements: 87,384 characters of base64


def _text(arr: np.ndarray) -> str:
    return base64.b64encode(arr.tobytes()).decode("ascii")


def _floats(dtype: str, n: int = _N) -> np.ndarray:
    values = np.random.default_rng(18).standard_normal(n).astype(dtype)
    values[:8] = [np.nan, -0.0, np.inf, -np.inf, np.finfo(dtype).smallest_subnormal,
                  np.finfo(dtype).max, 0.0, -np.finfo(dtype).smallest_subnormal]
    return values


def _obj(datatype: str, arr: np.ndarray, **more: Any) -> dict[str, Any]:
    return {"shape": list(arr.shape), "datatype": datatype, "b64": _text(arr), **more}


_FP32 = _obj("FP32", _floats("<f4"))


def _scale(x: Any, encoding: str = "base64", **more: Any) -> dict[str, Any]:
    """The bench's program: x -> x * 2, and the gradient of its sum."""
    return {"program": [
        {"name": "x", "op": "tensor", "args": [x], "attrs": {"requires_grad": True}},
        {"name": "y", "op": "mul", "args": ["x", 2]},
        {"op": "backward", "args": [{"op": "sum", "args": ["y"]}]},
    ], "outputs": ["x", "y"], "encoding": encoding, **more}


def _reduce(x: dict[str, Any], op: str = "sum") -> dict[str, Any]:
    return {"program": [{"name": "x", "op": "tensor", "args": [x]},
                        {"name": "s", "op": op, "args": ["x"]}], "encoding": "base64"}


def _dumps(body: dict[str, Any], **options: Any) -> bytes:
    return json.dumps(body, **options).encode()


def _edit_text(body: bytes, old: bytes, new: bytes) -> bytes:
    """``body`` with its first long text's first occurrence of ``old`` replaced."""
    at = body.index(b'"b64"')
    edited = body[:at] + body[at:].replace(old, new, 1)
    assert edited != body
    return edited


def _escaped(body: bytes, char: bytes, escape: bytes) -> bytes:
    """``body`` with one character of its first long text written as a JSON escape."""
    at = body.index(char, body.index(b'"b64"') + 100)
    return body[:at] + escape + body[at + 1:]


_EMPTY = {"shape": [0], "datatype": "FP32", "b64": ""}
_INT64 = _obj("INT64", np.arange(-4096, 4096, dtype="<i8") * 1_000_000_007)
_BOOL = _obj("BOOL", (np.arange(65_536) % 3 == 0).astype("u1"))
_BASE = _dumps(_scale(_FP32))

# bodies whose texts are lifted (the general path must not be asked): each answers 200
LIFTED: dict[str, bytes] = {
    "fp32": _BASE,
    "fp32, answered as json": _dumps(_scale(_FP32, "json")),
    "fp64": _dumps(_scale(_obj("FP64", _floats("<f8", _N // 2)))),
    "int64": _dumps(_reduce(_INT64)),
    "bool": _dumps(_reduce(_BOOL)),
    "b64 before shape": _dumps(_scale(dict(reversed(_FP32.items())))),
    "spaces and newlines": _dumps(_scale(_FP32), indent=2).replace(b'"b64": ', b'"b64" \n:\t '),
    "an input": _dumps({**_scale("x"), "program": _scale(_FP32)["program"][1:],
                        "inputs": {"x": {**_FP32, "requires_grad": True}}}),
    "two texts and an empty one": _dumps({
        "program": [{"name": "a", "op": "tensor", "args": [_FP32]},
                    {"name": "e", "op": "tensor", "args": [_EMPTY]},
                    {"name": "c", "op": "cat", "args": [["a", "e", "b"]]}],
        "inputs": {"b": _obj("FP32", _floats("<f4")[::-1].copy())}, "encoding": "base64"}),
    "a text in a loop": _dumps({"program": [
        {"name": "i", "op": "tensor", "args": [0]},
        {"while": {"op": "lt", "args": ["i", 3]}, "do": [
            {"name": "x", "op": "tensor", "args": [_FP32]},
            {"op": "add_", "args": ["x", 1]},
            {"name": "i", "op": "add", "args": ["i", 1]}]}], "encoding": "base64"}),
}

# bodies the general path answers (nothing lifted, or the lifted document refused)
GENERAL: dict[str, bytes] = {
    "a short text": _dumps(_reduce(_obj("FP32", _floats("<f4", 1000)))),
    "an escaped slash": _escaped(_BASE, b"/", b"\\/"),
    "a unicode escape": _escaped(_BASE, b"A", b"\\u0041"),
    "an escaped quote": _escaped(_BASE, b"A", b'\\"'),
    "a bad character": _edit_text(_BASE, b'": "', b'": "!'),
    "a control character": _escaped(_BASE, b"A", b"\x01"),
    "a non-ASCII character": _escaped(_BASE, b"A", "\u00e9".encode()),
    "a misplaced =": _escaped(_BASE, b"A", b"="),
    "padding too long": _edit_text(_BASE, b'"}', b'=="}'),
    "a length for another shape": _dumps(_scale({**_FP32, "shape": [_N + 1]})),
    "a length for another datatype": _dumps(_scale({**_FP32, "datatype": "FP64"})),
    "a number": _dumps(_scale({**_FP32, "b64": 12345})),
    "null": _dumps(_scale({**_FP32, "b64": None})),
    "data and b64": _dumps(_scale({**_FP32, "data": [1.0] * _N})),
    "b64 on a call": _dumps({"program": [{"op": "ones", "attrs": {"size": [2]},
                                          "b64": _FP32["b64"]}]}),
    "b64 as an input": _dumps({"program": [{"op": "sum", "args": ["b64"]}],
                               "inputs": {"b64": _FP32["b64"]}}),
    "BOOL bytes over 1": _dumps(_reduce(_obj("BOOL", np.full(65_536, 2, "u1")))),
    "over the element limit": _dumps(_reduce(_obj("BOOL", np.zeros(120_000, "u1")))),
    "integers asked for grad": _dumps({"program": [{"name": "y", "op": "neg", "args": ["x"]}],
                                       "inputs": {"x": {**_INT64, "requires_grad": True}}}),
    "invalid JSON after the text": _BASE[:-1] + b",}",
    "a NaN token after the text": _BASE[:-1] + b', "seed": NaN}',
    "a duplicate key": _BASE[:-1] + b', "encoding": "json"}',
    "too deep": _BASE[:-1] + b', "deep": ' + b"[" * 300 + b"]" * 300 + b"}",
    "the placeholder elsewhere": _BASE[:-1] + b', "outputs": ["#b64 0#"]}',
    "the placeholder escaped": _BASE[:-1] + b', "outputs": ["\\u0023b64 0#"]}',
    "the placeholder as a short text": _dumps({**_scale(_FP32), "inputs": {
        "z": {"shape": [1], "datatype": "FP32", "b64": "#b64 0#"}}}),
    "an escaped quote before the key": _BASE.replace(b'"b64"', b'"x\\"b64"', 1),
}


def _comparable(r: httpx.Response) -> tuple[int, dict[str, Any]]:
    answer = r.json()
    answer.pop("instance", None)  # (the request's own id)
    if "stats" in answer:
        answer["stats"].pop("elapsed_s")
    return r.status_code, answer


async def _answers(make_client: Client, monkeypatch: pytest.MonkeyPatch, body: bytes,
                   must_lift: bool) -> tuple[tuple[int, Any], tuple[int, Any]]:
    """(the general path's answer, the answer with lifting on)."""
    answers = []
    for lifting in (False, True):
        with monkeypatch.context() as m:
            if not lifting:
                m.setattr(run, "lift", lambda body, shortest: None)
            elif must_lift:
                def general(*args: Any) -> Any:
                    raise AssertionError("the general path was asked")
                m.setattr(ProgramRoute, "prepare", general)
            async with make_client(**_SETTINGS) as c:
                r = await c.post("/v1/run", content=body,
                                 headers={"content-type": "application/json"})
            answers.append(_comparable(r))
    return answers[0], answers[1]


@pytest.mark.parametrize("name", list(LIFTED))
async def test_a_lifted_body_answers_as_the_general_path(
        make_client: Client, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    general, lifted = await _answers(make_client, monkeypatch, LIFTED[name], must_lift=True)
    assert general[0] == 200, general
    assert lifted == general


@pytest.mark.parametrize("name", list(GENERAL))
async def test_every_other_body_answers_as_the_general_path(
        make_client: Client, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    general, lifted = await _answers(make_client, monkeypatch, GENERAL[name], must_lift=False)
    assert lifted == general
    status, answer = general
    if name in ("a short text", "an escaped slash", "a unicode escape"):
        assert status == 200, answer
    else:
        assert 400 <= status < 500 and "pointer" in answer, answer


# ----- the document is the parser's ------------------------------------------------------------
def _as_parsed(document: Any) -> Any:
    """``document`` with each lifted text as the string it stands for."""
    if isinstance(document, Base64Text):
        return bytes(document.text).decode("ascii")
    if isinstance(document, dict):
        return {k: _as_parsed(v) for k, v in document.items()}
    if isinstance(document, list):
        return [_as_parsed(v) for v in document]
    return document


def _lifted_document(body: bytes) -> Any:
    """The document the lifting path makes of ``body`` (None where it leaves it alone)."""
    lifted = lift(body, LIFT_FROM)
    if lifted is None:
        return None
    try:
        return lifted.place(parse(lifted.body))
    except Exception:
        return None


@pytest.mark.parametrize("name", list(LIFTED))
def test_the_lifted_document_is_the_parsers(name: str) -> None:
    body = LIFTED[name]
    assert _as_parsed(_lifted_document(body)) == parse(body)


def test_every_text_is_lifted_and_decoded_once() -> None:
    body = LIFTED["two texts and an empty one"]
    lifted = lift(body, LIFT_FROM)
    assert lifted is not None and len(lifted.texts) == 2 and len(lifted.body) < 1000
    for text in lifted.texts.values():
        first, again = text.decode(), text.decode()
        assert first == again == b64decode(bytes(text.text).decode("ascii"))
        assert first is not again  # (the first may be kept, and changed, by its tensor)


def test_a_long_stretch_without_strings_is_not_scanned() -> None:
    # a JSON tensor's megabytes of numbers: the look stops at the first quote out of reach
    data = {"shape": [30_000], "datatype": "FP32", "data": [0.5] * 30_000}
    body = _dumps({**_scale(data), "inputs": {"z": _FP32}})
    assert lift(body, LIFT_FROM) is None


_NOISE = [b'"', b"\\", b" ", b":", b",", b"}", b"]", b"A", b"=", b"#", b"\x01", b"\\u0041",
          b'"b64"', b'"b64":"', "\u00e9".encode()]


def test_a_damaged_body_is_lifted_only_into_the_parsers_document() -> None:
    # where the lifting path makes a document of a body at all, the parser makes the same of it
    rng = random.Random(18)
    small = _dumps({"program": [{"name": "x", "op": "tensor", "args": [
        {"shape": [50_000], "datatype": "BOOL", "b64": "AAAB" * 16_667}]}], "outputs": ["x"]})
    made = 0
    for _ in range(3000):
        body = bytearray(small)
        for _ in range(rng.randint(1, 3)):
            at = rng.choice([rng.randrange(len(body)), rng.randrange(40, 140),
                             rng.randrange(len(body) - 60, len(body))])
            body[at:at + rng.randint(0, 2)] = rng.choice(_NOISE)
        document = _lifted_document(bytes(body))
        if document is not None:
            made += 1
            assert _as_parsed(document) == parse(bytes(body))
    assert made > 50  # (the noise left many bodies valid)


# ----- the compile cache ---------------------------------------------------------------------
def test_a_program_holding_a_lifted_text_is_never_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    # lifted texts are longer than any program the cache keeps (RunRoute.prepare), so such a
    # program is refused by its length, never written out (the cache never holds the body's
    # bytes), as its text was
    def refuse(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("the program was written out")

    monkeypatch.setattr(compile_cache.orjson, "dumps", refuse)
    cache = CompileCache(**{"entries": 8, "max_bytes": _SETTINGS["compile_cache_bytes"]})
    assert cache.longest_json < LIFT_FROM
    body = LIFTED["fp32"]
    lifted = lift(body, LIFT_FROM)
    assert lifted is not None
    document = lifted.place(parse(lifted.body))
    assert find_json(cache, document, len(body)) is None
    assert find_json(cache, parse(body), len(body)) is None


async def test_the_cache_keys_on_the_program_alone(
        make_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # the same program with other lifted inputs: taken from the cache, answered as uncached
    program = _scale("x")["program"][1:]
    bodies = [_dumps({"program": program, "outputs": ["x", "y"], "encoding": "base64",
                      "inputs": {"x": {**_obj("FP32", values), "requires_grad": True}}})
              for values in (_floats("<f4"), _floats("<f4")[::-1].copy(), _floats("<f4") * np.float32(0.5))]
    spied: list[bool] = []
    real_lift = base64_lift.lift

    def spy(body: bytes, shortest: int) -> Any:
        lifted = real_lift(body, shortest)
        spied.append(lifted is not None)
        return lifted

    monkeypatch.setattr(run, "lift", spy)
    async with make_client(**_SETTINGS) as cached, \
            make_client(**_SETTINGS, compile_cache_entries=0) as plain:
        for i, body in enumerate(bodies):
            hit = await cached.post("/v1/run", content=body,
                                    headers={"content-type": "application/json"})
            miss = await plain.post("/v1/run", content=body,
                                    headers={"content-type": "application/json"})
            assert hit.status_code == miss.status_code == 200, (hit.text, miss.text)
            assert hit.json()["stats"]["compile_cached"] is (i > 0)
            assert miss.json()["stats"]["compile_cached"] is False
            assert hit.json()["tensors"] == miss.json()["tensors"]
    assert spied == [True] * 6


async def test_a_text_a_cached_program_could_hold_is_left_to_the_parser(
        make_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # a cache that keeps programs of up to 128 KiB of JSON (the default: 512 KiB) may keep this
    # one, with its 87 KB text: the text is the parser's, and the program is cached as before
    body = _dumps(_reduce(_obj("FP32", _floats("<f4"))))
    lifts: list[int] = []
    real_lift = base64_lift.lift

    def spy(body: bytes, shortest: int) -> Any:
        lifts.append(shortest)
        return real_lift(body, shortest)

    monkeypatch.setattr(run, "lift", spy)
    async with make_client(compile_cache_bytes=16 << 20) as c:  # keeps 128 KiB of JSON
        for cached in (False, True):
            r = await c.post("/v1/run", content=body, headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.json()["stats"]["compile_cached"] is cached
    assert lifts == [128 << 10] * 2
