"""The playground page: GET / (a short index linking to it), GET /playground (the page),
GET /playground/assets/<file> (its scripts and styles, built by scripts/build_web.sh into
service/static/playground) and GET /playground/examples (the example programs).

Every answer here carries a strict Content-Security-Policy: scripts, styles and requests only from
this server, no inline script (WebAssembly is allowed: the graph layout is Graphviz compiled to
it). The page and its assets hold no data, so they are public like /health (service.auth); the
page's own API calls carry the key it asks for."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import Response

from service.examples import load_examples
from service.responses import JSONResponse, dumps

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parents[1] / "static"
ASSETS = STATIC / "playground"

CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def _read_assets() -> dict[str, tuple[bytes, str]]:
    # The file list is fixed when the server starts; a request only looks a name up in it.
    if not ASSETS.is_dir():
        return {}
    return {p.name: (p.read_bytes(), TYPES[p.suffix]) for p in ASSETS.iterdir()
            if p.is_file() and p.suffix in TYPES}


_ASSETS = _read_assets()
_INDEX = (STATIC / "index.html").read_bytes()
_EXAMPLES = dumps(load_examples())


def _asset(name: str) -> Response:
    found = _ASSETS.get(name)
    if found is None:
        return Response(b"not found", 404, headers=HEADERS, media_type="text/plain")
    body, media_type = found
    return Response(body, headers=HEADERS, media_type=media_type)


@router.get("/")
async def index() -> Response:
    return Response(_INDEX, headers=HEADERS, media_type=TYPES[".html"])


@router.get("/playground")
async def page() -> Response:
    return _asset("index.html")


@router.get("/playground/assets/{name}")
async def asset(name: str) -> Response:
    return _asset(name)


@router.get("/playground/examples")
async def examples() -> Response:
    return JSONResponse(_EXAMPLES, headers=HEADERS)
