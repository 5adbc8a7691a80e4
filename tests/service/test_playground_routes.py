"""The playground's routes over HTTP (the page itself is tested in a browser: tests/playground):
every answer carries the strict Content-Security-Policy, the page and its assets name no other
origin, the examples menu lists every program file of examples/, and the page is public while the
API it calls keeps its key."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from service.examples import FORMATS
from service.routers.playground import ASSETS
from tests.service.helpers import ROOT

pytestmark = pytest.mark.anyio

# the text of every asset the page loads; a page or asset this test does not know fails it
ASSET_NAMES = sorted(p.name for p in ASSETS.iterdir() if p.suffix in {".html", ".js", ".css"})
URL = re.compile(r"(?:https?|wss?|ftp)://[^\s\\\"'`)<>]+", re.I)
# in HTML and CSS a protocol-relative reference ("//host/...") is another origin too
RELATIVE = re.compile(r"""(?:src|href|action)\s*=\s*["']?//|url\(\s*["']?//|@import\s+["']//""", re.I)
# XML namespace names and the SVG DTD's identifier are written as URLs but never fetched
NAMESPACES = re.compile(r"^http://www\.w3\.org/(?:1999/xlink|2000/svg|2000/xmlns/|XML/1998/namespace"
                        r"|Graphics/SVG/1\.1/DTD/svg11\.dtd)$")


def csp_directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


async def test_pages_and_assets_carry_a_strict_csp(client: httpx.AsyncClient) -> None:
    paths = ["/", "/playground", "/playground/examples", "/playground/assets/nothing.js",
             *[f"/playground/assets/{name}" for name in ASSET_NAMES]]
    for path in paths:
        r = await client.get(path)
        assert r.status_code == (404 if "nothing" in path else 200), path
        csp = csp_directives(r)
        assert csp["default-src"] == ["'none'"]
        # scripts only from this server, never inline or eval'd (WebAssembly compiles: the layout)
        assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
        for directive in ("style-src", "connect-src", "img-src"):
            assert "'unsafe-inline'" not in csp[directive] and "*" not in csp[directive]
            assert all(s in ("'self'", "data:") for s in csp[directive]), (directive, csp)
        assert csp["frame-ancestors"] == ["'none'"]
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_page_and_assets_reference_no_other_origin(client: httpx.AsyncClient) -> None:
    assert {"index.html", "playground.js", "playground.css", "layout-worker.js"} <= set(ASSET_NAMES)
    for name in ["/", *[f"/playground/assets/{n}" for n in ASSET_NAMES]]:
        text = (await client.get(name)).text
        urls = [u for u in URL.findall(text) if not NAMESPACES.match(u)]
        assert urls == [], (name, urls[:5])
        if not name.endswith(".js"):
            assert not RELATIVE.search(text), name
    html = (await client.get("/playground")).text
    # no inline script: every script element has a src on this server
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/playground/assets/' in attrs and not body.strip()
                           for attrs, body in scripts)
    assert " on" not in re.sub(r"<(?!\w+\s[^>]*\son\w+=)[^>]*>", "", html)  # no on* handlers
    assert re.findall(r'(?:src|href)="([^"]+)"', html) == [
        "data:,", "/playground/assets/playground.css", "/playground/assets/playground.js", "/"]


async def test_root_links_to_the_playground(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.headers["content-type"].startswith("text/html")
    assert 'href="/playground"' in r.text


async def test_examples_lists_every_program_file_of_examples(client: httpx.AsyncClient) -> None:
    r = await client.get("/playground/examples")
    assert r.status_code == 200
    listed = {e["name"]: e for e in r.json()}
    files = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in FORMATS)
    assert sorted(listed) == [p.name for p in files]
    for p in files:
        assert listed[p.name]["text"] == p.read_text()
        assert listed[p.name]["format"] == FORMATS[p.suffix]


async def test_asset_names_are_looked_up_never_opened(client: httpx.AsyncClient) -> None:
    for path in ("/playground/assets/..%2f..%2fapp.py", "/playground/assets/%2e%2e",
                 "/playground/assets/layout-worker.js.LEGAL.txt"):
        assert (await client.get(path)).status_code == 404, path


async def test_the_page_is_public_and_the_api_keeps_its_key(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(api_keys=SecretStr("k1")) as c:
        for path in ("/", "/playground", "/playground/assets/playground.js", "/playground/examples"):
            assert (await c.get(path)).status_code == 200, path
        assert (await c.post("/v1/run", json={"program": []})).status_code == 401
        assert (await c.get("/v1/info")).status_code == 401
