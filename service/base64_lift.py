"""A request body's long base64 strings, read from its bytes instead of by the JSON parser.

A 1,000,000-element FP32 tensor object carries 5.3 MB of base64. The parser (jiter) scans that
text and copies it into a str, which is then decoded: two passes and 5.3 MB written, cache-cold,
before the program even starts (0.7-1.5 ms of a request of some 7). :func:`lift` instead finds
each ``"b64": "<text>"`` with a long text in the body's bytes (its closing quote where the
tensor object's shape and datatype put it, else by a memchr), decodes the text right there
(strictly, from a memoryview of the body), and puts a short placeholder in its place; the
parser reads the few hundred bytes left, and
:meth:`Lifted.place` puts a :class:`~service.encoding.Base64Text` (the text's bytes, decoded
already) where each placeholder landed in the document.

This path only ever accepts, never refuses. Where a text does not decode, where what is left is
long, where a placeholder is not found exactly once as the value of a ``b64`` member, the body
goes the general way; so does any body whose lifted document is refused (the route's
``prepare``): every problem is the general path's, word for word and at its pointer.

Why the document is the one the parser would make of the whole body: a text that decodes holds
only base64's characters (no quote, backslash, control or non-ASCII character), so the string is
exactly its bytes, and its closing quote is the first quote after it. The placeholder has no such
character either and is never a bare JSON token (``#``), so swapping one for the other moves no
token: where the rest parses, the placeholder is that string's one occurrence (checked), and
the body is valid JSON with the text in its place, nested as deep.
"""

from __future__ import annotations

import binascii
import math
import re
from dataclasses import dataclass
from typing import Any

from service.encoding import DATATYPES, Base64Text, b64_length, b64decode

# Texts shorter than this stay with the parser: their copy costs it little.
LIFT_FROM = 1 << 16
# What is left for the parser may be at most this long (the document made of it is walked).
_MOST_LEFT = 1 << 16
# Where to stop looking (the texts found so far are lifted, the rest of the body is the
# parser's): after this many quotes (a long program, or data with "NaN" tokens, has too many
# strings to look through in Python), or where the next quote is further than this (a long list
# of numbers: a JSON tensor's megabytes are not scanned twice).
_MOST_QUOTES = 4096
_REACH = 1 << 16
_KEY = b'"b64"'
# A tensor object's shape and datatype, written in the bytes before its "b64" key
_HINT_REACH = 256
_SHAPE = re.compile(rb'"shape"[ \t\n\r]*:[ \t\n\r]*\[([0-9 \t\n\r,]*)\]')
_DATATYPE = re.compile(rb'"datatype"[ \t\n\r]*:[ \t\n\r]*"([A-Z0-9]+)"')
_ITEMSIZE = {wire.encode(): dtype.itemsize for wire, (_, dtype) in DATATYPES.items()}
_SPACE = frozenset(b" \t\n\r")
_COLON, _QUOTE = ord(":"), ord('"')


@dataclass(frozen=True, slots=True)
class Lifted:
    """A body with its long base64 texts taken out: ``body``, each text replaced by its
    placeholder (``texts``' keys)."""

    body: bytes
    texts: dict[str, Base64Text]

    def place(self, document: Any) -> Any:
        """``document`` (parsed from ``body``) with each placeholder replaced by the text it
        stands for; None unless each is there exactly once, as the value of a ``b64`` member."""
        left = dict(self.texts)
        stack = [document]
        while stack:
            node = stack.pop()
            items = node.items() if type(node) is dict else enumerate(node)
            for key, v in items:
                t = type(v)
                if t is dict or t is list:
                    stack.append(v)
                elif t is str and v in self.texts:
                    text = left.pop(v, None)
                    if text is None or key != "b64":
                        return None
                    node[key] = text  # (an existing key: the dict's size does not change)
        return None if left else document


def lift(body: bytes, shortest: int) -> Lifted | None:
    """``body`` with each ``"b64": "<text>"`` text of ``shortest`` or more characters taken out
    (and decoded), or None where there is none or one does not decode (see the module
    docstring)."""
    if len(body) < shortest:
        return None
    view = memoryview(body)
    pieces: list[bytes] = []
    texts: dict[str, Base64Text] = {}
    copied = 0  # body[:copied] is in pieces
    at = body.find(b'"', 0, _REACH)
    for _ in range(_MOST_QUOTES):
        if at == -1:
            break
        after = at + 1
        if body.startswith(_KEY, at):
            start = _string_after_colon(body, at + len(_KEY))
            if start != -1:
                end = _closing_quote(body, at, start)
                if end == -1:
                    return None  # (not JSON)
                if end - start >= shortest:
                    text = view[start:end]
                    try:
                        decoded = b64decode(text)
                    except binascii.Error:
                        return None
                    mark = b"#b64 %d#" % len(texts)
                    pieces += (body[copied:start], mark)
                    texts[mark.decode()] = Base64Text(text, decoded)
                    copied = end
                after = end + 1
        at = body.find(b'"', after, after + _REACH)
    if not texts:
        return None
    pieces.append(body[copied:])
    left = b"".join(pieces)
    return Lifted(left, texts) if len(left) <= _MOST_LEFT else None


def _closing_quote(body: bytes, at: int, start: int) -> int:
    """The first quote from ``start``, where the text of the ``b64`` key at ``at`` starts: where
    the shape and datatype written before the key say it is (as the tensor object's fields are
    documented, and usually sent), else searched for -- a pass over the text saved. (A wrong
    guess fails decoding, a text with no quote in it, or is not a quote: either way the guess
    is the first quote only where it is right.)"""
    window = body[max(0, at - _HINT_REACH):at]
    shapes, datatypes = _SHAPE.findall(window), _DATATYPE.findall(window)
    if shapes and datatypes and datatypes[-1] in _ITEMSIZE:
        try:
            numel = math.prod(int(n) for n in shapes[-1].split(b",") if n.strip())
        except ValueError:  # (not a list of integers)
            numel = -1
        end = start + b64_length(numel * _ITEMSIZE[datatypes[-1]])
        if numel >= 0 and body[end:end + 1] == b'"':
            return end
    return body.find(b'"', start)


def _string_after_colon(body: bytes, at: int) -> int:
    """Where the string after ``: "`` (from ``at``, blanks allowed around the colon) starts, or
    -1 where something else follows."""
    n = len(body)
    while at < n and body[at] in _SPACE:
        at += 1
    if at == n or body[at] != _COLON:
        return -1
    at += 1
    while at < n and body[at] in _SPACE:
        at += 1
    return at + 1 if at < n and body[at] == _QUOTE else -1
