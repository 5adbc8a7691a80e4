"""The request body limits, as pure ASGI middleware.

One body: a declared ``Content-Length`` over ``max_body_bytes`` is answered with 413 before a byte
of the body is read; otherwise the bytes are counted as they arrive and reading stops with 413 as
soon as the count passes the limit (chunked uploads have no Content-Length to trust). Memory held
for a body therefore never exceeds ``max_body_bytes`` plus one chunk.

All bodies of the process together: a :class:`BodyBudget` of ``max_buffered_body_bytes``. A
request reserves its declared length before its body is read, or its bytes as they arrive when it
declares none, and gives them back when its answer is done (the body stays in memory until then).
A request that would pass the budget is answered 503 with ``Retry-After`` at once: two hundred
clients each stalled one byte short of the body limit cannot make the worker buffer gigabytes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import BodyBufferFull, BodyTooLarge, Overloaded
from service.problems import body_too_large, overloaded


class BodyBudget:
    """Bytes of request bodies held by one process. Only touched on the event loop thread."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.held = 0

    def take(self, n: int) -> bool:
        if self.held + n > self.maximum:
            return False
        self.held += n
        return True

    def give(self, n: int) -> None:
        self.held -= n


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, budget: BodyBudget) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.budget = budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await body_too_large(BodyTooLarge(declared, self.max_bytes), scope["path"])(
                scope, receive, send)
            return
        reserved = max(declared or 0, 0)
        if not self.budget.take(reserved):
            await overloaded(Overloaded(str(BodyBufferFull(self.budget.maximum).detail)),
                             scope["path"])(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received, reserved
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app's body read; problems.py renders it as a 413.
                    raise BodyTooLarge(received, self.max_bytes)
                if received > reserved:  # more than declared (or nothing declared)
                    if not self.budget.take(received - reserved):
                        raise BodyBufferFull(self.budget.maximum)
                    reserved = received
            return message

        try:
            await self.app(scope, counting_receive, send)
        finally:
            self.budget.give(reserved)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
