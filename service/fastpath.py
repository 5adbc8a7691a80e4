"""``POST /v1/run`` straight to its route, in front of FastAPI's router.

A one-statement program takes some 40 us to run; around it, FastAPI and Starlette spent more than
that on their own layers: telemetry checks, the body-limit and exit-stack middleware, the
exception middleware, and matching the path against every route. :class:`App` (the FastAPI app
that service/app.py makes) answers a ``POST /v1/run`` whose body is declared (a positive
``Content-Length``) and sent as JSON through a stack of its own instead:

    Starlette's ServerErrorMiddleware (the app's 500 handler, as FastAPI installs it)
    > every middleware the app was given, in the same order and with the same arguments
      (request id, access log and metrics; CORS; API keys; the body limits: service/app.py)
    > :class:`RunEndpoint`: reads the body, calls the route's ``respond`` (service/jsonbody.py)
      and renders any exception with the app's own handlers, as ExceptionMiddleware does.

So every header, metric, log line, limit, 401, 413, 503 and problem is made by the same code as on
FastAPI's path; only FastAPI's routing and its per-request bookkeeping are skipped. The route is
still declared on FastAPI's router (service/routers/run.py), which documents it: the OpenAPI
document does not change. Any other request to /v1/run (no or an empty body, a chunked body, not
JSON, a ``root_path``) takes FastAPI's path, which answers as it always has.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from service.deps import Shared
from service.jsonbody import ProgramRoute
from service.problems import is_json

PATH = "/v1/run"


class RunEndpoint:
    """The innermost layer of the direct stack: the route's answer, or the app's handler's for
    the exception it raised (ExceptionMiddleware's lookup: the nearest class in the exception's
    MRO)."""

    def __init__(self, app: FastAPI, route: ProgramRoute) -> None:
        self.app = app
        self.route = route
        # (500 and Exception belong to ServerErrorMiddleware, as in Starlette's own stack)
        self.handlers = {k: v for k, v in app.exception_handlers.items()
                         if isinstance(k, type) and k is not Exception}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # what FastAPI's routing adds to the scope of a matched request
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            body = await _read_body(receive)
            request._body = body  # (Request.body() returns it; Starlette keeps it there too)
            response = await self.route.respond(request, body)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
            exc.__traceback__ = None  # (as Starlette does: an exception may be reused)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Any:
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler
        return None


async def _read_body(receive: Receive) -> bytes:
    """The whole body, as Request.body() reads it, but without copying a body that came in one
    message (Starlette joins it with an empty last chunk: a copy of megabytes of base64)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _direct(scope: Scope) -> bool:
    """Whether the request takes the direct stack: a POST to /v1/run, with no root path, whose
    body is declared non-empty and is sent as JSON."""
    if scope["path"] != PATH or scope["method"] != "POST" or scope.get("root_path"):
        return False
    length: bool | None = None
    json: bool | None = None
    for key, value in scope["headers"]:
        if key == b"content-length":
            if length is not None:
                return False  # (two lengths: FastAPI's path says what it says)
            length = value.isdigit() and int(value) > 0
        elif key == b"content-type":
            if json is None:  # the first, as Request.headers.get reads it on FastAPI's path
                json = is_json(value.decode("latin-1"))
        elif key == b"transfer-encoding":
            return False
    return bool(length and json)


class App(FastAPI):
    """FastAPI, with ``POST /v1/run`` answered through the direct stack (module docstring), and
    the parts its routes read on every request as a plain attribute (``shared``: service/deps.py,
    set by service/app.py)."""

    shared: Shared
    _direct_stack: ASGIApp | None = None
    _direct_checked = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _direct(scope) and not self.root_path:
            stack = self._direct_stack
            if stack is None and not self._direct_checked:
                stack = self._direct_stack = self._build_direct_stack()
                self._direct_checked = True
            if stack is not None:
                scope["app"] = self
                await stack(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _build_direct_stack(self) -> ASGIApp | None:
        """Built at the first request, as Starlette builds its own (middleware is added after
        the app is made); None if the app has no such route (then FastAPI answers)."""
        route = _find_route(self.router.routes)
        if route is None:
            return None
        stack: ASGIApp = RunEndpoint(self, route)
        for cls, args, kwargs in reversed(self.user_middleware):
            stack = cls(stack, *args, **kwargs)
        error_handler = self.exception_handlers.get(500) or \
            self.exception_handlers.get(Exception)
        return ServerErrorMiddleware(stack, handler=error_handler, debug=self.debug)


def _find_route(routes: list[Any]) -> ProgramRoute | None:
    """The ProgramRoute of ``POST /v1/run`` among the app's routes, looking into the routers
    included without a prefix (FastAPI keeps the included router, not copies of its routes)."""
    for r in routes:
        if isinstance(r, ProgramRoute) and r.path == PATH and "POST" in (r.methods or ()):
            return r
        included = getattr(r, "original_router", None)
        context = getattr(r, "include_context", None)
        if included is not None and not getattr(context, "prefix", ""):
            found = _find_route(included.routes)
            if found is not None:
                return found
    return None
