"""The per-process cache of compiled programs: a client evaluating one function at many points
(an optimiser asking for f and grad f thousands of times) sends the same program with other
``inputs``, and the repeated program skips validation and compiling.

The key depends on the program part of the request only, never on its inputs: for ``program``
its canonical JSON itself (keys sorted; numbers as parsed, so ``1`` and ``1.0`` stay distinct, as
they mean different dtypes), which the table hashes (a digest of it cost a cached request more
than the table's own hash, and the text is already held); for ``source`` a digest of the text and
the names the inputs give, after a prefix no JSON array starts with, so the two kinds never meet. The compiled
program depends on nothing else but the process's settings, fixed for its life, and holds no
per-run state (service/compiler.py), so a hit is the very program a fresh compile would give.
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
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from service.compiler import Program
from service.encoding import Base64Text
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
    (A JSON program's key is its canonical JSON: service/routers/run.py counts members on it.)"""

    key: bytes
    size: int
    program: Program | None


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
                self._probation.add(*back)
            return entry.program

    def put(self, key: bytes, program: Program, size: int) -> None:
        """Keep a freshly compiled program (on probation); one too large is not kept."""
        if not self.enabled or size > self.largest:
            return
        with self._lock:
            if key in self._protected.items or key in self._probation.items:
                return  # (two threads compiled the same program at once)
            self._probation.add(key, _Entry(program, size))

    def __len__(self) -> int:
        with self._lock:
            return len(self._probation.items) + len(self._protected.items)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._probation.bytes + self._protected.bytes
