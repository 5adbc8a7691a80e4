"""The request body limit, as pure ASGI middleware.

A declared ``Content-Length`` over the limit is answered with 413 before a byte of the body is
read; otherwise the bytes are counted as they arrive and reading stops with 413 as soon as the
count passes the limit (chunked uploads have no Content-Length to trust). Memory held for a body
therefore never exceeds ``max_body_bytes`` plus one chunk.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import BodyTooLarge
from service.problems import body_too_large


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await body_too_large(BodyTooLarge(declared, self.max_bytes), scope["path"])(
                scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app's body read; problems.py renders it as a 413.
                    raise BodyTooLarge(received, self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
