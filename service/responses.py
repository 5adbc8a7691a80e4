"""Response classes that serialise with orjson.

orjson is fast and writes the pre-encoded tensor values (service/encoding.py: orjson fragments,
and ``Encoded`` for long ones) as they are. It writes NaN and infinities as ``null`` instead of
failing, so nothing here can turn into a 500; the answers encode non-finite numbers as strings
before they get here.

An answer with large tensors is sent in pieces (:func:`dumps_pieces`, :class:`PiecesResponse`):
the JSON around the values, then each large value's text as it was encoded, so megabytes of
values go to the socket without being copied into one buffer first.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette import responses
from starlette.types import Receive, Scope, Send

from service.encoding import PIECE_BYTES, Encoded

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
# A NUL byte never appears in orjson's output (strings escape it), so it can mark where a piece goes.
_MARK = re.compile(rb"\x00(\d+)\x00")


def _default(obj: Any) -> Any:
    if isinstance(obj, Encoded):
        return obj.fragment()
    # an unexpected type in a problem's extra members degrades to text, never a 500
    return str(obj)


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=_OPTIONS, default=_default)


def dumps_pieces(content: Any) -> list[bytes]:
    """``dumps(content)`` in pieces that join to it: each Encoded value over PIECE_BYTES is a
    piece of its own, taken as it is."""
    large: list[Encoded] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, Encoded) and len(obj.text) > PIECE_BYTES:
            large.append(obj)
            mark = b"\x00%d\x00" % (len(large) - 1)
            return orjson.Fragment(b'"' + mark + b'"' if obj.quoted else mark)
        return _default(obj)

    text = orjson.dumps(content, option=_OPTIONS, default=default)
    if not large:
        return [text]
    parts = _MARK.split(text)  # [json, index, json, index, ..., json]
    pieces = [parts[0]]
    for i in range(1, len(parts), 2):
        pieces += (large[int(parts[i])].text, parts[i + 1])
    return pieces


class JSONResponse(responses.JSONResponse):
    # A starlette JSONResponse (not a bare Response) so that FastAPI documents each route's
    # response_model in the OpenAPI document instead of {"type": "string"}.
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


class PiecesResponse(JSONResponse):
    """A JSON answer given as pieces (dumps_pieces), each sent as one body message."""

    def __init__(self, pieces: list[bytes], status_code: int = 200) -> None:
        # The headers JSONResponse.__init__ would make (its rendering of b"" and header
        # bookkeeping cost more than a small program's answer): length, then type.
        self.pieces = pieces
        self.status_code = status_code
        self.background = None
        self.body = b""
        self.raw_headers = [(b"content-length", b"%d" % sum(map(len, pieces))),
                            (b"content-type", self.media_type.encode("latin-1"))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        last = len(self.pieces) - 1
        for i, piece in enumerate(self.pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": i < last})
