"""Request ids, the JSON access log and the HTTP metrics, as one pure ASGI middleware.

It is the outermost layer of the app (service/app.py), so it sees every answer, the 401s of
service/auth.py and the 413s of the body limit included:

- ``X-Request-ID``: taken from the request when it is a short token of letters, digits and
  ``._:-`` (anything else is replaced), generated (32 hex digits) when absent, and echoed on the
  answer. Handlers find it in ``request.state.request_id``.
- metrics (service/metrics.py): requests by route template, method and status, their duration,
  requests in flight, and limit rejections, read from the ``limit`` member of limit-exceeded
  problems, whichever layer raised them.
- one JSON line per request on the ``gradserve.access`` logger (stdout): time, request id, method,
  route, path, status, duration, program steps and backend, the problem type for errors. Bodies
  are never logged, so no tensor data reaches the log.

``POST /v1/run`` reports its program's steps, ops and allocations through :func:`program_finished`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import backend
from service import metrics
from service.interpreter import RunReport

_VALID_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
_PROBLEM_TYPE = re.compile(rb'"type":"https://gradserve\.dev/problems/([a-z0-9\-]{1,64})"')

access_log = logging.getLogger("gradserve.access")


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a record comes (test runners swap it)."""

    _gradserve = True

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_access_log() -> None:
    """Send ``gradserve.access`` records, already JSON, to stdout one per line (idempotent)."""
    if not any(isinstance(h, _StdoutHandler) for h in access_log.handlers):
        handler = _StdoutHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False


def request_id(scope: Scope) -> str:
    """The request's id: the client's X-Request-ID when it is a valid token, else a new one."""
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            if _VALID_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()  # (as random as uuid4's hex, at a fifth of its cost)


def program_finished(state: Any, report: RunReport) -> None:
    """Count a finished program (service/routers/run.py calls it, ok or not) and note its steps
    for the access log. ``state`` is the request's ``request.state``."""
    metrics.record_program(report.steps, report.op_counts, report.allocated_elements,
                           report.outcome)
    state.steps = report.steps


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests
        self.pid = os.getpid()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500
        problem_kind: str | None = None
        inspect_body = False
        header = (b"x-request-id", rid.encode("ascii"))

        async def send_wrapper(message: Message) -> None:
            nonlocal status, problem_kind, inspect_body
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"x-request-id"]
                headers.append(header)
                message = {**message, "headers": headers}
                inspect_body = status >= 400 and any(
                    k.lower() == b"content-type" and v.startswith(b"application/problem+json")
                    for k, v in headers)
            elif message["type"] == "http.response.body" and inspect_body:
                inspect_body = False  # problems are sent in one piece; look at the first only
                problem_kind = _problem(message.get("body", b""))
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            metrics.IN_FLIGHT.dec()
            duration = time.perf_counter() - started
            route = _route(scope)
            method = scope.get("method", "")
            metrics.counter_value(metrics.REQUESTS, route, method, str(status)).inc(1)
            metrics.child(metrics.DURATION, route, method).observe(duration)
            if self.log_requests:
                self._log(scope, rid, route, status, duration, problem_kind, state)

    def _log(self, scope: Scope, rid: str, route: str, status: int, duration: float,
             problem_kind: str | None, state: Mapping[str, Any]) -> None:
        client = scope.get("client")
        line: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "info" if status < 500 else "error",
            "event": "request",
            "request_id": rid,
            "method": scope.get("method"),
            "route": route,
            "path": scope.get("path"),
            "status": status,
            "duration_s": round(duration, 6),
            "steps": state.get("steps"),
            "backend": backend.NAME,
            "problem": problem_kind,
            "client": client[0] if client else None,
            "pid": self.pid,
        }
        access_log.info(orjson.dumps(line).decode())


def _route(scope: Scope) -> str:
    """The path template of the route that served the request; for an answer given before
    routing (a 413, a 401), the path itself if the app serves it; ``unmatched`` otherwise."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    return scope["path"] if scope["path"] in _known_paths(scope.get("app")) else "unmatched"


def _known_paths(app: Any) -> frozenset[str]:
    """The paths of the app's routes (from its OpenAPI document, plus the docs' own), noted on
    the app the first time they are needed."""
    state = getattr(app, "state", None)
    known: frozenset[str] | None = getattr(state, "known_paths", None)
    if known is None:
        try:
            paths = set(app.openapi()["paths"])
            paths.update(u for u in (app.openapi_url, app.docs_url, app.redoc_url) if u)
        except Exception:  # not a FastAPI app: nothing is known
            paths = set()
        known = frozenset(paths)
        if state is not None:
            state.known_paths = known
    return known


def _problem(body: bytes) -> str | None:
    """The problem kind of a problem+json body; counts a limit rejection on the way."""
    m = _PROBLEM_TYPE.search(body, 0, 256)
    if m is None:
        return None
    kind = m.group(1).decode()
    if kind == "limit-exceeded":
        try:
            limit = orjson.loads(body).get("limit")
        except (orjson.JSONDecodeError, AttributeError):
            limit = None
        metrics.record_limit(limit)
    return kind
