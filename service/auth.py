"""Optional API keys and CORS; both are off unless their setting is given.

API keys (``GRADSERVE_API_KEYS``, comma-separated): every request except ``/health/*``, the
playground's page (``/``, ``/playground``, ``/playground/*``) and ``/metrics`` (unless
``GRADSERVE_METRICS_NEED_API_KEY``) must carry ``Authorization: Bearer <key>`` with one of the
keys, or it is answered 401 (problem+json, ``WWW-Authenticate: Bearer``) before anything else
runs. Keys are compared as
SHA-256 digests with ``hmac.compare_digest`` against every configured key, so the time taken says
nothing about how much of a key was right, nor which key matched.

CORS (``GRADSERVE_CORS_ORIGINS``): Starlette's CORSMiddleware with that allowlist, outside the key
check so that browsers' preflight requests (which carry no credentials) are answered.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from service import problems

# The playground's page, assets and examples hold no data (the page asks for the key for its calls).
PUBLIC_PREFIXES = ("/health/", "/playground/")
PUBLIC_PATHS = frozenset({"/", "/playground"})
METRICS = "/metrics"  # public unless the operator sets metrics_need_api_key


def _digest(key: str | bytes) -> bytes:
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).digest()


def is_public(path: str, metrics_public: bool = True) -> bool:
    return ((metrics_public and path == METRICS) or path in PUBLIC_PATHS
            or path.startswith(PUBLIC_PREFIXES))


class APIKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: list[str], metrics_public: bool = True) -> None:
        self.app = app
        self._digests = [_digest(k) for k in keys]
        self.metrics_public = metrics_public

    def authorized(self, scope: Scope) -> bool:
        given = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = token.strip()
                break
        if not given:
            return False
        digest = _digest(given)
        ok = False
        for expected in self._digests:  # no early exit: every key is compared
            ok |= hmac.compare_digest(digest, expected)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"], self.metrics_public) or \
                self.authorized(scope):
            await self.app(scope, receive, send)
            return
        response = problems.problem(
            scope["path"], "unauthorized", 401,
            "this server needs an API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": 'Bearer realm="gradserve"'})
        await response(scope, receive, send)


def install(app: FastAPI, api_keys: list[str], cors_origins: list[str],
            metrics_public: bool = True) -> None:
    """Add the key check (if there are keys) and then CORS (if there are origins) around the app
    as it is; call before the outermost middleware is added."""
    if api_keys:
        app.add_middleware(APIKeyMiddleware, keys=api_keys, metrics_public=metrics_public)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"], max_age=600)


_UNAUTHORIZED = {
    "description": "No valid API key (only when the server has GRADSERVE_API_KEYS).",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def document(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the optional bearer scheme and the 401 answer to the OpenAPI document (in place). The
    document never depends on settings: every non-public operation lists the scheme as optional
    (``{}`` or ``bearer``)."""
    components = doc.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer",
        "description": "An API key from GRADSERVE_API_KEYS; needed only when the server sets it."}
    for path, item in doc.get("paths", {}).items():
        if is_public(path, metrics_public=False):  # /metrics may need a key (a setting)
            continue
        for operation in item.values():
            operation["security"] = [{}, {"bearer": []}]
            operation.setdefault("responses", {})["401"] = _UNAUTHORIZED
    return doc
