"""The JSON body of ``POST /v1/run``: its nesting measured, and parsed strictly.

FastAPI parses a body with the standard library's ``json.loads``, which recurses once per level of
nesting (a body 10,000 levels deep raises RecursionError, which FastAPI turns into a bare 400),
accepts the non-standard tokens ``NaN`` and ``Infinity``, silently keeps the last of two equal keys,
and fails with a bare 400 on bytes that are not UTF-8 or on an integer of more than 4,300 digits.
:class:`ProgramRoute` reads the body before FastAPI does:

* :func:`read_body` measures how deeply arrays and objects nest, without recursion: in the bytes
  (:func:`json_depth`: string contents removed, then a running count of brackets in numpy, in
  chunks) or, for a large body that jiter parses (it refuses more than 200 levels), in its
  document. A body nested deeper than any program within ``max_nesting_depth`` can be is refused
  as ``limit-exceeded`` (422, ``limit: max_nesting_depth``, ``value``: the JSON depth found);
* :func:`parse` then parses it strictly: ``NaN``/``Infinity`` tokens (send the strings ``"NaN"``,
  ``"Infinity"``), duplicate keys (one parser may keep the first and another the last: refusing them
  leaves no doubt about what ran), bytes that are not UTF-8 and over-long numbers are each
  ``invalid-json`` (400) with a precise detail. jiter (pydantic's JSON parser, in Rust) does the
  parsing and checks all of these itself; only a body it refuses goes through the standard
  library's parser again, whose error messages (line and column, the key named) are the detail.

A body of 64 KiB or more is measured, parsed and validated against the route's model on a thread
(``OFF_LOOP_FROM``): a 10 MB program takes seconds to go through, and the event loop must keep
answering health probes meanwhile. A route whose endpoint runs on a thread anyway
(``prepares_on_worker``: POST /v1/run, whose large programs always run in the pool) gets such a
body :class:`Unprepared` instead, and prepares it first thing on its worker: one hop to a thread
and back per request instead of two (a few tenths of a millisecond each on a multi-megabyte body,
whose caches go cold in between). The validated model goes straight to the endpoint: FastAPI
neither parses nor validates again, nor solves dependencies per request (:class:`ProgramRoute`).

Once the body is read, :func:`client_gone` can watch the connection: service/executor.py uses it
to stop a program running on a thread at its next step when its client disconnects, instead of
letting it run on, unseen, until its deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from typing import Any, TypeVar

import jiter
import numpy as np
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from service.errors import ProgramError, limit_exceeded
from service.problems import is_json

# JSON levels a program may use beyond two per level of max_nesting_depth: the body object, the
# program array, a print's {"values": [...]}, tensor objects' shape arrays, attrs objects and the
# nested arrays of an advanced index (which the nesting depth does not count).
_JSON_LEVELS_SLACK = 16
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}":')
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")
_CHUNK = 1 << 20
# +1 for an opening bracket, -1 for a closing one, by byte; below this many brackets a running
# sum in plain Python is cheaper than numpy's
_BRACKET_STEP = [1 if c in b"[{" else -1 if c in b"]}" else 0 for c in range(256)]
_FEW_BRACKETS = 128


def max_json_depth(max_nesting_depth: int) -> int:
    """The deepest JSON a program within ``max_nesting_depth`` can need: each level of calls,
    blocks or array literals is at most two levels of JSON (an object and its args array)."""
    return 2 * max_nesting_depth + _JSON_LEVELS_SLACK


def structure(body: bytes) -> bytes:
    """The brackets and colons of JSON text that lie outside its strings, in order: what its
    nesting (:func:`json_depth`) and its count of object members (:func:`same_members`) are read
    from. On text that is not JSON the answer is only an estimate; the parser rejects such text
    anyway."""
    # Escaped backslashes first, then escaped quotes (a run of backslashes pairs from the left), so
    # that every quote left delimits a string; then keep only quotes, brackets and colons. (Most
    # bodies have no backslash at all; looking is far cheaper than two passes of replace.)
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Between quotes is string content: keep the parts outside.
    return b"".join(body.translate(None, _NOT_STRUCTURE).split(b'"')[::2])


def same_members(body: bytes, parts: tuple[bytes, ...], more: int) -> bool:
    """Whether the JSON text ``body`` writes as many object members (``"key": value``, all
    levels together) as the texts ``parts`` plus ``more``. Outside strings a colon is only ever a
    member's. Without a backslash in ``body`` its strings hold their colons as they are, as
    orjson writes them again (it escapes only quotes, backslashes and control characters, none of
    which such a body's strings hold), so whole texts' colons compare as well; with one, a colon
    may be written ``\\u003a``, and only those outside strings are counted."""
    if b"\\" in body:
        return structure(body).count(b":") == more + sum(
            structure(p).count(b":") for p in parts)
    return body.count(b":") == more + sum(p.count(b":") for p in parts)


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in ``body`` (0 for a scalar), in time and memory linear
    in its size and without parsing it. Brackets inside strings do not count."""
    outside = structure(body).translate(None, _NOT_BRACKET)
    if len(outside) <= _FEW_BRACKETS:  # (numpy's fixed cost is some 12 us: a small program's)
        return max(accumulate(map(_BRACKET_STEP.__getitem__, outside)), default=0)
    deepest = level = 0
    for start in range(0, len(outside), _CHUNK):
        chunk = np.frombuffer(outside, np.uint8, count=min(_CHUNK, len(outside) - start),
                              offset=start)
        running = np.cumsum(np.where((chunk == ord("[")) | (chunk == ord("{")), 1, -1),
                            dtype=np.int64) + level
        deepest = max(deepest, int(running.max()))
        level = int(running[-1])
    return deepest


def deeper_than(body: bytes, limit: int) -> bool:
    """Whether arrays and objects nest in ``body`` more than ``limit`` levels deep (json_depth),
    measured only when it holds more opening brackets than that, strings included: each level
    opens one, so a text with fewer cannot be deeper (a small request's inputs, whose brackets
    two counts find, and a measure would cost a dozen times as much)."""
    return body.count(b"[") + body.count(b"{") > limit and json_depth(body) > limit


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON value; non-finite numbers are sent as the strings "
                     '"NaN", "Infinity" and "-Infinity"')


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return obj


def parse(body: bytes) -> Any:
    """``body`` as JSON, strictly (see the module docstring); ProgramError invalid-json (400).
    Not for a body deeper than jiter's limit of 200 levels (the standard library's parser would
    recurse): read_body checks the depth first."""
    try:
        return _jiter(body)
    except ValueError:
        # The standard library's parser says precisely what is wrong; it also keeps the few
        # documents it accepts and jiter refuses (a lone surrogate escape such as "\\ud800").
        return _parse_with_stdlib(body)


def _jiter(body: bytes) -> Any:
    return jiter.from_json(body, allow_inf_nan=False, catch_duplicate_keys=True)


def parse_unchecked(body: bytes) -> Any:
    """``body`` as jiter parses it without looking for a key twice in one object (that look
    doubles its time): ValueError for anything else parse refuses. The caller counts the members
    instead (:func:`same_members`: fewer in the document than in the body means a key came twice)."""
    return jiter.from_json(body, allow_inf_nan=False)


# A body this large is measured on its parsed document, not byte by byte (see read_body).
_MEASURE_PARSED_FROM = 1 << 16
_LONG_LIST = 4096
_UNPARSED, _REFUSED = object(), object()  # read_body's two states of "no document yet"


def document_depth(doc: Any) -> int | None:
    """How deeply arrays and objects nest in a parsed document (as json_depth counts), or None
    when that would mean looking through a list of over 4,096 items: json_depth is cheaper."""
    deepest = 0
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is dict:
            items: Any = node.values()
        elif type(node) is list:
            if len(node) > _LONG_LIST:
                return None
            items = node
        else:
            continue
        deepest = max(deepest, depth)
        stack += [(v, depth + 1) for v in items if type(v) is dict or type(v) is list]
    return deepest


def read_body(body: bytes, max_nesting_depth: int) -> Any:
    """The document in ``body``, once its depth is known to be within what a program may need
    (else limit-exceeded, ``value``: the depth found).

    The depth comes from the bytes (json_depth) for a small body. A large one is usually a few
    megabytes of base64 or a long list of numbers: jiter parses it first (safely: it refuses more
    than 200 levels), and its document is measured instead, which skips the bytes of long strings;
    a long list sends the measuring (not the parsing) back to the bytes."""
    doc: Any = _UNPARSED
    depth: int | None = None
    if len(body) >= _MEASURE_PARSED_FROM:
        try:
            doc = _jiter(body)
        except ValueError:
            doc = _REFUSED  # measured from the bytes, then parsed again for the error's details
        else:
            depth = document_depth(doc)
    if depth is None:
        depth = json_depth(body)
    limit = max_json_depth(max_nesting_depth)
    if depth > limit:
        raise limit_exceeded(
            "max_nesting_depth", depth, max_nesting_depth,
            f"the body nests arrays and objects {depth} levels deep; a program nests at most "
            f"{max_nesting_depth} levels (calls, blocks and array literals), which is at most "
            f"{limit} levels of JSON", "")
    if doc is _UNPARSED:
        return parse(body)
    return _parse_with_stdlib(body) if doc is _REFUSED else doc


def _parse_with_stdlib(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise _invalid(f"the body is not valid JSON: {exc.msg} (line {exc.lineno} column "
                       f"{exc.colno})") from None
    except ValueError as exc:  # from the hooks above, or an integer of over 4,300 digits
        reason = str(exc)
        if "integer string conversion" in reason:
            reason = "a number has too many digits"
        raise _invalid(f"the body is not valid JSON: {reason}") from None


def _invalid(detail: str) -> ProgramError:
    return ProgramError("invalid-json", detail, "", status=400)


# A body this large is measured, parsed and validated on a thread, not on the event loop: a 10 MB
# program takes seconds to go through, and health probes must answer meanwhile.
OFF_LOOP_FROM = 1 << 16

T = TypeVar("T")


@dataclass(frozen=True)
class Unprepared:
    """A large body handed to a ``prepares_on_worker`` endpoint before it is measured, parsed
    and validated: ``prepare()`` does that (on the endpoint's worker thread) and returns the
    endpoint's body, or raises the problem the route would have answered."""

    prepare: Callable[[], Any]


def prepared(body: T) -> T:
    """``body`` itself, or, when it is :class:`Unprepared`, the body it prepares into (call it on
    a worker thread: it parses megabytes)."""
    return body.prepare() if isinstance(body, Unprepared) else body


class ProgramRoute(APIRoute):
    """A route whose JSON body is measured, parsed and validated here (see the module docstring),
    on a thread when it is large, and whose endpoint ``(body, request) -> Response`` is then
    called directly: FastAPI's per-request dependency solving (about a fifth of a small
    program's time in the server) is skipped, while FastAPI still documents the route from the
    same signature. A body FastAPI would refuse before validating it (not sent as JSON, or
    empty) goes through FastAPI's own handler, which answers as it always has."""

    # True for a route whose endpoint runs every large body's work on a worker thread and calls
    # ``prepared(body)`` there first: it gets a large body Unprepared (one hop instead of two).
    prepares_on_worker = False

    def validate_body(self, document: Any, state: Any, size: int | None = None) -> Any:
        """The endpoint's body: ``document`` (parsed from ``size`` bytes, if known) validated
        against the route's model (``state``: the app's, for a route that needs more of it than
        the settings)."""
        assert self.body_field is not None
        value, errors = self.body_field.validate(document, {}, loc=("body",))
        if errors:
            raise RequestValidationError(errors, body=document)
        return value

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if list(inspect.signature(self.endpoint).parameters) != ["body", "request"]:
            raise TypeError(f"{self.path}: a ProgramRoute endpoint takes (body, request)")

        async def route(request: Request) -> Response:
            if is_json(request.headers.get("content-type", "")):
                body = await request.body()
                if body:
                    return await self.respond(request, body)
            return await handler(request)

        return route

    async def respond(self, request: Request, body: bytes) -> Response:
        """The answer to ``body``, a non-empty body sent as JSON (read already): measured,
        parsed and validated (on a thread when it is large), then given to the endpoint.
        service/fastpath.py calls this too."""
        state = request.app.shared  # (service/deps.py's Shared: what the routes read)
        value: Any
        if len(body) >= OFF_LOOP_FROM:
            if self.prepares_on_worker:
                value = Unprepared(partial(self.prepare, body, state))
            else:
                value = await asyncio.to_thread(self.prepare, body, state)
        else:
            value = self.prepare(body, state)
        response: Response = await self.endpoint(body=value, request=request)
        return response

    def prepare(self, body: bytes, state: Any) -> Any:
        """The endpoint's body: ``body`` measured, parsed and validated, or the problem raised
        (ProgramError, RequestValidationError)."""
        return self.validate_body(read_body(body, state.settings.max_nesting_depth), state,
                                  len(body))


async def client_gone(request: Request) -> None:
    """Returns when the client disconnects. Only for a request whose body has been read whole, so
    that every further message on the connection is ``http.disconnect``."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
