"""The playground in a real headless Chromium (Debian's package, driven by Playwright): the seed
tutorial from the examples menu, problems at their statement, share links, a 5,000-node graph,
markup in values shown as text, the API key prompt and the source toggle. Every test also fails on
a Content-Security-Policy violation or a script error (conftest.page)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.playground.browser import (
    chain_program,
    graph_texts,
    open_playground,
    server,
    share_fragment,
    wait_graph,
)
from tests.service.helpers import ROOT

pytestmark = pytest.mark.timeout(900)  # the first test may install chromium with apt-get

SEED = ROOT / "examples" / "seed_tutorial.json"
SCREENSHOT = ROOT / "docs" / "playground.png"


def answer_of(url: str, request_text: str) -> dict[str, Any]:
    r = httpx.post(f"{url}/v1/run", content=request_text, timeout=120,
                   headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_seed_tutorial_runs_and_draws_its_graph(page: Any, live: str) -> None:
    expected = answer_of(live, SEED.read_text())
    open_playground(page, live)
    page.select_option("#examples", "seed_tutorial.json")
    page.click("#run")
    assert wait_graph(page) == "rendered"
    printed = page.inner_text("#printed")
    assert printed == "\n".join(expected["printed"])
    assert printed.startswith("tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)")
    assert "tensor(27., grad_fn=<MeanBackward0>)" in printed
    nodes = graph_texts(page)
    first_lines = {n.split("\n")[0] for n in nodes}
    assert {"AddBackward0", "MulBackward0", "MeanBackward0", "AccumulateGrad"} <= first_lines
    assert any(n.startswith("AccumulateGrad\nx ") for n in nodes), nodes
    assert "MeanBackward0\nout" in nodes  # the node that produced the returned `out`
    rows = page.eval_on_selector_all("#tensors tbody tr", "rs => rs.map(r => r.dataset.name)")
    assert rows == list(expected["tensors"]) + list(expected["values"])
    out_row = page.inner_text("#tensors tr[data-name=out]")
    assert "MeanBackward0" in out_row and "torch.float32" in out_row
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.screenshot(path=str(SCREENSHOT))
    # None entries: faint marks, which the toggle hides
    assert "None" in graph_texts(page)
    page.uncheck("#show-none")
    assert wait_graph(page) == "rendered"
    assert "None" not in graph_texts(page) and "MeanBackward0\nout" in graph_texts(page)


def test_problem_is_shown_at_its_statement(page: Any, live: str) -> None:
    request = {"program": [
        {"name": "a", "op": "ones", "attrs": {"size": [2]}},
        {"name": "b", "op": "add", "args": ["a", {"op": "ones", "attrs": {"size": [3]}}]},
    ]}
    text = json.dumps(request, indent=2)
    open_playground(page, live, share_fragment(text, run=False))
    page.click(".cm-content")
    page.keyboard.press("Control+Enter")  # the editor's Run shortcut
    page.wait_for_selector("#problems .problem")
    problem = page.inner_text("#problems")
    assert "The size of tensor a (2) must match the size of tensor b (3) at non-singleton " \
        "dimension 0" in problem
    assert "/program/1" in problem
    # the statement is underlined, and its first line marked
    marked = "\n".join(page.eval_on_selector_all(".cm-lintRange-error",
                                                   "els => els.map(e => e.textContent)"))
    assert marked.startswith("{") and '"op": "add"' in marked and '"name": "b"' in marked
    statement_line = text.splitlines()[text[:text.index('"name": "b"')].count("\n") - 1]
    assert page.inner_text(".cm-problem-line").strip() == statement_line.strip()
    assert page.get_attribute("#graph", "data-state") != "rendered"


def test_share_link_runs_on_load(page: Any, live: str) -> None:
    open_playground(page, live)
    page.select_option("#examples", "seed_tutorial.json")
    page.click("#share")
    link = page.input_value("#share-link")
    assert link.startswith(f"{live}/playground#json=") and link.endswith("&run")
    fresh = page.context.new_page()
    fresh.goto(link)
    assert wait_graph(fresh) == "rendered"
    expected = answer_of(live, SEED.read_text())
    assert fresh.inner_text("#printed") == "\n".join(expected["printed"])
    fresh.close()


def test_5000_node_chain_renders_collapsed_and_expanded(page: Any, live: str) -> None:
    open_playground(page, live, share_fragment(json.dumps(chain_program(5000))))
    assert wait_graph(page) == "rendered"
    info = page.inner_text("#graph-info")
    assert info.startswith("5000 nodes drawn as"), info
    nodes = graph_texts(page)
    run_box = [n for n in nodes if n.startswith("MulBackward0 \u00d7 ")]
    assert run_box == ["MulBackward0 \u00d7 4998\n(4998 nodes; click to expand)"], nodes
    page.click("#graph g.group")  # expand the run: all 5,000 nodes drawn
    assert wait_graph(page) == "rendered"
    assert page.inner_text("#graph-info").startswith("5000 nodes drawn as 5000 boxes")
    names = page.eval_on_selector_all("#graph g.node:not(.none)", "ns => ns.length")
    assert names == 5000


MARKUP = "<script>window.__xss = 1</script>"
IMG = "<img src=x onerror=\"window.__xss = 2\">"


def test_markup_in_names_and_printed_text_is_shown_as_text(page: Any, live: str) -> None:
    # Names in a program are identifiers, so the answer is made up here: every value the page
    # shows holds markup.
    answer = {
        "tensors": {MARKUP: {"shape": [1], "datatype": "FP32", "data": [1.0], "requires_grad": True,
                             "is_leaf": False, "retains_grad": False, "grad_fn": "n0",
                             "grad": None}},
        "values": {IMG: "torch.float32"},
        "graph": {"n0": {"name": MARKUP, "next": [["n1", 0]], "saved": [[1]]},
                  "n1": {"name": "AccumulateGrad", "next": [], "variable": IMG, "shape": [1]}},
        "printed": [MARKUP, IMG],
        "stats": {"steps": 1, "loop_iterations": 0, "elapsed_s": 0.0, "peak_alive_elements": 1,
                  "allocated_elements": 1, "backend": "numpy", "device": "cpu"},
    }
    page.route("**/v1/run", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(answer)))
    open_playground(page, live)
    page.click("#run")
    assert wait_graph(page) == "rendered"
    assert page.inner_text("#printed") == f"{MARKUP}\n{IMG}"
    assert page.inner_text("#tensors tr >> nth=1 >> td >> nth=0") == MARKUP
    assert any(n.startswith(MARKUP) for n in graph_texts(page))
    assert any(IMG in n for n in graph_texts(page))
    # hovering a node shows its saved tensors' shapes (Graphviz's tooltip: the link's title)
    titles = page.eval_on_selector_all(
        "#graph g.node a", "as => as.map(a => a.getAttributeNS('http://www.w3.org/1999/xlink', "
        "'title') || a.getAttribute('title'))")
    assert any(t and t.endswith("saved tensors: [1]") for t in titles), titles
    assert page.evaluate("document.querySelectorAll('main script, main img').length") == 0
    assert page.evaluate("window.__xss") is None
    # and a real problem whose message repeats what the program said
    page.unroute("**/v1/run")
    bad = json.dumps({"program": [{"name": "a", "op": MARKUP, "args": []}]})
    page.goto(f"{live}/playground{share_fragment(bad)}")
    page.wait_for_selector("#problems .problem")
    assert MARKUP in page.inner_text("#problems")
    assert page.evaluate("document.querySelectorAll('main script, main img').length") == 0
    assert page.evaluate("window.__xss") is None


def test_api_key_is_asked_for_and_sent(page: Any) -> None:
    with server(GRADSERVE_API_KEYS="play-key-1") as url:
        sent: list[str | None] = []
        page.on("request", lambda r: sent.append(r.headers.get("authorization"))
                if r.url.endswith("/v1/run") else None)
        open_playground(page, url)  # the page and its examples need no key
        page.click("#run")
        page.wait_for_selector("#key-form:not([hidden])")
        assert "needs an API key" in page.inner_text("#status")
        page.fill("#api-key", "play-key-1")
        page.click("#key-form button")
        assert wait_graph(page) == "rendered"
        assert sent == [None, "Bearer play-key-1"]


def run_source(page: Any, live: str, code: str) -> None:
    """Open the playground, type ``code`` in source mode and press Run."""
    open_playground(page, live)
    page.check("#format-source")
    page.click(".cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.type(code)
    page.click("#run")


def test_source_toggle_posts_source(page: Any, live: str) -> None:
    posted: list[Any] = []
    page.on("request", lambda r: posted.append(r.post_data_json) if r.url.endswith("/v1/run")
            else None)
    run_source(page, live, "x = torch.ones(2, requires_grad=True)\n")
    page.wait_for_selector("#status.ok, #status.error")
    assert posted == [{"source": "x = torch.ones(2, requires_grad=True)\n"}]


def test_a_source_example_runs_and_prints_what_torch_prints(page: Any, live: str) -> None:
    """The menu's `.py` examples load in source mode; the page posts their code as `source`."""
    code = (ROOT / "examples" / "gentle_intro.py").read_text()
    expected = answer_of(live, json.dumps({"source": code}))
    open_playground(page, live)
    page.select_option("#examples", "gentle_intro.py")
    assert page.is_checked("#format-source")
    page.click("#run")
    assert wait_graph(page) == "rendered"
    assert page.inner_text("#printed") == "\n".join(expected["printed"])
    assert "tensor([True, True])" in page.inner_text("#printed")
    first_lines = {n.split("\n")[0] for n in graph_texts(page)}
    assert {"SubBackward0", "MulBackward0", "PowBackward0", "AccumulateGrad"} <= first_lines


def test_a_source_problem_is_shown_at_its_line(page: Any, live: str) -> None:
    run_source(page, live, "import torch\nx = torch.ones(2)\ny = x + torch.ones(3)\n")
    page.wait_for_selector("#problems .problem")
    problem = page.inner_text("#problems")
    assert "The size of tensor a (2) must match the size of tensor b (3) at non-singleton " \
        "dimension 0" in problem
    assert "line 3" in problem or "3:" in problem, problem
    assert "y = x + torch.ones(3)" in page.inner_text(".cm-problem-line")
