"""Connection limits a reverse proxy would otherwise give: uvicorn's httptools protocol with bounds.

uvicorn (httptools) buffers a request's line and headers for as long and as large as the client
sends them, keeps a connection that never sends a request open forever, and gives a request no
time limit for its headers or its body. :class:`GuardedProtocol` adds, per connection:

* the bytes of the request line and headers (``max_header_bytes``: 431), the count of header
  fields (``max_headers``: 431) and the bytes of the target (``max_url_bytes``: 414), each checked
  as the bytes arrive, so the parser never holds much more than the limit plus one read;
* three clocks, one at a time: ``idle_timeout`` while no request is under way (a new connection,
  or one kept alive between requests), ``header_timeout`` from a request's first byte to the end
  of its headers (408), ``body_timeout`` from there to the end of its body (slow or endless
  uploads: the connection is closed);
* ``max_connections`` open connections per process (at most the open-file limit less a reserve):
  one beyond it is answered 503 and closed as soon as it is accepted, before it holds a buffer.

A refusal is a short plain-text answer with ``Connection: close``: the request never reached the
app, so it has no problem document, and nothing read after a bad head can be trusted.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from service.settings import Settings


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    max_header_bytes: int
    max_headers: int
    max_url_bytes: int
    idle_timeout: float
    header_timeout: float
    body_timeout: float

    @classmethod
    def of(cls, s: Settings) -> ConnectionLimits:
        return cls(_within_descriptors(s.max_connections), s.max_header_bytes, s.max_headers,
                   s.max_url_bytes, s.idle_timeout, s.header_timeout, s.body_timeout)


# File descriptors a process keeps for itself beside its connections (listening socket, logs,
# metrics files, the allocator's and numpy's own, pipes to the supervisor).
_RESERVED_DESCRIPTORS = 128


def _within_descriptors(max_connections: int) -> int:
    """``max_connections``, lowered to what the process's open-file limit leaves room for: a cap
    above it would let connections use up the descriptors it is meant to protect."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - _RESERVED_DESCRIPTORS))


class _Refused(Exception):
    """Raised in a parser callback: answer ``status`` and close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's HttpToolsProtocol with the limits of the module docstring. uvicorn builds one per
    connection from a ``functools.partial`` that binds ``limits`` (service/__main__.py)."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._in_head = False  # between a request's first byte and the end of its headers
        self._head_bytes = 0
        self._header_count = 0
        self._clock: asyncio.TimerHandle | None = None

    # ----- the clocks ---------------------------------------------------------------------------
    def _arm(self, seconds: float, on_expiry: Any) -> None:
        self._disarm()
        self._clock = self.loop.call_later(seconds, on_expiry)

    def _disarm(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _head_too_slow(self) -> None:
        self._refuse(408, "the request's headers took too long")

    # ----- uvicorn's protocol, with the checks ---------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, "too many open connections")
            return
        self._arm(self.limits.idle_timeout, self._close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self.transport.is_closing():
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._refuse(refused.status, refused.reason)
            else:
                self._refuse(400, "invalid HTTP request")
            return
        except httptools.HttpParserError:
            self._refuse(400, "invalid HTTP request")
            return
        except httptools.HttpParserUpgrade:
            self._refuse(400, "upgrades are not supported")
            return
        if self._in_head:
            # counted after the parser has seen the bytes: a read that ends the head and carries
            # a body after it is not a long head. The parser holds at most the limit plus one read.
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, "the request line and headers are too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._header_count = 0
        self._arm(self.limits.header_timeout, self._head_too_slow)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            raise _Refused(414, "the request target is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise _Refused(431, "too many header fields")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.limits.body_timeout, self._close)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms its keep-alive clock (idle_timeout: service/__main__.py) when no pipelined
        # request follows; a body still arriving after an early answer keeps the body clock.

    def _refuse(self, status: int, reason: str) -> None:
        """Answer ``status`` in plain text and close, unless the app has begun its answer."""
        self._disarm()
        if self.cycle is not None and self.cycle.response_started and \
                not self.cycle.response_complete:
            self._close()  # the app is answering: a second status line would corrupt it
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app, if running, sends nothing more
            self.cycle.message_event.set()
        text = reason.encode()
        self.transport.write(b"".join([
            STATUS_LINE[status], b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(text), b"connection: close\r\n\r\n", text]))
        self._close()
