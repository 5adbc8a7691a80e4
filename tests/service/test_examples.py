"""examples/: the seed tutorial as one program (its printed lines byte for byte against the
tutorial's own output), the curl scripts and the Node.js client, run against the live server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.service.helpers import ROOT, ok

EXAMPLES = ROOT / "examples"
# The tutorial this service reproduces (a copy of shared/seeds/000_eff2ce969a33bef5.txt).
SEED = (Path(__file__).parent / "data" / "seed_tutorial.txt").read_text()
# torch prints a node's address; gradserve does not ("<AddBackward0 object>").
SEED_NO_ADDRESSES = re.sub(r" at 0x[0-9A-Fa-f]+>", ">", SEED)

# The tutorial's printed blocks, as indices into our ``printed``: each block's lines must appear
# in the tutorial, in this order, as one output block (blank lines around it). Entry 8 is
# print(y) of random values, compared by form only.
BLOCKS = [[0], [1], [2], [3], [4, 5, 6], [7], [9], [10, 11, 12]]
RANDOM_ENTRY = 8


@pytest.mark.anyio
@pytest.mark.parametrize("form", ["program", "source"])
async def test_seed_tutorial_prints_what_torch_printed(client: httpx.AsyncClient, form: str
                                                       ) -> None:
    """The tutorial as one JSON program, and its own code cells concatenated verbatim
    (examples/seed_tutorial.py, the %matplotlib line and the tab-indented block as they are)."""
    if form == "program":
        answer = await ok(client, **json.loads((EXAMPLES / "seed_tutorial.json").read_text()))
    else:
        source = (EXAMPLES / "seed_tutorial.py").read_text()
        for cell in source.split("\n\n"):  # every cell is the tutorial's own text
            assert cell.strip() in SEED, cell
        r = await client.post("/v1/run", json={"source": source, "seed": 2})
        assert r.status_code == 200, r.text
        answer = r.json()
    printed = answer["printed"]
    assert len(printed) == 13
    position = 0
    for block in BLOCKS:
        text = "\n".join(printed[i] for i in block)
        found = SEED_NO_ADDRESSES.find(f"\n\n{text}\n\n", position)
        assert found >= 0, f"not in the tutorial (in order): {text!r}"
        position = found + len(text)
    assert re.fullmatch(r"tensor\(\[[-0-9., e+]+\], grad_fn=<MulBackward0>\)", printed[RANDOM_ENTRY])
    # the lines checked above include the tutorial's own x.grad line
    assert "tensor([5.1200e+01, 5.1200e+02, 5.1200e-02])" in printed

    # The vector-Jacobian product, numerically: y = 2^k x, so x.grad = 2^k v.
    k = answer["stats"]["loop_iterations"] + 1
    t = answer["tensors"]
    x = np.array(t["x"]["data"], dtype=np.float32)
    v = np.array(t["gradients"]["data"], dtype=np.float32)
    np.testing.assert_allclose(np.array(t["y"]["data"]), x * 2.0**k, rtol=1e-6)
    np.testing.assert_allclose(np.array(t["x"]["grad"]["data"]), v * 2.0**k, rtol=1e-6)
    assert np.linalg.norm(t["y"]["data"]) >= 1000 > np.linalg.norm(x * 2.0 ** (k - 1))
    # out = mean(3 (x+2)^2) at ones: 27, and its grad_fn chain down to x's AccumulateGrad
    assert t["out"]["data"] == [27.0]
    graph = answer["graph"]
    assert graph[t["out"]["grad_fn"]]["name"] == "MeanBackward0"


def _run(cmd: list[str], url: str) -> str:
    r = subprocess.run(cmd, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "GRADSERVE_URL": url},
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def _json(out: str) -> dict[str, Any]:
    return json.loads(out)  # type: ignore[no-any-return]


def test_curl_scripts(live_url: str) -> None:
    assert shutil.which("curl"), "the curl examples need curl (Debian: apt-get install curl)"
    tutorial = _json(_run(["bash", "examples/curl/run_tutorial.sh"], live_url))
    assert tutorial["printed"][0] == "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)"
    source = _json(_run(["bash", "examples/curl/source_tutorial.sh"], live_url))
    assert source["printed"] == tutorial["printed"]
    quick = _json(_run(["bash", "examples/curl/quickstart.sh"], live_url))
    assert quick["printed"] == ["tensor(27., grad_fn=<MeanBackward0>)",
                                "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])"]
    nonfinite = _json(_run(["bash", "examples/curl/nonfinite.sh"], live_url))
    assert nonfinite["tensors"]["y"]["data"] == ["NaN", "Infinity", "Infinity"]
    assert nonfinite["tensors"]["x"]["grad"]["data"] == ["Infinity", 0.5, 0.0]
    prob = _json(_run(["bash", "examples/curl/problem.sh"], live_url))
    assert prob["type"].endswith("/shape-error") and prob["pointer"] == "/program/1"
    first, info, ops = _run(["bash", "examples/curl/catalog.sh"], live_url).splitlines()[:3]
    assert _json(first)["status"] == "ready" and "limits" in _json(info)
    assert ops.startswith('{"ops":[')


def test_node_client(live_url: str) -> None:
    node = shutil.which("node")
    assert node is not None, "the JavaScript client example needs Node.js (18 or newer, for fetch)"
    # it imports the TypeScript client's committed build (clients/typescript/dist), nothing else
    out = _run([node, "examples/client.mjs"], live_url)
    assert "tensor([5.1200e+01, 5.1200e+02, 5.1200e-02])" in out
    assert "x.grad = [51.2, 512, 0.0512]" in out  # float32 data as its shortest decimal
    assert "problem: https://gradserve.dev/problems/shape-error at /program/0/print" in out
    assert "base64: [3, NaN, -Infinity, 4]" in out
    # the integer trap: JSON.stringify writes [2.0, 3.0] as [2,3] (an int64 literal, refused by
    # requires_grad with torch's message and the hint); the shipped f32 helper sends float32
    assert "JSON.stringify([2.0, 3.0]) = [2,3]" in out
    assert "as a literal: Only Tensors of floating point and complex dtype can require " \
        "gradients. Numbers without a decimal point are read as int64" in out
    assert "with f32: w = [2, 3], FP32, w.grad = [4, 6]" in out
