"""/docs and /redoc work with no network: the pages load their scripts and styles from this
server (service/routers/docs.py, files from the fastapi-offline package), and neither the pages
nor those files point a browser at another host."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.anyio

# what a page or asset would load from elsewhere: a src/href, a CSS url(), an @import
_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")
# hosts the bundles could load from at run time (CDNs, web fonts, Swagger's online validator)
_LOADERS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.", "fonts.googleapis.com",
            "fonts.gstatic.com", "fastapi.tiangolo.com")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gradserve") as c:
        yield c


def _local(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//") or url.startswith(("data:", "#"))


@pytest.mark.parametrize(("page", "assets"), [
    ("/docs", {"/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js",
               "/docs/assets/favicon.png"}),
    ("/redoc", {"/docs/assets/redoc.standalone.js", "/docs/assets/favicon.png"}),
])
async def test_docs_pages_load_only_from_this_server(client: httpx.AsyncClient, page: str,
                                                     assets: set[str]) -> None:
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    referenced = {a or b for a, b in _REFERENCES.findall(html)}
    assert referenced == assets, referenced
    assert "/openapi.json" in html
    assert "http://" not in html and "https://" not in html
    if page == "/docs":
        assert '"validatorUrl": null' in html  # Swagger UI's badge would call validator.swagger.io
    for asset in sorted(assets):
        got = await client.get(asset)
        assert got.status_code == 200, asset
        assert len(got.content) > 1000, asset
        if asset.endswith((".css", ".js")):
            text = got.text
            assert not [h for h in _LOADERS if h in text], asset
        if asset.endswith(".css"):
            urls = [a or b for a, b in _REFERENCES.findall(got.text)]
            assert all(_local(u) for u in urls), [u for u in urls if not _local(u)]


async def test_openapi_json_is_served(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200 and r.json()["servers"][0]["url"] == "http://127.0.0.1:8000"
