"""/docs (Swagger UI) and /redoc (ReDoc), served with no network: their scripts and styles come
from the fastapi-offline package (it bundles swagger-ui-dist and redoc's standalone build) and are
served under /docs/assets, and nothing on either page points at another host (no CDN, no Google
fonts, no favicon from fastapi's site, Swagger UI's online validator off)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS_URL = "/docs/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)


def _assets(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{ASSETS_URL}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    assets = _assets(request)
    return get_swagger_ui_html(
        openapi_url=f"{request.scope.get('root_path', '')}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI", swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css", swagger_favicon_url=f"{assets}/favicon.png",
        oauth2_redirect_url=None, swagger_ui_parameters={"validatorUrl": None})


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    assets = _assets(request)
    return get_redoc_html(
        openapi_url=f"{request.scope.get('root_path', '')}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc", redoc_js_url=f"{assets}/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/favicon.png", with_google_fonts=False)


def install(app: FastAPI) -> None:
    """The two pages and their assets (the app is made with docs_url=None, redoc_url=None)."""
    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
