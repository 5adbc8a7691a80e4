"""Headless Chromium for the playground's tests (and scripts/playground_render_times.py).

The browser is Debian's ``chromium`` package, driven by Playwright's Python client through
``executable_path`` (Playwright's own browser download is never used). Where /usr/bin/chromium is
missing, ``ensure_chromium`` installs the package with apt-get, as tests/deploy installs Docker; on
a machine where that is impossible the tests fail, they are never skipped."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.service.helpers import running_server

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a closed network: without the background-networking ones Chromium keeps trying to
# reach Google's hosts.
# Waiting for a page's own events; generous, as the tests share two cores with everything else.
TIMEOUT_MS = 120_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def ensure_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError("the browser tests need Debian's chromium package (/usr/bin/chromium): "
                           "run them as root on Debian, or install it with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                 "-o", "DPkg::Lock::Timeout=600", "chromium"]):
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}")
    return CHROMIUM


@contextmanager
def server(**env: str) -> Iterator[str]:
    """A real ``python -m service`` with the default settings but these GRADSERVE_* variables."""
    with running_server({"GRADSERVE_LOG_LEVEL": "warning", "GRADSERVE_ACCESS_LOG": "false",
                         **env}) as url:
        yield url


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=str(ensure_chromium()), args=CHROMIUM_ARGS)


def share_fragment(request_text: str, fmt: str = "json", run: bool = True) -> str:
    """The fragment of a share link (web/src/share.js): base64url of the UTF-8 text, no padding."""
    b64 = base64.urlsafe_b64encode(request_text.encode()).decode().rstrip("=")
    return f"#{fmt}={b64}{'&run' if run else ''}"


def chain_program(nodes: int) -> dict[str, Any]:
    """A program whose returned tensor's graph is a chain of ``nodes`` grad_fn nodes: nodes - 1
    MulBackward0 and the leaf's AccumulateGrad."""
    return {"program": [
        {"name": "x", "op": "ones", "attrs": {"size": [3], "requires_grad": True}},
        {"name": "y", "op": "mul", "args": ["x", 1.0]},
        {"name": "i", "op": "tensor", "args": [1]},
        {"while": {"op": "lt", "args": ["i", nodes - 1]},
         "do": [{"name": "y", "op": "mul", "args": ["y", 1.0001]},
                {"name": "i", "op": "add", "args": ["i", 1]}]},
    ], "outputs": ["y"]}


def layered_program(nodes: int) -> dict[str, Any]:
    """A graph of about ``nodes`` nodes that is not one repeated op: y = tanh(y * w + b) repeated,
    with the leaves w and b shared by every step (3 nodes a step)."""
    steps = max(1, (nodes - 3) // 3)
    return {"program": [
        {"name": "w", "op": "full", "attrs": {"size": [3], "fill_value": 0.5, "requires_grad": True}},
        {"name": "b", "op": "full", "attrs": {"size": [3], "fill_value": 0.1, "requires_grad": True}},
        {"name": "y", "op": "ones", "attrs": {"size": [3], "requires_grad": True}},
        {"name": "i", "op": "tensor", "args": [0]},
        {"while": {"op": "lt", "args": ["i", steps]},
         "do": [{"name": "y", "op": "tanh", "args": [{"op": "add", "args": [
             {"op": "mul", "args": ["y", "w"]}, "b"]}]},
                {"name": "i", "op": "add", "args": ["i", 1]}]},
    ], "outputs": ["y"]}


def graph_texts(page: Any) -> list[str]:
    """The text lines of each drawn graph node (its <text> elements), one string per node."""
    return page.eval_on_selector_all(
        "#graph g.node", "nodes => nodes.map(n => [...n.querySelectorAll('text')]"
        ".map(t => t.textContent).join('\\n'))")


def wait_graph(page: Any, timeout_ms: float = 240_000) -> str:
    """Wait until the graph is drawn (or failed to be); its state."""
    page.wait_for_selector("#graph[data-state=rendered], #graph[data-state=error], "
                           "#graph[data-state=empty]", timeout=timeout_ms)
    return str(page.get_attribute("#graph", "data-state"))


def open_playground(page: Any, url: str, fragment: str = "") -> None:
    page.goto(f"{url}/playground{fragment}")
    page.wait_for_selector("body[data-ready=true]")
