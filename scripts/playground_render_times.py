"""How long the playground takes to draw large graphs, in Debian's headless chromium (the numbers
in the issue 16 note). Not a test: timings depend on the machine and are only printed.

    .venv/bin/python scripts/playground_render_times.py [--repeat 3]

For each program (a chain of N nodes: N - 1 MulBackward0 and an AccumulateGrad; a layered graph of
about N nodes: y = tanh(y * w + b) repeated, w and b shared) it opens the playground, clicks Run
and measures, as the median of the repeats: the whole time from the click to the picture being in
the page (server run, transfer, DOT, Graphviz layout in the worker, SVG into the page), and the
layout alone (what the page reports in #graph data-ms). "collapsed" is the page's default (long
runs drawn as one box); "expanded" turns collapsing off, so every node is laid out."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.playground.browser import (  # noqa: E402
    chain_program,
    launch,
    layered_program,
    open_playground,
    server,
    share_fragment,
    wait_graph,
)

CASES = [("chain", 5000), ("chain", 10000), ("layered", 5000), ("layered", 10000)]
PROGRAMS = {"chain": chain_program, "layered": layered_program}


def measure(page: Any, url: str, kind: str, nodes: int, collapse: bool) -> tuple[float, float, str]:
    page.goto("about:blank")  # a fresh page each time (a fragment change alone keeps its state)
    open_playground(page, url, share_fragment(json.dumps(PROGRAMS[kind](nodes)), run=False))
    if not collapse:
        page.uncheck("#collapse")
    started = time.monotonic()
    page.click("#run")
    state = wait_graph(page, timeout_ms=600_000)
    total = time.monotonic() - started
    layout_ms = float(page.get_attribute("#graph", "data-ms") or "nan") if state == "rendered" \
        else float("nan")
    insert = page.get_attribute("#graph", "data-insert-ms")
    return total, layout_ms / 1000, (page.inner_text("#graph-info") + f"; SVG into the page {insert} ms") \
        if state == "rendered" else page.inner_text("#graph")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="only the 10,000-node chain")
    args = parser.parse_args()
    with server() as url, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(600_000)
        for kind, nodes in [("chain", 10000)] if args.quick else CASES:
            for collapse in (True, False):
                runs = [measure(page, url, kind, nodes, collapse) for _ in range(args.repeat)]
                total = statistics.median(r[0] for r in runs)
                layout = statistics.median(r[1] for r in runs)
                mode = "collapsed" if collapse else "expanded"
                print(f"{kind:8} {nodes:6} {mode:9}  click to picture {total:6.2f} s  "
                      f"layout {layout:6.2f} s  ({runs[-1][2]})", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
