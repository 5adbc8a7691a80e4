"""Fixtures of the browser tests: one gradserve server and one headless Chromium for the module,
and a fresh page (its own context: storage, key) per test that records Content-Security-Policy
violations and script errors, which fail the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from tests.playground.browser import TIMEOUT_MS, launch, server


# Module scope, not session: while Playwright's sync API is open it holds an asyncio loop running
# in this thread, and the anyio tests that come later in the suite need to start their own.
@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    with server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));")
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    try:
        yield page
        # a problem the page answered (4xx) is logged by the browser as a failed resource load
        unexpected = [p for p in problems if "status of 4" not in p]
        assert not unexpected, unexpected
    finally:
        context.close()
