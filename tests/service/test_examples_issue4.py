"""Issue 4 over HTTP: examples/mlp_cross_entropy.json and examples/hessian_vector_product.json
with their answers checked (against the engine run directly, torch's numbers and values worked
out by hand), the layer attrs that take names (conv's padding "same", norm's p "inf"), and the
contract and README covering the functional steps and the detector."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import engine as ge
from engine import functional
from tests.service.helpers import ROOT, ok, post, problem

pytestmark = pytest.mark.anyio

EXAMPLES = ROOT / "examples"
MLP = json.loads((ROOT / "tests" / "golden" / "nn_mlp.json").read_text())
F = ge.ops


def load(name: str) -> dict[str, Any]:
    program: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return program


def host(t: ge.Tensor | None) -> np.ndarray:
    assert t is not None
    return np.asarray(t.detach().numpy())


def data(entry: dict[str, Any]) -> np.ndarray:
    return np.array(entry["data"], dtype=np.float64).reshape(entry["shape"])


# ----- examples/mlp_cross_entropy.json -----------------------------------------------------------
async def test_mlp_cross_entropy_example(client: httpx.AsyncClient) -> None:
    answer = await ok(client, **load("mlp_cross_entropy.json"))
    t = answer["tensors"]
    assert set(t) == {"loss", "w1", "b1", "w2", "b2"}
    assert answer["graph"][t["loss"]["grad_fn"]]["name"] == "NllLossBackward0"

    # the same network run on the engine directly
    d = MLP["data"]
    params = {k: ge.tensor(d[k], requires_grad=True) for k in ("w1", "b1", "w2", "b2")}
    x, y = ge.tensor(d["x"]), ge.tensor(d["y"])
    hidden = F.gelu(F.linear(x, params["w1"], params["b1"]))
    loss = F.cross_entropy(F.linear(hidden, params["w2"], params["b2"]), y)
    loss.backward()
    assert answer["printed"] == [repr(loss)]
    np.testing.assert_allclose(t["loss"]["data"], [loss.item()], rtol=1e-7)
    for k, p in params.items():
        assert t[k]["grad"]["shape"] == list(p.shape)
        np.testing.assert_allclose(data(t[k]["grad"]), host(p.grad), rtol=1e-6, atol=1e-8,
                                   err_msg=k)

    # and torch's numbers for the same first step (tests/golden/nn_mlp.json)
    want = MLP["runs"]["float32"][0]
    np.testing.assert_allclose(t["loss"]["data"], [want["loss"]], rtol=1e-5)
    for k in params:
        np.testing.assert_allclose(t[k]["grad"]["data"], want["grads"][k], rtol=1e-5, atol=1e-6,
                                   err_msg=k)


# ----- examples/hessian_vector_product.json ------------------------------------------------------
def rosenbrock(p: ge.Tensor) -> ge.Tensor:
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


async def test_hessian_vector_product_example(client: httpx.AsyncClient) -> None:
    answer = await ok(client, **load("hessian_vector_product.json"))
    t = answer["tensors"]
    # by hand: f = (1 - x)^2 + 100 (y - x^2)^2 at (1, 2) is 100; its Hessian is
    # [[2 - 400 (y - x^2) + 1200 x^2 - 400 x^2, -400 x], [-400 x, 200]] = [[402, -400], [-400, 200]]
    # and H [1, 1] = [2, -200]
    assert t["value"]["data"] == [100.0] and t["value"]["shape"] == []
    assert t["hvp"]["data"] == [2.0, -200.0]
    assert t["hessian"]["data"] == [402.0, -400.0, -400.0, 200.0]
    assert t["hessian"]["shape"] == [2, 2]
    assert answer["printed"] == ["tensor([   2., -200.])",
                                 "tensor([[ 402., -400.],\n        [-400.,  200.]])"]
    # the engine's torch.autograd.functional, which runs the function again, agrees
    p = ge.tensor([1.0, 2.0])
    value, hv = functional.hvp(rosenbrock, p, ge.tensor([1.0, 1.0]))
    assert t["value"]["data"] == [value.item()] and t["hvp"]["data"] == hv.tolist()
    assert t["hessian"]["data"] == host(functional.hessian(rosenbrock, p)).reshape(-1).tolist()


# ----- attrs that take names over HTTP --------------------------------------------------------------
CONV_X = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5) / 10
CONV_W = np.linspace(-1, 1, 18, dtype=np.float32).reshape(2, 1, 3, 3)


@pytest.mark.parametrize("padding", ["same", "valid", 1, [1, 0]])
async def test_conv2d_padding_by_name(client: httpx.AsyncClient, padding: Any) -> None:
    body = await ok(client, [
        {"name": "x", "op": "tensor", "args": [CONV_X.tolist()], "attrs": {"requires_grad": True}},
        {"name": "w", "op": "tensor", "args": [CONV_W.tolist()], "attrs": {"requires_grad": True}},
        {"name": "y", "op": "conv2d", "args": ["x", "w"], "attrs": {"padding": padding}},
        {"op": "backward", "args": [{"op": "sum", "args": [{"op": "mul", "args": ["y", "y"]}]}]},
    ])
    x, w = ge.tensor(CONV_X.tolist(), requires_grad=True), ge.tensor(CONV_W.tolist(),
                                                                      requires_grad=True)
    y = F.conv2d(x, w, padding=padding)
    (y * y).sum().backward()
    t = body["tensors"]
    assert t["y"]["shape"] == list(y.shape)
    if padding == "same":
        assert t["y"]["shape"] == [1, 2, 5, 5]
    elif padding == "valid":
        assert t["y"]["shape"] == [1, 2, 3, 3]
    assert body["graph"][t["y"]["grad_fn"]]["name"] == "ConvolutionBackward0"
    np.testing.assert_allclose(data(t["y"]), host(y), rtol=1e-6)
    np.testing.assert_allclose(data(t["x"]["grad"]), host(x.grad), rtol=1e-6)
    np.testing.assert_allclose(data(t["w"]["grad"]), host(w.grad), rtol=1e-6)


async def test_conv_padding_refuses_other_names(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"op": "conv1d", "args": [[[[1.0, 2.0]]], [[[1.0]]]],
                             "attrs": {"padding": "full"}}])
    problem(r, "invalid-program", 422, "/program/0/attrs/padding")
    r = await post(client, [{"op": "conv2d", "args": [CONV_X.tolist(), CONV_W.tolist()],
                             "attrs": {"padding": "same", "stride": 2}}])
    assert "padding='same' is not supported for strided convolutions" in \
        problem(r, "argument-error", 422, "/program/0")["detail"]


@pytest.mark.parametrize(("p", "want", "grad"), [
    ("inf", 4.0, [0.0, -1.0, 0.0]), ("Infinity", 4.0, [0.0, -1.0, 0.0]),
    ("-inf", 1.0, [1.0, 0.0, 0.0]), ("-Infinity", 1.0, [1.0, 0.0, 0.0]),
    ("fro", 26**0.5, [1 / 26**0.5, -4 / 26**0.5, 3 / 26**0.5]),
])
async def test_norm_with_an_infinite_p(client: httpx.AsyncClient, p: str, want: float,
                                       grad: list[float]) -> None:
    body = await ok(client, [
        {"name": "x", "op": "tensor", "args": [[1.0, -4.0, 3.0]], "attrs": {"dtype": "float64",
                                                                             "requires_grad": True}},
        {"name": "n", "op": "norm", "args": ["x"], "attrs": {"p": p}},
        {"op": "backward", "args": ["n"]},
    ])
    t = body["tensors"]
    assert t["n"]["data"] == [pytest.approx(want)]
    assert body["graph"][t["n"]["grad_fn"]]["name"] == "LinalgVectorNormBackward0"
    np.testing.assert_allclose(t["x"]["grad"]["data"], grad, rtol=1e-12)


async def test_norm_refuses_other_names(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"op": "norm", "args": [[1.0]], "attrs": {"p": "nuc"}}])
    problem(r, "invalid-program", 422, "/program/0/attrs/p")


# ----- contract and README ------------------------------------------------------------------------
FUNCTIONAL = ("jacobian", "hessian", "vjp", "jvp", "hvp", "vhp", "zero_grad")


def test_the_committed_contract_has_the_functional_steps_and_the_report() -> None:
    doc = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    schemas = doc["components"]["schemas"]
    mapping = schemas["Call"]["discriminator"]["mapping"]
    for name in FUNCTIONAL:
        model = schemas[mapping[name].rsplit("/", 1)[1]]
        assert model["properties"]["op"]["const"] == name
    assert "AnomalyReport" in schemas and "TensorStats" in schemas


def test_the_readme_documents_the_functional_steps_and_the_detector() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in (*FUNCTIONAL, "detect_anomaly", "report", "running_step", "tensor_or_tensors"):
        assert f"`{name}`" in readme, name
    for path in ("examples/mlp_cross_entropy.json", "examples/hessian_vector_product.json"):
        assert path in readme and Path(ROOT / path).exists()
    for op in ("cross_entropy", "conv2d", "einsum", "gather", "cholesky", "layer_norm"):
        assert op in readme, op


def _readme_json(section: str) -> list[Any]:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(section)
    end = readme.index("\n### ", start + len(section))
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)```", readme[start:end], re.S)]


async def test_the_readmes_detector_example_is_what_the_service_answers(
        client: httpx.AsyncClient) -> None:
    request, answer = _readme_json("### The NaN and infinity detector")
    r = await client.post("/v1/run", json=request)
    assert r.status_code == 422 and r.json() == answer


async def test_the_readmes_functional_example_answers_as_it_says(
        client: httpx.AsyncClient) -> None:
    (program,) = _readme_json("### Jacobians, Hessians and their products")
    t = (await ok(client, **program))["tensors"]
    assert t["H"]["data"] == [6.0, 0.0, 0.0, 12.0] and t["value"]["data"] == [9.0]
    assert t["Hv"]["data"] == [6.0, 12.0] and t["J"]["data"] == [4.0, 0.0, 0.0, 4.0]
    setup = [{"name": "x", "op": "tensor", "args": [[[1.0, 2.0], [3.0, 4.0]]]},
             {"name": "target", "op": "tensor", "args": [[[1.0], [0.0]]]},
             {"name": "w", "op": "tensor", "args": [[[0.1, 0.2]]], "attrs": {"requires_grad": True}},
             {"name": "b", "op": "tensor", "args": [[0.0]], "attrs": {"requires_grad": True}},
             {"name": "step", "op": "tensor", "args": [0]}]
    # the SGD loop of the in-place section: sub_ under no_grad, zero_grad(set_to_none=false)
    (loop,) = _readme_json("### In-place ops, views and assignment")
    body = await ok(client, [*setup, loop])
    losses = [float(line.removeprefix("tensor(").split(",")[0]) for line in body["printed"]]
    assert len(losses) == 50 and all(a > b for a, b in zip(losses, losses[1:], strict=False))
    assert all(line.endswith("grad_fn=<MseLossBackward0>)") for line in body["printed"])
    w = body["tensors"]["w"]
    assert w["is_leaf"] and w["requires_grad"] and w["grad"]["data"] == [0.0, 0.0]
