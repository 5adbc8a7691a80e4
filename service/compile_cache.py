"""The per-process cache of compiled programs: a client evaluating one function at many points
(an optimiser asking for f and grad f thousands of times) sends the same program with other
``inputs``, and the repeated program skips validation and compiling.

The key depends on the program part of the request only, never on its inputs: for ``program``
its canonical JSON itself (keys sorted; numbers as parsed, so ``1`` and ``1.0`` stay distinct, as
they mean different dtypes), which the table hashes (a digest of it cost a cached request more
than the table's own hash, and the text is already held); for ``source`` a digest of the text and
the names the inputs give, after a prefix no JSON array starts with, so the two kinds never meet.
A compiled ``program`` is also kept under the body's own text of it, where that text is read
exactly from the body's bytes (:func:`program_text`): a client that repeats a program repeats
its text, and a body holding a kept text where its program starts is found without parsing the
program (:func:`find_text`). Any JSON text of a program is as good a key as its canonical one:
two equal texts parse to one program. The compiled program depends on nothing else but the
process's settings, fixed for its life, and holds no per-run state (service/compiler.py), so a
hit is the very program a fresh compile would give.
Failures are never stored: a program that fails to compile fails the same way every time.

Bounded in entries and in bytes (``compile_cache_entries``, ``compile_cache_bytes``; a program's
bytes are estimated from its JSON's: MEMORY_PER_JSON_BYTE), as a segmented LRU: a new program
enters a probation segment (a fifth of the room) and moves to the protected segment only when it
is asked for again while there; each segment drops its least recently used first, and a program
leaving the protected segment goes back to probation. A client sending many different programs
thus churns probation only; to push out a program others repeat it must send each of its own twice
in quick succession, paying the full compile each time. Thread-safe: requests compile in several
worker threads.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson

from service.compiler import Program
from service.encoding import Base64Text
from service.jsonbody import parse_unchecked, structure
from service.program import RunRequest
from service.source.translator import Translation

_PROBATION_SHARE = 5  # probation gets 1/5 of the entries and bytes, protected the rest
_LARGEST_SHARE = 8  # a program over 1/8 of the bytes bound is not cached
# A compiled program's memory per byte of its canonical JSON, about: the tutorial's 1,308 bytes
# of JSON compile to 19.6 kB of nodes (tracemalloc), and hold its validated tensor objects too
# (and the key, the canonical JSON itself: one byte per byte more, within this rounding).
MEMORY_PER_JSON_BYTE = 16


def json_key(program: Any, largest: int | None = None, body_size: int | None = None
             ) -> tuple[bytes, int] | None:
    """The key of a parsed ``program`` member, and its size (canonical JSON bytes); None for a
    program whose estimated memory is over ``largest``, which the cache would not keep anyway
    (hashing a program that carries megabytes of tensor data costs more than its compile).

    ``body_size``: the length of the body the program came in, when known. A body too small to
    hold a program over ``largest`` skips the look below; otherwise a lower bound of the
    canonical length is taken first (:func:`_surely_longer`), so that a program with megabytes of
    base64 is refused without writing them out again (orjson would scan every byte)."""
    key = _canonical(program, largest, body_size)
    return None if key is None else (key, len(key))


def _canonical(program: Any, largest: int | None, body_size: int | None) -> bytes | None:
    """json_key's key: the canonical JSON itself."""
    if largest is not None:
        most = largest // MEMORY_PER_JSON_BYTE  # the longest canonical JSON kept
        if (body_size is None or body_size > most) and _surely_longer(program, most):
            return None
    canonical = orjson.dumps(program, option=orjson.OPT_SORT_KEYS)
    if largest is not None and len(canonical) * MEMORY_PER_JSON_BYTE > largest:
        return None
    return canonical


# Lists longer than this are counted by their length alone (each item at least one byte and a
# comma), not item by item: the bound stays a lower bound, and its cost stays small.
_LONG_LIST = 4096


def _surely_longer(program: Any, n: int) -> bool:
    """Whether the canonical JSON of ``program`` is certainly over ``n`` bytes, from a lower
    bound of its length: a string is at least its characters and two quotes, a number at least
    a byte, a list its brackets, commas and items, an object its braces, commas, quoted keys,
    colons and values. False means only "not certainly"."""
    total = 0
    stack = [program]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is Base64Text:  # (a long text /v1/run's route read itself)
            total += len(v) + 2
        elif t is list:
            total += 2 + max(len(v) - 1, 0)
            if len(v) > _LONG_LIST:
                total += len(v)  # a byte each, at least
            else:
                stack += v
        elif t is dict:
            total += 2 + max(len(v) - 1, 0) + sum(len(k) + 3 for k in v)
            stack += v.values()
        else:
            total += 1
        if total > n:
            return True
    return False


def source_key(source: str, inputs: frozenset[str]) -> bytes:
    """The key of a ``source`` request whose inputs give ``inputs`` (names: they change the
    translation, which reads them as tensors)."""
    # (a digest, not the text: a source may be long beside the program it translates to)
    return _SOURCE + _digest(",".join(sorted(inputs)).encode() + b"\0" + source.encode())


# A source key's prefix: a program's key is its JSON, a list, which starts with "["
_SOURCE = b"source\0"


@dataclass(slots=True)
class Found:
    """A request's program and the cache: its key and size, and its compiled form if cached.
    (A JSON program's key is its canonical JSON: service/routers/run.py counts members on it.)
    ``text``: the program's own text in the body, where it was read exactly
    (:func:`program_text`): a second key the compiled program is kept under (:meth:`CompileCache.keep`)."""

    key: bytes
    size: int
    program: Program | None
    text: bytes | None = None


def find_json(cache: CompileCache, document: Any, body_size: int | None = None) -> Found | None:
    """For a body (as parsed; ``body_size`` bytes long, when known) with a JSON ``program``: where
    it stands in ``cache``. A program found there validated and compiled before, so only the rest
    of the body needs validating."""
    if not isinstance(document, dict) or "source" in document:
        return None
    program = document.get("program")
    if not isinstance(program, list):
        return None
    try:
        key = _canonical(program, cache.largest, body_size)
    except orjson.JSONEncodeError:  # an integer past 64 bits: validation refuses the program
        return None
    if key is None:
        return None
    return Found(key, len(key) * MEMORY_PER_JSON_BYTE, cache.get(key))


# ----- a program found by its own text in the body ---------------------------------------------
# A client that sends one program many times sends the same text of it each time. The cache keeps
# a compiled program under that text too, besides its canonical JSON: both are JSON texts of the
# same program, and two equal texts are one program, so the two kinds of key agree wherever they
# meet. A body that holds a kept text where its program starts is not parsed whole:
# service/routers/run.py parses the rest of it alone. Everything here only ever finds, never
# refuses: where the layout leaves any doubt, the body is read whole, as before.

# The key of the body's own program member, and the opening bracket of its array
_PROGRAM_MEMBER = re.compile(rb'"program"[ \t\n\r]*:[ \t\n\r]*\[')
# Where a program's array may end: a closing bracket followed by the next member of a request
# (a field of RunRequest) or by the body's end. (Inside the array such a bracket is followed by a
# statement's member or by another bracket, except in rare attrs or strings: program_text tries
# a few, and keeps the one that ends a whole JSON value.)
_PROGRAM_END = re.compile(
    rb'\][ \t\n\r]*(?:,[ \t\n\r]*"(?:'
    + b"|".join(re.escape(name.encode()) for name in RunRequest.model_fields)
    + rb')"[ \t\n\r]*:|\}[ \t\n\r]*\Z)')
_MOST_ENDS = 4
_BLANKS = b" \t\n\r"
# Kept JSON texts are found by their first bytes (CompileCache.text_at); a shorter program is
# parsed whole, which costs it little. Texts that begin alike share a head: a few are kept each.
_HEAD = 64
_MOST_PER_HEAD = 4


def _program_start(body: bytes) -> int:
    """Where the array of the top-level ``program`` member of ``body`` starts (its bracket), or
    -1 where that is in any doubt. Without a backslash before the member's key, every quote there
    delimits a string, so an even number of them puts the key outside any string; the brackets
    outside strings before it (one more opened than closed: the body's own brace, its first byte)
    put it in the body's object itself, not in an input. (That holds of any text whose start is
    valid JSON; the caller parses what it relies on.)"""
    member = _PROGRAM_MEMBER.search(body)
    if member is None:
        return -1
    before = body[:member.start()]
    if b"\\" in before or before.count(b'"') % 2 or before.lstrip(_BLANKS)[:1] != b"{":
        return -1
    outside = structure(before)
    if outside.count(b"{") + outside.count(b"[") - outside.count(b"}") - outside.count(b"]") != 1:
        return -1
    return member.end() - 1


def program_text(body: bytes) -> bytes | None:
    """The text of the program array in ``body``, a body that parsed whole (valid JSON), or None
    in doubt: of the first few texts from its bracket to a possible end, the one that is a whole
    JSON value. (An array is a whole value only up to its own closing bracket: a shorter text
    lacks it, and a longer one is never reached.)"""
    start = _program_start(body)
    if start == -1:
        return None
    for end in islice(_PROGRAM_END.finditer(body, start), _MOST_ENDS):
        text = body[start:end.start() + 1]
        try:
            parse_unchecked(text)
        except ValueError:
            continue
        return text
    return None


def find_text(cache: CompileCache, body: bytes) -> tuple[Found, bytes] | None:
    """For a body that holds, where its program starts, a JSON text ``cache`` keeps a program
    under: where the program stands, and the body with ``[]`` in its place, for the caller to
    parse. None where no such text is found, or in doubt.

    Why the rest is all the caller must read: the text found is one whole JSON array (a program
    that came, strictly parsed, validated and compiled, as the top-level program of a body within
    the same depth limit), and an array starting where the body's program array starts is that
    array (a whole array is no prefix of another). So where the rest parses strictly, the body
    does too, with the same members, and the program that text makes."""
    if not cache.enabled:
        return None
    start = _program_start(body)
    if start == -1:
        return None
    kept = cache.text_at(body, start)
    if kept is None:
        return None
    text, program = kept
    return (Found(text, len(text) * MEMORY_PER_JSON_BYTE, program),
            body[:start] + b"[]" + body[start + len(text):])


def find_source(cache: CompileCache, body: RunRequest, translation: Translation) -> Found:
    """For a ``source`` request (translated): where its program stands in ``cache``."""
    assert body.source is not None
    key = source_key(body.source, frozenset(body.inputs or ()))
    size = len(orjson.dumps(translation.program)) * MEMORY_PER_JSON_BYTE
    return Found(key, size, cache.get(key))


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=20).digest()


@dataclass(slots=True)
class _Entry:
    program: Program
    size: int


class _Segment:
    """An LRU segment bounded in entries and bytes (callers hold the cache's lock)."""

    def __init__(self, entries: int, max_bytes: int) -> None:
        self.entries, self.max_bytes = entries, max_bytes
        self.items: OrderedDict[bytes, _Entry] = OrderedDict()
        self.bytes = 0

    def add(self, key: bytes, entry: _Entry) -> list[tuple[bytes, _Entry]]:
        """Add ``entry`` as the most recent; returns what had to leave for it."""
        self.items[key] = entry
        self.bytes += entry.size
        out = []
        while len(self.items) > self.entries or self.bytes > self.max_bytes:
            old_key, old = self.items.popitem(last=False)
            self.bytes -= old.size
            out.append((old_key, old))
        return out

    def pop(self, key: bytes) -> _Entry:
        entry = self.items.pop(key)
        self.bytes -= entry.size
        return entry


class CompileCache:
    def __init__(self, entries: int, max_bytes: int) -> None:
        probation_entries = max(1, entries // _PROBATION_SHARE)
        probation_bytes = max(1, max_bytes // _PROBATION_SHARE)
        self.enabled = entries > 0 and max_bytes > 0
        self.largest = max_bytes // _LARGEST_SHARE
        # the longest canonical JSON kept (json_key's bound): a program holding a string this
        # long never is (service/routers/run.py)
        self.longest_json = self.largest // MEMORY_PER_JSON_BYTE
        self._probation = _Segment(probation_entries, probation_bytes)
        self._protected = _Segment(max(0, entries - probation_entries),
                                   max(0, max_bytes - probation_bytes))
        # the first bytes of the JSON texts kept (keys that start with "[": a source's never
        # does) -> those texts, the most recently kept first (text_at)
        self._heads: dict[bytes, tuple[bytes, ...]] = {}
        self._lock = threading.Lock()

    def get(self, key: bytes) -> Program | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._protected.items.get(key)
            if entry is not None:
                self._protected.items.move_to_end(key)
                return entry.program
            if key not in self._probation.items:
                return None
            entry = self._probation.pop(key)  # asked for again: protected from now on
            for back in self._protected.add(key, entry):
                self._on_probation(*back)
            return entry.program

    def put(self, key: bytes, program: Program, size: int) -> None:
        """Keep a freshly compiled program (on probation); one too large is not kept."""
        if not self.enabled or size > self.largest:
            return
        with self._lock:
            if key in self._protected.items or key in self._probation.items:
                return  # (two threads compiled the same program at once)
            if key[:1] == b"[" and len(key) >= _HEAD:
                head = key[:_HEAD]
                self._heads[head] = (key, *self._heads.get(head, ()))[:_MOST_PER_HEAD]
            self._on_probation(key, _Entry(program, size))

    def _on_probation(self, key: bytes, entry: _Entry) -> None:
        """``entry`` onto probation, whose least recent entries leave the cache for it."""
        for gone, _ in self._probation.add(key, entry):
            head = gone[:_HEAD]
            texts = tuple(t for t in self._heads.get(head, ()) if t != gone)
            if texts:
                self._heads[head] = texts
            else:
                self._heads.pop(head, None)

    def text_at(self, body: bytes, start: int) -> tuple[bytes, Program] | None:
        """A key kept that ``body`` holds from ``start`` (a JSON text), and its program."""
        for text in self._heads.get(body[start:start + _HEAD], ()):
            if body.startswith(text, start):
                program = self.get(text)
                if program is not None:
                    return text, program
        return None

    def keep(self, found: Found, program: Program) -> None:
        """Keep a freshly compiled program under the keys ``found`` has for it."""
        self.put(found.key, program, found.size)
        if found.text is not None:
            self.put(found.text, program, found.size)

    def __len__(self) -> int:
        with self._lock:
            return len(self._probation.items) + len(self._protected.items)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._probation.bytes + self._protected.bytes
