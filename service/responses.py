"""Response classes that serialise with orjson.

orjson is fast and writes the Fragments that carry pre-encoded tensor data. It writes NaN and
infinities as ``null`` instead of failing, so nothing here can turn into a 500; the answers encode
non-finite numbers as strings before they get here (service/encoding.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette import responses

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(content: Any) -> bytes:
    # default=str: an unexpected type in a problem's extra members degrades to text, never a 500
    return orjson.dumps(content, option=_OPTIONS, default=str)


class JSONResponse(responses.JSONResponse):
    # A starlette JSONResponse (not a bare Response) so that FastAPI documents each route's
    # response_model in the OpenAPI document instead of {"type": "string"}.
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"
